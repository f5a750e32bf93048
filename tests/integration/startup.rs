//! Starting up: configuration checked before binding, Logto allowed to be down, cookies set
//! as the contract says.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::app::{Adapter, AppOptions, TestApp, cookie_pair, session_set_cookie, set_cookies, text_at};
use logto_test_provider::FailMode;

/// Runs the binary with only these variables (and PATH); it must stop. Its standard error.
fn refused_with(vars: &[(&str, &str)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_logto-actix"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn bad_configuration_stops_the_app_with_one_line_per_problem() {
    let stderr = refused_with(&[
        ("LOGTO_ENDPOINT", "ftp://logto.example"),
        ("PORT", "not-a-port"),
        ("SESSION_SECRET", "too-short"),
    ]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{stderr}");
    for variable in [
        "LOGTO_ENDPOINT",
        "LOGTO_APP_ID",
        "LOGTO_APP_SECRET",
        "PORT",
        "SESSION_SECRET",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("configuration error: {variable}:"))),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

for_each_adapter!(with_logto_unreachable_the_app_serves_pages_and_answers_sign_in_with_502);
async fn with_logto_unreachable_the_app_serves_pages_and_answers_sign_in_with_502(adapter: Adapter) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        logto_endpoint: Some(endpoint),
        ..Default::default()
    })
    .await;

    assert_eq!(app.get("/healthz").await.text().await.unwrap(), "ok");
    assert!(app.page("/").await.contains("Continue with Hugging Face"));
    let response = app.get("/sign-in").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains("not answering"));
}

for_each_adapter!(sign_in_recovers_without_a_restart_once_logto_answers_again);
async fn sign_in_recovers_without_a_restart_once_logto_answers_again(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let discovery = "/oidc/.well-known/openid-configuration";
    app.provider.fail(discovery, FailMode::Status500, Some(2)).await;
    assert_eq!(app.get("/sign-in").await.status(), StatusCode::BAD_GATEWAY);
    // A failed discovery is answered for a moment without asking Logto again.
    let retry = logto_client::LogtoClient::RETRY_AFTER_FAILURE + std::time::Duration::from_millis(300);
    tokio::time::sleep(retry).await;
    assert_eq!(app.get("/sign-up").await.status(), StatusCode::BAD_GATEWAY);
    tokio::time::sleep(retry).await;
    assert_eq!(app.get("/sign-in").await.status(), StatusCode::SEE_OTHER);
    app.sign_in_as_demo().await;
    // Discovery is cached once it succeeded.
    app.sign_in_as_demo().await;
    assert_eq!(app.provider.stats().await.requests.get(discovery).copied(), Some(3));
}

for_each_adapter!(the_session_cookie_is_private_lax_httponly_and_small);
async fn the_session_cookie_is_private_lax_httponly_and_small(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let response = app.get("/sign-in").await;
    let cookie = session_set_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http base URL");
    // Encrypted: nothing of the pending sign-in is readable.
    assert!(!cookie.contains("pkce") && !cookie.contains("nonce"));

    let callback = app.authorize("/sign-in", crate::helpers::app::DEMO).await;
    let response = app.get_url(&callback).await;
    let cookie = session_set_cookie(&response).unwrap();
    let name_value = cookie_pair(&cookie);
    assert!(name_value.len() <= 4096, "cookie of {} bytes", name_value.len());
    assert!(!cookie.contains("Demo"), "encrypted content");
}

for_each_adapter!(behind_https_the_cookie_is_secure_and_host_prefixed);
async fn behind_https_the_cookie_is_secure_and_host_prefixed(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        https: true,
        ..Default::default()
    })
    .await;
    let response = app.get("/sign-in").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("__Host-logto-session="))
        .expect("__Host- cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain="),
        "{cookie}"
    );
}

for_each_adapter!(every_page_carries_the_security_headers);
async fn every_page_carries_the_security_headers(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    for path in ["/", "/healthz", "/no-such-page", "/callback", "/sign-in"] {
        assert_security_headers(path, &app.get(path).await);
    }
    // Pages with personal data, and a refused callback whose URL held a code.
    app.sign_in_as_demo().await;
    for path in ["/", "/profile", "/sign-out", "/callback?code=c&state=s"] {
        assert_security_headers(path, &app.get(path).await);
    }
    // Over http (loopback only), no HSTS: it would mean nothing there.
    let home = app.get("/").await;
    assert!(home.headers().get("strict-transport-security").is_none());
}

for_each_adapter!(behind_https_every_response_carries_hsts);
async fn behind_https_every_response_carries_hsts(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        https: true,
        ..Default::default()
    })
    .await;
    let sign_in = app.get("/sign-in").await;
    let mut responses = vec![("/sign-in".to_owned(), sign_in)];
    for path in [
        "/",
        "/healthz",
        "/no-such-page",
        "/callback",
        "/callback?code=c&state=s",
        "/static/app.css",
    ] {
        responses.push((path.to_owned(), app.get(path).await));
    }
    let post = app
        .http
        .post(app.url("/backchannel-logout"))
        .body("logout_token=x")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    responses.push(("POST /backchannel-logout".to_owned(), post));
    for (path, response) in responses {
        let hsts = response
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            hsts.as_deref(),
            Some("max-age=31536000"),
            "{path} ({})",
            response.status()
        );
        assert_eq!(
            response.headers().get("x-frame-options").map(|v| v.to_str().unwrap()),
            Some("DENY"),
            "{path}"
        );
    }
}

/// No script may run, no site may frame the page, nothing is sniffed, the URL (a callback's code)
/// is never sent on as a referrer, and no cache keeps the page.
fn assert_security_headers(path: &str, response: &reqwest::Response) {
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let csp = header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'") && csp.contains("base-uri 'none'"),
        "{path}: {csp}"
    );
    assert!(
        !csp.contains("script-src") && !csp.contains("'unsafe-"),
        "{path}: {csp}"
    );
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
    // For browsers that predate `frame-ancestors`.
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{path}");
    assert_eq!(header("cache-control").as_deref(), Some("no-store"), "{path}");
}

/// The README's run command, as a new operator follows it: copy `.env.example` to `.env`, fill in
/// the three required values, start the binary with nothing of the app's in the environment, sign in.
/// It listens where the shipped file says (localhost:3000), so port 3000 must be free.
#[tokio::test]
async fn the_shipped_env_example_filled_in_runs_the_app_and_signs_in() {
    use logto_test_provider::{TestClient, TestProvider, complete_authorization, http_client};

    let provider = TestProvider::start().await;
    let client = TestClient {
        client_id: "env-example-app".into(),
        client_secret: "env-example-secret-0123456789".into(),
        redirect_uris: vec!["http://localhost:3000/callback".into()],
        post_logout_redirect_uris: vec!["http://localhost:3000/".into()],
        backchannel_logout_uri: None,
    };
    provider.register_client(&client).await;

    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let mut filled = 0;
    let env_file: String = example
        .lines()
        .map(|line| {
            let value = match line.split_once('=').map(|(name, _)| name) {
                Some("LOGTO_ENDPOINT") => provider.endpoint(),
                Some("LOGTO_APP_ID") => client.client_id.clone(),
                Some("LOGTO_APP_SECRET") => client.client_secret.clone(),
                _ => return format!("{line}\n"),
            };
            filled += 1;
            format!("{}={value}\n", line.split_once('=').unwrap().0)
        })
        .collect();
    assert_eq!(filled, 3, ".env.example has one line for each required variable");
    let dir = std::env::temp_dir().join(format!("logto-env-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), env_file).unwrap();

    let mut app = tokio::process::Command::new(env!("CARGO_BIN_EXE_logto-actix"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let http = http_client();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(Some(status)) = app.try_wait() {
            let mut stderr = String::new();
            tokio::io::AsyncReadExt::read_to_string(app.stderr.as_mut().unwrap(), &mut stderr)
                .await
                .unwrap();
            panic!("the app stopped ({status}) with .env from .env.example:\n{stderr}");
        }
        if http
            .get("http://localhost:3000/healthz")
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "the app listens on localhost:3000 (is the port free?)");

    let start = http.get("http://localhost:3000/sign-in").send().await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = crate::helpers::app::location(&start);
    let callback = complete_authorization(&http, &authorize, crate::helpers::app::DEMO).await;
    assert_eq!(
        callback.as_str().split('?').next(),
        Some("http://localhost:3000/callback")
    );
    let finished = http.get(callback).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    let home = text_at(&http, "http://localhost:3000/").await;
    assert!(home.contains("Demo User"), "signed in: {home}");

    app.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Operators uncomment the examples in `.env.example`: with every one of them uncommented, the
/// file still parses and the configuration is valid.
#[test]
fn every_line_of_env_example_parses_with_its_examples_uncommented() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let mut uncommented = 0;
    let text: String = example
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once('=').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                }) =>
            {
                uncommented += 1;
                format!("{rest}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect();
    assert!(uncommented >= 5, "the commented examples were found");
    let mut vars = std::collections::HashMap::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (name, value) = item.unwrap_or_else(|e| panic!("{e}\n{text}"));
        vars.insert(name, value);
    }
    vars.insert("LOGTO_APP_ID".into(), "app".into());
    vars.insert("LOGTO_APP_SECRET".into(), "secret".into());
    let config = logto_actix::config::Config::from_lookup(|name| vars.get(name).cloned());
    assert!(config.is_ok(), "{:?}", config.err());
}

#[test]
fn plain_http_to_a_host_other_than_this_machine_stops_the_app() {
    let stderr = refused_with(&[
        ("LOGTO_ENDPOINT", "http://logto.example.test"),
        ("APP_BASE_URL", "http://app.example.test"),
        ("LOGTO_APP_ID", "app"),
        ("LOGTO_APP_SECRET", "secret"),
    ]);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("configuration error: LOGTO_ENDPOINT:") && lines[0].contains("https"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("configuration error: APP_BASE_URL:") && lines[1].contains("https"),
        "{stderr}"
    );
}
