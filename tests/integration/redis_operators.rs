//! Redis as operators run it: TLS with a private CA, ACL users, and a Redis that fails halfway
//! through a back-channel logout.

use reqwest::StatusCode;

use crate::helpers::app::{AppOptions, TestApp, profile_eight_times_over};
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

    // No REDIS_CA_FILE: neither the platform's store nor the bundled roots know the private CA.
    env.env.retain(|(name, _)| name != "REDIS_CA_FILE");
    let (status, output, _) = env.check().await;
    assert!(!status.success());
    assert!(redis_line(&output).contains("set REDIS_CA_FILE"), "{output}");

    // The same CA in the platform's store (here through OpenSSL's SSL_CERT_FILE): trusted
    // without REDIS_CA_FILE (that the bundled roots stay trusted beside it: roots.rs's tests).
    env.set("SSL_CERT_FILE", &ca_file);
    let (status, output, _) = env.check().await;
    assert!(status.success(), "{output}");
    assert!(redis_line(&output).contains("answers PING"), "{output}");
    env.env.retain(|(name, _)| name != "SSL_CERT_FILE");

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
    let token = app
        .logout_token(
            serde_json::json!({ "typ": "logout+jwt" }),
            "jti-interrupted",
            "user-demo",
        )
        .await;
    assert_eq!(app.post_logout_token(&token).await, StatusCode::SERVICE_UNAVAILABLE);

    // Logto retries once Redis is whole again: the sessions end, not "already received".
    redis.admin(&["ACL", "SETUSER", "app", "+del"]);
    assert_eq!(app.post_logout_token(&token).await, StatusCode::OK);
    assert!(app.is_signed_out().await, "the retried logout ended the session");
    assert_eq!(
        app.post_logout_token(&token).await,
        StatusCode::OK,
        "a third delivery is already received"
    );
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
    let issued = app.provider.issued_secrets().await;
    assert!(!issued.is_empty());
    for token in &issued {
        // Each token, or a long piece of it (redis-cli escapes some bytes).
        let piece = &token[..token.len().min(24)];
        assert!(!dump.contains(piece), "a token Logto issued is in Redis: {dump}");
    }
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
    // A byte of the nonce, set to a value it does not hold (it is random: 1 in 256 is \x01).
    let at = (colon + 3).to_string();
    let byte = redis.admin(&["--raw", "GETRANGE", key, &at, &at]);
    let other = if byte.starts_with('\u{1}') { "\u{2}" } else { "\u{1}" };
    redis.admin(&["SETRANGE", key, &at, other]);
    assert_ne!(redis.admin(&["--raw", "GET", key]), value, "the value changed");
    let home = app.page("/").await;
    assert!(
        home.contains("href=\"/sign-in\"") && !home.contains("action=\"/sign-out\""),
        "a changed value signed the session out: {home}"
    );
}

/// A Sentinel on a free port watching `mymaster` at `primary_port`, quick to fail over.
fn start_sentinel(dir: &std::path::Path, primary_port: u16) -> (tokio::process::Child, u16) {
    let port = crate::helpers::binary::free_port();
    let config = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &config,
        format!(
            "port {port}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 3000\n"
        ),
    )
    .unwrap();
    let child = tokio::process::Command::new("redis-server")
        .arg(&config)
        .arg("--sentinel")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server --sentinel runs");
    (child, port)
}

/// A primary, its replica and three Sentinels watching them as `mymaster`, each Sentinel
/// knowing the primary; dropped, every process stops.
struct SentinelGroup {
    primary: TestRedis,
    replica: TestRedis,
    sentinels: Vec<(tokio::process::Child, u16)>,
    dir: std::path::PathBuf,
}

impl SentinelGroup {
    async fn start() -> SentinelGroup {
        let primary = TestRedis::start().await;
        let replica = TestRedis::start_with(RedisOptions {
            extra_args: vec!["--replicaof".into(), "127.0.0.1".into(), primary.port.to_string()],
            ..Default::default()
        })
        .await;
        let dir = std::env::temp_dir().join(format!("logto-actix-sentinel-{}-{}", primary.port, std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sentinels: Vec<_> = (0..3).map(|_| start_sentinel(&dir, primary.port)).collect();
        // Poll until every Sentinel answers and knows the primary.
        for (_, port) in &sentinels {
            let mut ready = false;
            for _ in 0..100 {
                if sentinel_names(*port).contains(&primary.port.to_string()) {
                    ready = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(ready, "sentinel {port} knows the primary");
        }
        SentinelGroup {
            primary,
            replica,
            sentinels,
            dir,
        }
    }

    /// The app's environment for these Sentinels.
    fn env(&self) -> Vec<(&'static str, String)> {
        let urls: Vec<String> = self
            .sentinels
            .iter()
            .map(|(_, port)| format!("redis://127.0.0.1:{port}"))
            .collect();
        vec![
            ("SESSION_STORE", "redis".into()),
            ("REDIS_MODE", "sentinel".into()),
            ("REDIS_URL", urls.join(",")),
            ("REDIS_SENTINEL_MASTER", "mymaster".into()),
        ]
    }

    /// Waits until the replica has every write the primary took (the same replication offset)
    /// and holds at least one session.
    async fn replicated(&self) -> bool {
        let offset = |redis: &TestRedis| {
            redis
                .admin(&["INFO", "replication"])
                .lines()
                .find_map(|line| line.strip_prefix("master_repl_offset:")?.trim().parse::<u64>().ok())
        };
        for _ in 0..100 {
            let sessions = self.replica.admin(&["--raw", "KEYS", "logto:session:*"]);
            if !sessions.trim().is_empty()
                && offset(&self.primary).is_some()
                && offset(&self.primary) == offset(&self.replica)
            {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    /// Whether the Sentinels name the replica as the primary now, and it says so itself.
    fn replica_promoted(&self) -> bool {
        sentinel_names(self.sentinels[0].1).contains(&self.replica.port.to_string())
            && self.replica.admin(&["--raw", "ROLE"]).starts_with("master")
    }
}

impl Drop for SentinelGroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a Sentinel answers to `SENTINEL get-master-addr-by-name mymaster`.
fn sentinel_names(port: u16) -> String {
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &port.to_string(),
            "SENTINEL",
            "get-master-addr-by-name",
            "mymaster",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn with_sentinel_the_app_follows_a_failover_and_no_session_is_lost() {
    let mut group = SentinelGroup::start().await;
    let app = TestApp::spawn_with(AppOptions {
        env: group.env(),
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/").await.contains("Signed in as Demo User"));
    // The session is replicated before the primary dies (the contract's condition).
    assert!(group.replicated().await, "the replica has the session");

    group.primary.stop().await;
    // During the switch every answer comes within 3 s: the page, or the 503 page; then the same
    // cookie is signed in again on the promoted replica.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut back = false;
    while std::time::Instant::now() < deadline {
        let started = std::time::Instant::now();
        let response = app.get("/").await;
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(3), "answered in {took:?}");
        let status = response.status();
        assert!(
            status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
        if status == StatusCode::OK {
            let body = response.text().await.unwrap();
            if body.contains("Signed in as Demo User") {
                back = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(back, "the same cookie works after the failover: no session lost");
    assert!(
        group.replica_promoted(),
        "the Sentinels promoted the replica, and the app follows it"
    );
}

/// Three primaries in a Cluster, serving every slot: the nodes (stopped when dropped) and the
/// app's environment naming two of them as seeds.
async fn start_cluster() -> (Vec<TestRedis>, Vec<(&'static str, String)>) {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            TestRedis::start_with(RedisOptions {
                extra_args: vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-node-timeout".into(),
                    "2000".into(),
                ],
                ..Default::default()
            })
            .await,
        );
    }
    let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
    let created = std::process::Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-yes"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stdout));
    let mut ok = false;
    for _ in 0..100 {
        if nodes
            .iter()
            .all(|n| n.admin(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "the cluster is up");
    let urls: Vec<String> = addresses.iter().map(|a| format!("redis://{a}")).collect();
    let env = vec![
        ("SESSION_STORE", "redis".into()),
        ("REDIS_MODE", "cluster".into()),
        ("REDIS_URL", urls[..2].join(",")),
    ];
    (nodes, env)
}

#[tokio::test]
async fn on_a_three_primary_cluster_sessions_and_back_channel_logouts_by_sid_and_by_sub_work() {
    let (_nodes, env) = start_cluster().await;
    let app = TestApp::spawn_with(AppOptions {
        env,
        backchannel_logout: true,
        logout_sid_required: true,
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    assert!(app.page("/profile").await.contains("Demo User"));

    // A logout by `sid`: the user ends their Logto session elsewhere and the provider sends the
    // logout token naming that session; the sid index and the session hash to different nodes.
    app.end_logto_session_elsewhere().await;
    assert!(
        app.is_signed_out().await,
        "the logout by sid ended the session on the cluster"
    );

    app.sign_in_as_demo().await;
    assert!(app.page("/profile").await.contains("Demo User"));

    // A logout by `sub`: its index and the session sit on whatever nodes their keys hash to.
    let token = app
        .logout_token(serde_json::json!({ "typ": "logout+jwt" }), "jti-cluster", "user-demo")
        .await;
    assert_eq!(app.post_logout_token(&token).await, StatusCode::OK);
    assert!(
        app.is_signed_out().await,
        "the logout by sub ended the session on the cluster"
    );
}

fn refresh_counts(stats: &logto_test_provider::Stats) -> (u64, u64) {
    let of = |map: &std::collections::HashMap<String, u64>| map.get("refresh_token").copied().unwrap_or(0);
    (of(&stats.grants), of(&stats.refused))
}

#[tokio::test]
async fn on_a_cluster_two_instances_refreshing_one_session_at_once_send_one_refresh_grant() {
    let (_nodes, mut env) = start_cluster().await;
    env.push(("LOGTO_USERINFO_MAX_AGE_SECS", "0".into()));
    let options = AppOptions {
        env,
        ..Default::default()
    };
    let a = TestApp::spawn_with(options.clone()).await;
    let b = a.another_instance(options).await;
    a.provider.set_ttl(Some(60), None, None).await;
    // Rotate on every refresh: a second grant with the old refresh token would be refused.
    a.provider.set_refresh_rotation(true).await;
    a.sign_in_as_demo().await;

    for round in 1..=2 {
        // Past the access token's half life on the clock both instances read: eight requests of
        // one browser over both instances.
        a.advance_clock(std::time::Duration::from_secs(31));
        for response in profile_eight_times_over(&a, &b).await {
            assert_eq!(response.status(), StatusCode::OK);
            assert!(response.text().await.unwrap().contains("Demo User"));
        }
        assert_eq!(
            refresh_counts(&a.provider.stats().await),
            (round, 0),
            "one refresh grant per round across both instances, none refused"
        );
    }
}

/// A browser of its own, signed in as the demo user on `app`.
async fn signed_in_browser(app: &TestApp) -> reqwest::Client {
    let http = logto_test_provider::http_client();
    let start = http.get(app.url("/sign-in")).send().await.unwrap();
    let callback = logto_test_provider::complete_authorization(
        &http,
        &crate::helpers::app::location(&start),
        crate::helpers::app::DEMO,
    )
    .await;
    let finished = http.get(callback).send().await.unwrap();
    assert_eq!(finished.status(), StatusCode::SEE_OTHER);
    http
}

#[tokio::test]
async fn with_sentinel_a_failover_under_load_over_two_instances_loses_no_session_and_refreshes_each_once() {
    const SESSIONS: usize = 4;
    // Access tokens of 20 s are refreshed 10 s after sign-in: after the failover, not during it.
    const TOKEN_TTL: u64 = 20;
    let mut group = SentinelGroup::start().await;
    let mut env = group.env();
    env.push(("LOGTO_USERINFO_MAX_AGE_SECS", "0".into()));
    let options = AppOptions {
        env,
        ..Default::default()
    };
    let a = TestApp::spawn_with(options.clone()).await;
    let b = a.another_instance(options).await;
    a.provider.set_ttl(Some(TOKEN_TTL), None, None).await;
    a.provider.set_refresh_rotation(true).await;
    let mut browsers = Vec::new();
    for _ in 0..SESSIONS {
        browsers.push(signed_in_browser(&a).await);
    }
    let signed_in = std::time::Instant::now();
    assert!(group.replicated().await, "the replica has the sessions");
    a.provider.reset_stats().await;

    // Each round, every session asks for /profile on both instances at once; the primary dies
    // after a second of it; the load goes on until every access token has been refreshed.
    let mut answers = std::collections::HashMap::<u16, usize>::new();
    let mut last_ok = vec![false; SESSIONS];
    let mut killed = false;
    while signed_in.elapsed() < std::time::Duration::from_secs(TOKEN_TTL / 2 + 3) {
        if !killed && signed_in.elapsed() > std::time::Duration::from_secs(1) {
            group.primary.stop().await;
            killed = true;
        }
        let requests = browsers.iter().enumerate().flat_map(|(session, http)| {
            [a.url("/profile"), b.url("/profile")].map(|url| {
                let http = http.clone();
                async move {
                    let started = std::time::Instant::now();
                    let response = http.get(url).send().await.unwrap();
                    let took = started.elapsed();
                    let status = response.status();
                    let body = response.text().await.unwrap();
                    (session, status, took, body.contains("Demo User"))
                }
            })
        });
        let round = futures::future::join_all(requests).await;
        let mut ok = vec![true; SESSIONS];
        for (session, status, took, shows_user) in round {
            assert!(took < std::time::Duration::from_secs(3), "answered in {took:?}");
            assert!(
                status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                "session {session}: {status} (a 303 to /sign-in is a lost session)"
            );
            if status == StatusCode::OK {
                assert!(shows_user, "session {session} is signed in");
            }
            ok[session] &= status == StatusCode::OK;
            *answers.entry(status.as_u16()).or_default() += 1;
        }
        last_ok = ok;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    eprintln!("answers during the failover: {answers:?}");
    assert!(killed && group.replica_promoted(), "the failover happened");
    assert!(answers.contains_key(&503), "the switch was seen: {answers:?}");
    assert!(
        last_ok.iter().all(|ok| *ok),
        "every session works on both instances after the failover"
    );
    assert_eq!(
        refresh_counts(&a.provider.stats().await),
        (SESSIONS as u64, 0),
        "one refresh grant per session across both instances, none refused"
    );
}
