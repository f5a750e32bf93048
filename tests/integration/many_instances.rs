//! Several instances on one real Redis: back-channel logouts that reach every instance and
//! survive restarts, one refresh grant per session across instances, writes that never put back
//! a rotated refresh token, Redis hung or restarted, and sessions that end at their maximum age.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logto_actix_web::{RedisStore, SessionStore};
use logto_test_provider::SignWith;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE};
use serde_json::{Value, json};

use crate::helpers::app::{
    Adapter, AppOptions, TestApp, cookie_pair, profile_eight_times_over, session_set_cookie, unescape_html,
};
use crate::helpers::redis::{RedisOptions, TestRedis};

fn redis_options(adapter: Adapter, redis: &TestRedis) -> AppOptions {
    AppOptions {
        adapter,
        env: vec![("SESSION_STORE", "redis".into()), ("REDIS_URL", redis.url.clone())],
        ..Default::default()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A browser that only has the cookie it is given.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn home_with(app: &TestApp, cookie: &str) -> String {
    let response = browser().get(app.url("/")).header(COOKIE, cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    unescape_html(&response.text().await.unwrap())
}

/// A logout token for the demo user, signed with the provider's key, as Logto sends it.
async fn logout_token(app: &TestApp, claims: Value) -> String {
    let mut all = json!({
        "iss": app.provider.issuer(),
        "aud": app.client_id,
        "iat": now(),
        "jti": format!("jti-{}", rand_suffix()),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    app.provider
        .sign_jwt(json!({ "typ": "logout+jwt" }), all, SignWith::Provider)
        .await
}

fn rand_suffix() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

async fn post_logout(app: &TestApp, token: &str) -> StatusCode {
    browser()
        .post(app.url("/backchannel-logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("logout_token={token}"))
        .send()
        .await
        .unwrap()
        .status()
}

for_each_adapter!(a_backchannel_logout_sent_to_one_instance_ends_the_session_on_the_other_and_after_a_restart);
async fn a_backchannel_logout_sent_to_one_instance_ends_the_session_on_the_other_and_after_a_restart(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let a = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    let b = a.another_instance(redis_options(adapter, &redis)).await;
    let response = a.sign_in_as_demo().await;
    let cookie = cookie_pair(&session_set_cookie(&response).unwrap()).to_owned();
    assert!(home_with(&b, &cookie).await.contains("Signed in as Demo User"));

    let token = logout_token(&a, json!({ "sub": "user-demo" })).await;
    assert_eq!(post_logout(&b, &token).await, StatusCode::OK);

    assert!(
        !home_with(&a, &cookie).await.contains("Demo User"),
        "the logout sent to B ended the session on A"
    );
    // A restarted instance (nothing in its memory) does not bring the session back.
    let restarted = a.another_instance(redis_options(adapter, &redis)).await;
    assert!(!home_with(&restarted, &cookie).await.contains("Demo User"));
    // The same token again changes nothing and is still answered 200.
    assert_eq!(post_logout(&restarted, &token).await, StatusCode::OK);
}

for_each_adapter!(signing_out_at_logto_reaches_every_instance);
async fn signing_out_at_logto_reaches_every_instance(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let a = TestApp::spawn_with(AppOptions {
        adapter,
        backchannel_logout: true,
        ..redis_options(adapter, &redis)
    })
    .await;
    let b = a.another_instance(redis_options(adapter, &redis)).await;
    let response = a.sign_in_as_demo().await;
    let cookie = cookie_pair(&session_set_cookie(&response).unwrap()).to_owned();

    // Logto posts its logout token to A (the URI registered); B must see the session end too.
    a.end_logto_session_elsewhere().await;
    assert!(!home_with(&b, &cookie).await.contains("Demo User"));
}

for_each_adapter!(eight_concurrent_requests_over_two_instances_send_one_refresh_grant);
async fn eight_concurrent_requests_over_two_instances_send_one_refresh_grant(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let mut options = redis_options(adapter, &redis);
    options.env.push(("LOGTO_USERINFO_MAX_AGE_SECS", "0".into()));
    let a = TestApp::spawn_with(options.clone()).await;
    let b = a.another_instance(options).await;
    a.provider.set_ttl(Some(60), None, None).await;
    a.provider.set_refresh_rotation(true).await;
    a.sign_in_as_demo().await;
    // Past the access token's half life on the clock both instances read.
    a.advance_clock(Duration::from_secs(31));

    // One browser (one cookie jar), its requests spread over both instances.
    for response in profile_eight_times_over(&a, &b).await {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("Demo User"));
    }
    let grants = |stats: logto_test_provider::Stats| stats.grants.get("refresh_token").copied().unwrap_or(0);
    assert_eq!(
        grants(a.provider.stats().await),
        1,
        "one refresh grant for eight requests"
    );

    // The session carries on, on either instance, with the rotated refresh token.
    a.advance_clock(Duration::from_secs(31));
    for url in [b.url("/profile"), a.url("/profile")] {
        let response = a.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("Demo User"));
    }
    assert_eq!(grants(a.provider.stats().await), 2);
}

for_each_adapter!(a_refused_refresh_is_shared_so_eight_waiting_requests_send_one_grant_and_all_sign_out);
async fn a_refused_refresh_is_shared_so_eight_waiting_requests_send_one_grant_and_all_sign_out(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let mut options = redis_options(adapter, &redis);
    options.env.push(("LOGTO_USERINFO_MAX_AGE_SECS", "0".into()));
    let app = TestApp::spawn_with(options).await;
    app.provider.set_ttl(Some(60), None, None).await;
    app.sign_in_as_demo().await;
    // Logto revokes the grant: the next refresh is refused with `invalid_grant`.
    app.provider.revoke_grants(Some("user-demo")).await;
    app.advance_clock(Duration::from_secs(31));

    // One browser, eight requests at once, each needing a refresh of the same token: the first
    // asks Logto, the others wait for it in Redis and take its refusal instead of presenting
    // the revoked token again.
    let requests = (0..8).map(|_| async { app.get("/profile").await });
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()["location"].to_str().unwrap(),
            "/sign-in?return_to=%2Fprofile"
        );
    }
    let stats = app.provider.stats().await;
    let count = |map: &HashMap<String, u64>| map.get("refresh_token").copied().unwrap_or(0);
    assert_eq!(count(&stats.grants), 0);
    assert_eq!(
        count(&stats.refused),
        1,
        "one refresh grant reached Logto and was refused; the waiters shared its answer"
    );
    assert!(app.is_signed_out().await);
}

for_each_adapter!(with_redis_hung_a_page_answers_503_within_3_s_and_the_same_cookie_works_once_it_wakes);
async fn with_redis_hung_a_page_answers_503_within_3_s_and_the_same_cookie_works_once_it_wakes(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let app = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    let response = app.sign_in_as_demo().await;
    let cookie = cookie_pair(&session_set_cookie(&response).unwrap()).to_owned();

    redis.hang();
    // The axum example's pages are in English only (CONTRACT, "The axum example").
    let pages: &[(&str, &str)] = match adapter {
        Adapter::Actix => &[("en", "Temporarily unavailable"), ("es", "No disponible")],
        Adapter::Axum => &[("en", "Temporarily unavailable")],
    };
    for &(language, words) in pages {
        let started = Instant::now();
        let response = browser()
            .get(app.url("/"))
            .header(COOKIE, &cookie)
            .header(ACCEPT_LANGUAGE, language)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        eprintln!("503 with Redis hung after {took:?}");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(took < Duration::from_secs(3), "answered after {took:?}");
        assert!(response.headers().contains_key("content-security-policy"));
        assert!(unescape_html(&response.text().await.unwrap()).contains(words));
    }
    let health = browser().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    redis.wake();
    assert!(eventually_signed_in(&app, &cookie).await, "the same cookie works again");
}

/// Whether `cookie` shows the signed-in home within a few seconds (a reconnecting store may
/// answer 503 once).
async fn eventually_signed_in(app: &TestApp, cookie: &str) -> bool {
    for _ in 0..20 {
        let response = browser().get(app.url("/")).header(COOKIE, cookie).send().await.unwrap();
        if response.status() == StatusCode::OK {
            return response.text().await.unwrap().contains("Signed in as Demo User");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

for_each_adapter!(with_redis_restarted_with_persistence_the_session_is_still_there);
async fn with_redis_restarted_with_persistence_the_session_is_still_there(adapter: Adapter) {
    let mut redis = TestRedis::start_with(RedisOptions {
        persistent: true,
        ..Default::default()
    })
    .await;
    let app = TestApp::spawn_with(redis_options(adapter, &redis)).await;
    let response = app.sign_in_as_demo().await;
    let cookie = cookie_pair(&session_set_cookie(&response).unwrap()).to_owned();

    redis.restart().await;
    assert!(eventually_signed_in(&app, &cookie).await);
}

#[tokio::test]
async fn a_redis_password_missing_or_wrong_is_named_at_start_up() {
    let redis = TestRedis::start_with(RedisOptions {
        password: Some("right-password".into()),
        ..Default::default()
    })
    .await;
    let without = redis.url_without_password();
    let wrong = format!("redis://:wrong-password@127.0.0.1:{}", redis.port);
    for (url, cause) in [(without.as_str(), "NOAUTH"), (wrong.as_str(), "authentication failed")] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_logto-actix"))
            .env_clear()
            .env("LOGTO_ENDPOINT", "http://127.0.0.1:9")
            .env("LOGTO_APP_ID", "app")
            .env("LOGTO_APP_SECRET", "secret")
            .env("PORT", "0")
            .env("SESSION_STORE", "redis")
            .env("REDIS_URL", url)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains("REDIS_URL") && stderr.to_lowercase().contains(&cause.to_lowercase()),
            "{stderr}"
        );
        assert!(!stderr.contains("wrong-password"), "never the password: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

for_each_adapter!(a_copied_cookie_is_signed_out_past_the_session_max_age_with_either_store);
async fn a_copied_cookie_is_signed_out_past_the_session_max_age_with_either_store(adapter: Adapter) {
    let redis = TestRedis::start().await;
    let cookie_store = AppOptions {
        adapter,
        env: vec![("SESSION_MAX_AGE_SECS", "60".into())],
        ..Default::default()
    };
    let mut redis_store = redis_options(adapter, &redis);
    redis_store.env.push(("SESSION_MAX_AGE_SECS", "60".into()));
    for options in [cookie_store, redis_store] {
        let app = TestApp::spawn_with(options).await;
        let response = app.sign_in_as_demo().await;
        let copied = cookie_pair(&session_set_cookie(&response).unwrap()).to_owned();
        assert!(home_with(&app, &copied).await.contains("Signed in as Demo User"));
        app.advance_clock(Duration::from_secs(61));
        assert!(
            !home_with(&app, &copied).await.contains("Demo User"),
            "past its maximum age"
        );
        assert!(app.is_signed_out().await);
    }
}

fn tokens(refresh: &str, generation: u64, access: &[(&str, &str, u64)]) -> String {
    let access: Vec<Value> = access
        .iter()
        .map(|(audience, token, obtained)| json!({ "a": audience, "t": token, "o": obtained, "e": obtained + 3600 }))
        .collect();
    json!({ "refresh_token": refresh, "access_tokens": access, "g": generation }).to_string()
}

fn state(tokens: String) -> HashMap<String, String> {
    let user = json!({ "sub": "user-demo", "signed_in_at": now() }).to_string();
    HashMap::from([("user".to_owned(), user), ("tokens".to_owned(), tokens)])
}

#[tokio::test]
async fn interleaved_writes_of_one_session_never_put_back_a_rotated_refresh_token_nor_drop_a_fresh_one() {
    let redis = TestRedis::start().await;
    let store = RedisStore::connect(&redis.url, "REDIS_URL", Duration::from_secs(1))
        .await
        .unwrap();
    let ttl = Duration::from_secs(300);
    // Both requests read the session as signed in: refresh token rt-1, generation 1.
    let key = store
        .save(&state(tokens("rt-1", 1, &[("", "at-1", 100)])), ttl)
        .await
        .unwrap();
    // Request 1 refreshes: rt-1 is rotated to rt-2, and it writes first.
    store
        .update(&key, &state(tokens("rt-2", 2, &[("", "at-2", 200)])), ttl)
        .await
        .unwrap();
    // Request 2, which read the old state, cached a token of another audience and writes last.
    store
        .update(
            &key,
            &state(tokens("rt-1", 1, &[("", "at-1", 100), ("https://api", "api-1", 150)])),
            ttl,
        )
        .await
        .unwrap();
    let kept = store.load(&key).await.unwrap().unwrap();
    let kept: Value = serde_json::from_str(&kept["tokens"]).unwrap();
    assert_eq!(kept["refresh_token"], "rt-2", "the rotated refresh token stays");
    assert_eq!(kept["g"], 2);
    let access: HashMap<String, String> = kept["access_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["a"].as_str().unwrap().to_owned(), t["t"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(access[""], "at-2", "the newer userinfo token stays");
    assert_eq!(
        access["https://api"], "api-1",
        "the other request's fresh token stays too"
    );

    // A session deleted meanwhile (sign-out elsewhere) is not written back by a late request.
    store.delete(&key).await.unwrap();
    store.update(&key, &state(tokens("rt-2", 2, &[])), ttl).await.unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
}

/// actix-web runs each worker on its own thread and runtime, and the Redis client runs each
/// connection's I/O on the runtime that opened it: each thread that uses the store gets its own
/// connection (so that a command and its answer stay on that thread), and the store keeps
/// answering on those threads after the runtime that opened it, or a thread that used it, is gone.
#[test]
fn each_thread_has_its_own_redis_connection_which_outlives_the_runtime_that_opened_the_store() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    // The server's own runtime lives for the whole test.
    let harness = runtime();
    let redis = harness.block_on(TestRedis::start());
    let opening = runtime();
    let (store, key) = opening.block_on(async {
        let store = RedisStore::connect(&redis.url, "REDIS_URL", Duration::from_secs(1))
            .await
            .unwrap();
        let key = store
            .save(&state(tokens("rt-1", 1, &[])), Duration::from_secs(300))
            .await
            .unwrap();
        (store, key)
    });
    drop(opening);
    // A thread that used the store and ended: a later thread may be handed its slot.
    std::thread::scope(|scope| {
        scope.spawn(|| runtime().block_on(store.load(&key)).unwrap());
    });

    const WORKERS: usize = 3;
    let loaded = std::sync::Barrier::new(WORKERS + 1);
    let counted = std::sync::Barrier::new(WORKERS + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                scope.spawn(|| {
                    let worker = runtime();
                    // What each read found, asserted after the barriers (a panic here would hang them).
                    let reads: Vec<String> = (0..5)
                        .map(|_| match worker.block_on(store.load(&key)) {
                            Ok(Some(state))
                                if state.contains_key("user") && !state.contains_key("logto.unavailable") =>
                            {
                                "signed in".to_owned()
                            }
                            other => format!(
                                "{:?}",
                                other.map(|state| state.map(|s| s.into_keys().collect::<Vec<_>>()))
                            ),
                        })
                        .collect();
                    // The worker's runtime (and its connection) stays until the connections are counted.
                    loaded.wait();
                    counted.wait();
                    reads
                })
            })
            .collect();
        loaded.wait();
        let clients = redis.admin(&["CLIENT", "LIST"]);
        let app_connections = clients.lines().filter(|line| !line.contains("cmd=client")).count();
        counted.wait();
        for worker in workers {
            let reads = worker.join().unwrap();
            assert!(
                reads.iter().all(|read| read == "signed in"),
                "every read on a worker finds the session: {reads:?}"
            );
        }
        assert_eq!(
            app_connections, WORKERS,
            "one connection per worker thread (the opening runtime's closed with it):\n{clients}"
        );
    });
}

/// The same as above with two real `logto-actix` processes on one Redis, as operators run them: a
/// logout sent to B ends the session on A, and a restart of the only instance keeps it ended.
#[tokio::test]
async fn two_real_processes_share_logouts_and_keep_them_across_a_restart() {
    use crate::helpers::app::{DEMO, location};
    use crate::helpers::binary::{BinaryEnv, free_port};
    use logto_test_provider::{TestClient, TestProvider, complete_authorization, http_client};

    let redis = TestRedis::start().await;
    let provider = TestProvider::start().await;
    let mut env_a = BinaryEnv::register(&provider, "twin").await;
    env_a.set("SESSION_STORE", "redis").set("REDIS_URL", redis.url.clone());
    // B: the same Logto application and secrets on another port, with its own base URL.
    let port_b = free_port();
    let mut env_b = BinaryEnv {
        env: env_a.env.clone(),
        base_url: format!("http://127.0.0.1:{port_b}"),
        port: port_b,
    };
    let base_b = env_b.base_url.clone();
    env_b.set("PORT", port_b.to_string()).set("APP_BASE_URL", base_b);
    let var = |name: &str| env_a.env.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let (client_id, client_secret) = (var("LOGTO_APP_ID"), var("LOGTO_APP_SECRET"));
    provider
        .register_client(&TestClient {
            client_id: client_id.clone(),
            client_secret,
            redirect_uris: vec![
                format!("{}/callback", env_a.base_url),
                format!("{}/callback", env_b.base_url),
            ],
            post_logout_redirect_uris: vec![format!("{}/", env_a.base_url), format!("{}/", env_b.base_url)],
            backchannel_logout_uri: None,
        })
        .await;
    let a = env_a.serve().await;
    let b = env_b.serve().await;

    let http = http_client();
    let start = http.get(a.url("/sign-in")).send().await.unwrap();
    let callback = complete_authorization(&http, &location(&start), DEMO).await;
    let finished = http.get(callback).send().await.unwrap();
    let cookie = cookie_pair(&session_set_cookie(&finished).expect("the session cookie")).to_owned();
    let home = |address: String| {
        let cookie = cookie.clone();
        async move {
            let response = browser()
                .get(format!("{address}/"))
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap();
            unescape_html(&response.text().await.unwrap())
        }
    };
    assert!(
        home(b.address.clone()).await.contains("Signed in as Demo User"),
        "B reads A's session"
    );

    let token = provider
        .sign_jwt(
            json!({ "typ": "logout+jwt" }),
            json!({
                "iss": provider.issuer(), "aud": client_id, "iat": now(), "sub": "user-demo",
                "jti": format!("jti-{}", rand_suffix()),
                "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            }),
            SignWith::Provider,
        )
        .await;
    let answer = browser()
        .post(b.url("/backchannel-logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("logout_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        !home(a.address.clone()).await.contains("Demo User"),
        "the logout sent to B ended it on A"
    );

    // The only instance left, restarted: the session stays signed out. Both processes are gone
    // (killed and reaped) before A starts again on its port.
    let (mut a, mut b) = (a, b);
    b.child.kill().await.unwrap();
    a.child.kill().await.unwrap();
    let a = env_a.serve().await;
    assert!(
        !home(a.address.clone()).await.contains("Demo User"),
        "still signed out after a restart"
    );
}

#[tokio::test]
async fn a_session_read_again_is_opened_once_and_every_change_in_redis_is_still_seen() {
    let redis = TestRedis::start().await;
    let store = RedisStore::connect(&redis.url, "REDIS_URL", Duration::from_secs(1))
        .await
        .unwrap();
    let ttl = Duration::from_secs(300);
    let signed_in = state(tokens("rt-1", 1, &[("", "at-1", 100)]));
    let id = store.save(&signed_in, ttl).await.unwrap();
    for _ in 0..3 {
        assert_eq!(store.load(&id).await.unwrap().as_ref(), Some(&signed_in));
    }
    assert_eq!(store.opened_sessions(), 1, "one value read three times is kept once");

    // Another instance refreshed the tokens: the new value is read, not the one kept.
    let refreshed = state(tokens("rt-2", 2, &[("", "at-2", 200)]));
    store.update(&id, &refreshed, ttl).await.unwrap();
    let loaded = store.load(&id).await.unwrap().expect("still signed in");
    let loaded: Value = serde_json::from_str(&loaded["tokens"]).unwrap();
    assert_eq!(loaded["refresh_token"], "rt-2");

    // A kept value copied under another session's key does not open there.
    let other = store.save(&state(tokens("rt-x", 1, &[])), ttl).await.unwrap();
    let key = |id: &str| format!("logto:session:{id}");
    redis.admin(&["COPY", &key(&id), &key(&other), "REPLACE"]);
    assert_eq!(
        store.load(&other).await.unwrap(),
        None,
        "a value moved between sessions"
    );
    assert!(store.load(&id).await.unwrap().is_some());

    // A value changed in Redis signs the session out, though the previous one was kept.
    redis.admin(&["APPEND", &key(&id), "x"]);
    assert_eq!(store.load(&id).await.unwrap(), None, "a value changed in Redis");
}
