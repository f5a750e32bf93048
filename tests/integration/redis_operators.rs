//! Redis as operators run it: TLS with a private CA, ACL users, and a Redis that fails halfway
//! through a back-channel logout.

use reqwest::StatusCode;

use crate::helpers::app::{AppOptions, TestApp};
use crate::helpers::binary::BinaryEnv;
use crate::helpers::redis::{RedisOptions, TestCa, TestRedis};

/// The one line of `check`'s output about Redis.
fn redis_line(output: &str) -> String {
    let lines: Vec<&str> = output.lines().filter(|l| l.contains("REDIS_URL")).collect();
    assert_eq!(lines.len(), 1, "one line about Redis: {output}");
    lines[0].to_owned()
}

#[tokio::test]
async fn over_tls_with_an_acl_user_sessions_work_and_a_wrong_ca_host_or_password_stops_check_and_start() {
    let ca = TestCa::make("good");
    let other_ca = TestCa::make("other");
    let redis = TestRedis::start_with(RedisOptions {
        users: vec![("app".into(), "s3cret-pw".into())],
        tls: Some(ca.clone()),
        ..Default::default()
    })
    .await;
    let good_url = format!("rediss://app:s3cret-pw@localhost:{}", redis.port);
    let ca_file = ca.ca_file.display().to_string();

    // Right CA, host name and password: the app signs in and keeps the session in Redis.
    let app = TestApp::spawn_with(AppOptions {
        env: vec![
            ("SESSION_STORE", "redis".into()),
            ("REDIS_URL", good_url.clone()),
            ("REDIS_CA_FILE", ca_file.clone()),
        ],
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));
    let keys = redis.admin(&[
        "--user",
        "app",
        "--pass",
        "s3cret-pw",
        "--no-auth-warning",
        "KEYS",
        "logto:session:*",
    ]);
    assert!(!keys.trim().is_empty(), "the session lives in Redis");

    let mut env = BinaryEnv::register(&app.provider, "redis-tls").await;
    env.set("SESSION_STORE", "redis")
        .set("REDIS_URL", &good_url)
        .set("REDIS_CA_FILE", &ca_file);
    let (status, output, _) = env.check().await;
    assert!(status.success(), "{output}");
    assert!(redis_line(&output).contains("answers PING"), "{output}");

    // A CA that did not sign Redis's certificate.
    env.set("REDIS_CA_FILE", other_ca.ca_file.display().to_string());
    let (status, output, _) = env.check().await;
    assert!(!status.success());
    let line = redis_line(&output);
    assert!(
        line.contains("REDIS_CA_FILE") && line.contains("not signed by a trusted CA"),
        "{line}"
    );

    // No REDIS_CA_FILE: the bundled roots do not know the private CA.
    env.env.retain(|(name, _)| name != "REDIS_CA_FILE");
    let (status, output, _) = env.check().await;
    assert!(!status.success());
    assert!(redis_line(&output).contains("set REDIS_CA_FILE"), "{output}");

    // The right CA, but a host name the certificate does not name.
    env.set("REDIS_CA_FILE", &ca_file);
    env.set("REDIS_URL", format!("rediss://app:s3cret-pw@127.0.0.1:{}", redis.port));
    let (status, output, _) = env.check().await;
    assert!(!status.success());
    let line = redis_line(&output);
    assert!(line.contains("host name"), "{line}");

    // A wrong password: named, never shown.
    env.set("REDIS_URL", format!("rediss://app:wrong-pw@localhost:{}", redis.port));
    let (status, output, _) = env.check().await;
    assert!(!status.success());
    let line = redis_line(&output);
    assert!(
        line.contains("user and password") && line.contains("app:***@"),
        "{line}"
    );
    assert!(!output.contains("wrong-pw"), "{output}");

    // The server refuses to start the same way, with one line naming the cause.
    env.set("REDIS_CA_FILE", other_ca.ca_file.display().to_string());
    env.set("REDIS_URL", &good_url);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_logto-actix"))
        .env_clear()
        .envs(env.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(std::env::temp_dir())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("REDIS_CA_FILE") && !stderr.contains("s3cret-pw"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn a_back_channel_logout_that_redis_interrupts_is_done_again_when_logto_retries() {
    let redis = TestRedis::start_with(RedisOptions {
        password: Some("admin-pw".into()),
        users: vec![("app".into(), "app-pw".into())],
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(AppOptions {
        env: vec![
            ("SESSION_STORE", "redis".into()),
            ("REDIS_URL", format!("redis://app:app-pw@127.0.0.1:{}", redis.port)),
        ],
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    // Redis refuses the deletion halfway: the logout cannot be done, and says so (503).
    redis.admin(&["ACL", "SETUSER", "app", "-del"]);
    let claims = serde_json::json!({
        "iss": app.provider.issuer(),
        "aud": app.client_id,
        "iat": logto_test_provider::unix_now(),
        "jti": "jti-interrupted",
        "sub": "user-demo",
        "events": { logto_client::BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    let token = app
        .provider
        .sign_jwt(
            serde_json::json!({ "typ": "logout+jwt" }),
            claims,
            logto_test_provider::SignWith::Provider,
        )
        .await;
    let post = || async {
        logto_test_provider::http_client()
            .post(app.url("/backchannel-logout"))
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(post().await, StatusCode::SERVICE_UNAVAILABLE);

    // Logto retries once Redis is whole again: the sessions end, not "already received".
    redis.admin(&["ACL", "SETUSER", "app", "+del"]);
    assert_eq!(post().await, StatusCode::OK);
    assert!(app.is_signed_out().await, "the retried logout ended the session");
    assert_eq!(post().await, StatusCode::OK, "a third delivery is already received");
}

/// Everything Redis holds, as `redis-cli` prints it: every key, and each value or member.
fn dump(redis: &TestRedis) -> String {
    let mut out = String::new();
    for key in redis.admin(&["--raw", "KEYS", "*"]).lines().filter(|k| !k.is_empty()) {
        let kind = redis.admin(&["--raw", "TYPE", key]);
        let value = match kind.trim() {
            "string" => redis.admin(&["GET", key]),
            "set" => redis.admin(&["SMEMBERS", key]),
            "zset" => redis.admin(&["ZRANGE", key, "0", "-1"]),
            other => panic!("unexpected type {other} of {key}"),
        };
        out.push_str(&format!("{key} => {value}\n"));
    }
    out
}

#[tokio::test]
async fn redis_holds_no_token_email_or_name_and_a_value_changed_there_signs_that_session_out() {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(AppOptions {
        env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", redis.url.clone())],
        backchannel_logout: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    let profile = app.page("/profile").await;
    assert!(
        profile.contains("demo@example.com"),
        "the profile shows the email: {profile}"
    );

    let dump = dump(&redis);
    assert!(dump.contains("logto:session:"), "{dump}");
    assert!(dump.contains("logto:sub:"), "the user's index exists: {dump}");
    for secret in [
        "demo@example.com",
        "Demo User",
        "user-demo",
        "refresh_token",
        "access_tokens",
        "eyJ",
    ] {
        assert!(!dump.contains(secret), "{secret} in Redis: {dump}");
    }

    // One byte of the session changed in Redis: the value does not open, that session is
    // signed out (and never trusted).
    let key = redis.admin(&["--raw", "KEYS", "logto:session:*"]);
    let key = key.lines().next().unwrap();
    let value = redis.admin(&["--raw", "GET", key]);
    let colon = value.find(':').unwrap();
    redis.admin(&["SETRANGE", key, &(colon + 3).to_string(), "\u{1}"]);
    assert!(app.is_signed_out().await, "a changed value signed the session out");
}
