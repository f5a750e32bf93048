//! The app as operators run it (the binary, configured by environment variables): no token, code
//! or secret reaches a log line at `RUST_LOG=trace`, a URL the app builds, or a page; and the
//! timeout of calls to Logto follows `LOGTO_HTTP_TIMEOUT_SECS`.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::app::{DEMO, hidden_input, location};
use logto_test_provider::{
    FailMode, ForgedIdToken, TestClient, TestProvider, complete_authorization, complete_end_session, http_client,
};

const SESSION_SECRET: &str = "binary-session-secret-a1b2c3d4e5f6a7b8c9d0-a1b2c3d4e5f6a7b8c9d0-a1b2c3d4e5f6";

/// The app binary running as a child process, its stdout and stderr captured in one file.
struct RunningApp {
    child: Child,
    address: String,
    log_path: PathBuf,
    client_secret: String,
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

impl RunningApp {
    /// Registers a client at `provider` and starts the binary against it with `extra_env`.
    async fn start(provider: &TestProvider, extra_env: &[(&str, &str)]) -> RunningApp {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let address = format!("http://127.0.0.1:{port}");
        let client_id = format!("binary-app-{port}");
        let client_secret = format!("binary-app-secret-{port}-f00dfeedcafe");
        provider
            .register_client(&TestClient {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                redirect_uris: vec![format!("{address}/callback")],
                post_logout_redirect_uris: vec![format!("{address}/")],
                backchannel_logout_uri: None,
            })
            .await;

        let log_path = std::env::temp_dir().join(format!("logto-actix-binary-{port}.log"));
        let log = File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_logto-actix"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LOGTO_ENDPOINT", provider.endpoint())
            .env("LOGTO_APP_ID", &client_id)
            .env("LOGTO_APP_SECRET", &client_secret)
            .env("APP_BASE_URL", &address)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("SESSION_SECRET", SESSION_SECRET)
            .envs(extra_env.iter().copied())
            // No `.env` file to pick up there.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        let app = RunningApp {
            child,
            address,
            log_path,
            client_secret,
        };
        app.wait_until_serving().await;
        app
    }

    async fn wait_until_serving(&self) {
        let probe = reqwest::Client::new();
        for _ in 0..300 {
            if let Ok(response) = probe.get(self.url("/healthz")).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the binary did not serve /healthz within 30 s:\n{}", self.log());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }
}

/// Everything the app showed the browser: pages and the targets of its redirects.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn get(&mut self, http: &reqwest::Client, url: &str) -> reqwest::Response {
        let response = http.get(url).send().await.unwrap();
        self.note_location(&response);
        response
    }

    fn note_location(&mut self, response: &reqwest::Response) {
        if response.status().is_redirection() {
            self.0.push(location(response));
        }
    }

    async fn page(&mut self, http: &reqwest::Client, url: &str) -> String {
        let body = self.get(http, url).await.text().await.unwrap();
        self.0.push(body.clone());
        body
    }
}

/// Checks that no secret occurs in `text`, naming the place and the line without printing the secret.
fn assert_no_secret_in(place: &str, text: &str, secrets: &[(String, String)]) {
    for (kind, secret) in secrets {
        if let Some(line) = text.lines().find(|line| line.contains(secret.as_str())) {
            panic!(
                "the {kind} appears in {place}: {}",
                line.replace(secret.as_str(), "[THE SECRET]")
            );
        }
    }
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_a_log_line_a_url_or_a_page_even_at_trace_level() {
    let provider = TestProvider::start().await;
    let app = RunningApp::start(&provider, &[("RUST_LOG", "trace")]).await;
    let http = http_client();
    let mut seen = Seen::default();

    // A whole sign-in, every page, and a sign-out.
    let authorize = location(&seen.get(&http, &app.url("/sign-in?return_to=%2Fprofile")).await);
    let callback = complete_authorization(&http, &authorize, DEMO).await;
    let response = seen.get(&http, callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    for path in ["/", "/profile", "/sign-out"] {
        seen.page(&http, &app.url(path)).await;
    }
    let sign_out_page = seen.page(&http, &app.url("/sign-out")).await;
    let csrf = hidden_input(&sign_out_page, "csrf_token").expect("a CSRF token");
    let response = http
        .post(app.url("/sign-out"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // The one secret a redirect carries, as the contract says: the ID token as end-session's
    // `id_token_hint`, to the browser only. The rest of that URL is checked like every other.
    let end_session = location(&response);
    let mut without_hint = url::Url::parse(&end_session).unwrap();
    let kept: Vec<(String, String)> = without_hint
        .query_pairs()
        .filter(|(name, _)| name != "id_token_hint")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    without_hint.query_pairs_mut().clear().extend_pairs(kept);
    assert_ne!(without_hint.as_str(), end_session, "sign-out sends id_token_hint");
    seen.0.push(without_hint.to_string());
    complete_end_session(&http, &end_session).await;

    // Failures log their causes: those lines must not quote what they refuse.
    let callback = complete_authorization(&http, &location(&seen.get(&http, &app.url("/sign-in")).await), DEMO).await;
    provider
        .forge_next_id_token(&ForgedIdToken::with_claims(serde_json::json!({ "nonce": "forged" })))
        .await;
    assert_eq!(
        seen.get(&http, callback.as_str()).await.status(),
        StatusCode::BAD_GATEWAY
    );
    let callback = complete_authorization(&http, &location(&seen.get(&http, &app.url("/sign-in")).await), DEMO).await;
    provider.fail("/oidc/token", FailMode::ErrorJson, Some(1)).await;
    assert_eq!(
        seen.get(&http, callback.as_str()).await.status(),
        StatusCode::BAD_GATEWAY
    );
    // A replayed callback carries a code: it must not be logged either.
    seen.get(&http, callback.as_str()).await;

    let mut secrets: Vec<(String, String)> = provider
        .issued_secrets()
        .await
        .into_iter()
        .map(|value| ("token, code or PKCE verifier issued by Logto".to_owned(), value))
        .collect();
    assert!(
        secrets.len() >= 5,
        "the provider recorded the code, verifier and tokens of the sign-in"
    );
    secrets.push(("client secret".into(), app.client_secret.clone()));
    secrets.push(("session secret".into(), SESSION_SECRET.into()));

    let log = app.log();
    assert!(
        log.contains("signed in: user user-demo"),
        "the log was captured:\n{log}"
    );
    assert!(log.contains("TRACE"), "RUST_LOG=trace took effect");
    assert_no_secret_in("the log", &log, &secrets);
    for (i, text) in seen.0.iter().enumerate() {
        assert_no_secret_in(&format!("page or redirect #{i}"), text, &secrets);
    }
}

#[tokio::test]
async fn logto_http_timeout_secs_bounds_a_hanging_call_while_other_pages_still_serve() {
    let provider = TestProvider::start().await;
    // Well under the 10 s default, so only the variable can make the callback answer in time.
    let app = RunningApp::start(&provider, &[("LOGTO_HTTP_TIMEOUT_SECS", "1")]).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap();
    let authorize = location(&browser.get(app.url("/sign-in")).send().await.unwrap());
    let callback = complete_authorization(&browser, &authorize, DEMO).await;

    provider.fail("/oidc/token", FailMode::Hang, Some(1)).await;
    let (hung, health) = tokio::join!(browser.get(callback.as_str()).send(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        reqwest::get(app.url("/healthz")).await
    });
    assert_eq!(health.unwrap().status(), StatusCode::OK, "served while a call hangs");
    let hung = hung.expect("the app answers before the browser gives up (8 s)");
    assert_eq!(hung.status(), StatusCode::BAD_GATEWAY);
}

/// Every line of a log, split wherever a log reader might see a line break.
fn log_lines(log: &str) -> Vec<&str> {
    log.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{b}', '\u{c}'])
        .collect()
}

#[tokio::test]
async fn no_value_from_a_request_can_start_a_log_line() {
    let provider = TestProvider::start().await;
    let app = RunningApp::start(&provider, &[("RUST_LOG", "info")]).await;
    let http = http_client();
    // A callback for a sign-in this browser started, so its `error` reaches the log.
    let authorize = location(&http.get(app.url("/sign-in")).send().await.unwrap());
    let state = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let forged = "x\nforged-line\r\nforged-line\u{85}forged-line\u{2028}forged-line\u{1b}[2Kforged-line";
    let callback = format!(
        "/callback?state={}&iss={}&error={}&error_description={}",
        encode(&state),
        encode(&provider.issuer()),
        encode(forged),
        encode(forged)
    );
    let response = http.get(app.url(&callback)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Paths reach the access log: percent-encoded, and raw bytes the HTTP parser lets through.
    http.get(app.url("/no-such-page%0Aforged-line")).send().await.unwrap();
    raw_request(
        &app,
        b"GET /a\xe2\x80\xa8forged-line\xc2\x85forged-line HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;

    let log = app.log();
    assert!(log.contains("forged-line"), "the refusal was logged:\n{log}");
    for line in log_lines(&log) {
        assert!(
            !line.trim_start().starts_with("forged-line") && !line.contains('\u{1b}'),
            "a request started a log line: {line:?}\n{log}"
        );
    }
}

/// Sends raw bytes as an HTTP request and reads the answer, whatever it is.
async fn raw_request(app: &RunningApp, request: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
}

#[tokio::test]
async fn a_flood_of_refused_requests_writes_a_few_lines_that_count_the_rest() {
    let provider = TestProvider::start().await;
    let app = RunningApp::start(&provider, &[("RUST_LOG", "warn")]).await;
    let http = http_client();
    let flood = async |round: usize| {
        for i in 0..150 {
            let forged = http
                .get(app.url(&format!("/callback?code=c{round}-{i}&state=s{i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
            let forged = http
                .post(app.url("/backchannel-logout"))
                .form(&[("logout_token", format!("not-a-jwt-{i}"))])
                .send()
                .await
                .unwrap();
            assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
        }
    };
    flood(0).await;
    // Past the interval, the next refusal of each kind is logged with the count of those left out.
    tokio::time::sleep(logto_actix_web::logto_web::limits::FAILURE_LOG_INTERVAL + Duration::from_millis(300)).await;
    flood(1).await;

    let log = app.log();
    for kind in ["callback refused", "back-channel logout refused"] {
        let lines: Vec<&str> = log.lines().filter(|line| line.contains(kind)).collect();
        assert!(
            (2..=30).contains(&lines.len()),
            "300 refusals ({kind}) wrote {} lines:\n{log}",
            lines.len()
        );
        assert!(
            lines.iter().any(|line| line.contains("not logged")),
            "a line says how many were left out ({kind}):\n{log}"
        );
    }
}

#[tokio::test]
async fn the_log_names_the_setting_at_fault_and_the_page_does_not() {
    let provider = TestProvider::start().await;
    let http = http_client();

    // The wrong app secret: Logto answers the code exchange with `invalid_client`.
    let app = RunningApp::start(&provider, &[("LOGTO_APP_SECRET", "not-the-secret-0123456789")]).await;
    let authorize = location(&http.get(app.url("/sign-in")).send().await.unwrap());
    let callback = complete_authorization(&http, &authorize, DEMO).await;
    let response = http.get(callback.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    let log = app.log();
    let line = log
        .lines()
        .find(|line| line.contains("invalid_client"))
        .unwrap_or_else(|| panic!("a line about invalid_client:\n{log}"));
    assert!(
        line.contains("LOGTO_APP_SECRET") && line.contains("LOGTO_APP_ID"),
        "{line}"
    );
    assert!(!page.contains("LOGTO_") && !page.contains("invalid_client"), "{page}");

    // A resource Logto does not know (a trailing slash too many): Logto answers `invalid_target`.
    let app = RunningApp::start(&provider, &[("LOGTO_RESOURCES", "https://api.unregistered.example/")]).await;
    let authorize = location(&http.get(app.url("/sign-in")).send().await.unwrap());
    let callback = complete_authorization(&http, &authorize, DEMO).await;
    let response = http.get(callback.as_str()).send().await.unwrap();
    assert!(response.status().is_client_error() || response.status().is_server_error());
    let page = response.text().await.unwrap();
    let log = app.log();
    let line = log
        .lines()
        .find(|line| line.contains("invalid_target"))
        .unwrap_or_else(|| panic!("a line about invalid_target:\n{log}"));
    assert!(line.contains("LOGTO_RESOURCES"), "{line}");
    assert!(line.contains("` ("), "Logto's description is quoted: {line}");
    assert!(!page.contains("LOGTO_") && !page.contains("invalid_target"), "{page}");

    // Logto's endpoint unreachable: the line names the URL tried and the variable.
    let app = RunningApp::start(&provider, &[("LOGTO_ENDPOINT", "http://127.0.0.1:9")]).await;
    let response = http.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    let log = app.log();
    let line = log
        .lines()
        .find(|line| line.contains("http://127.0.0.1:9/oidc/.well-known/openid-configuration"))
        .unwrap_or_else(|| panic!("a line naming the discovery URL:\n{log}"));
    assert!(line.contains("LOGTO_ENDPOINT"), "{line}");
    assert!(!page.contains("LOGTO_") && !page.contains("127.0.0.1:9"), "{page}");
}
