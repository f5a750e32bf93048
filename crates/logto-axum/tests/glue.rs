//! The crate's own session layer, in process (the router called as a tower service, no server,
//! no app around it) against the real provider in `tests/op`: with the cookie store, a session
//! cookie is opened once and answered from the cache of opened cookies afterwards, and yet every
//! check that follows loading still runs on each request.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::routing::get;
use cookie::{Cookie, CookieJar};
use logto_axum::logto_client::{Clock, Logout};
use logto_axum::{Key, LogtoAxum, LogtoWeb, OptionalUser, SignedInUser};
use logto_test_provider::{Login, TestProvider, complete_authorization, http_client};
use tower_service::Service;

#[path = "../../logto-web/tests/adapter_support/mod.rs"]
mod adapter_support;

use adapter_support::{BASE, CountingStore, MovedClock, registered_client};

/// The session cookie's key in these tests.
fn key() -> Key {
    Key::from(&[7u8; 64])
}

async fn home(user: OptionalUser) -> String {
    match user.0 {
        Some(signed_in) => format!("signed in as {}", signed_in.user.display_name()),
        None => "signed out".to_owned(),
    }
}

async fn me(signed_in: SignedInUser) -> String {
    format!("{} {}", signed_in.user.sub, signed_in.csrf_token)
}

/// The crate mounted as its README shows, over `store`, with two handlers that use the
/// extractors; and the provider it signs in with.
struct TestApp {
    router: Router,
    _provider: TestProvider,
    clock: Arc<MovedClock>,
}

impl TestApp {
    async fn start(store: &CountingStore) -> TestApp {
        let provider = TestProvider::start().await;
        let clock = Arc::new(MovedClock::default());
        let client = registered_client(&provider, &provider.endpoint(), "axum-glue-app")
            .await
            .with_clock(clock.clone());
        let web = LogtoWeb::builder(client)
            .session_max_age(Duration::from_secs(3600))
            .store(Arc::new(store.clone()))
            .build();
        let logto = LogtoAxum::new(web, key(), false);
        let router = Router::new()
            .route("/", get(home))
            .route("/me", get(me))
            .merge(logto.router())
            .layer(logto.session_layer());
        TestApp {
            router,
            _provider: provider,
            clock,
        }
    }

    async fn call(&self, request: Request<Body>) -> Response<Body> {
        let Ok(response) = self.router.clone().call(request).await;
        response
    }

    /// GET `path` with this `Cookie` header, if any.
    async fn get(&self, path: &str, cookies: Option<&str>) -> Response<Body> {
        let mut request = Request::get(path);
        if let Some(cookies) = cookies {
            request = request.header(header::COOKIE, cookies);
        }
        self.call(request.body(Body::empty()).unwrap()).await
    }

    /// The text of `/` with this `Cookie` header.
    async fn home(&self, cookies: &str) -> String {
        body(self.get("/", Some(cookies)).await).await
    }

    /// Signs the demo user in; returns the `Cookie` header the browser sends with every page
    /// (`name=value` of the session cookie) and the ID token cookie (with a store that keeps the
    /// state in the cookie), which it sends to sign-out only.
    async fn sign_in(&self) -> (String, Option<String>) {
        let response = self.get("/sign-in", None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let pending = set_cookie(&response, "logto-session").expect("the pending sign-in");
        let callback = complete_authorization(
            &http_client(),
            &location(&response),
            Login::Password {
                username: "demo",
                password: "demo-password",
            },
        )
        .await;
        let path = &callback.as_str()[BASE.len()..];
        let response = self.get(path, Some(&pending)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "the callback signs in");
        (
            set_cookie(&response, "logto-session").expect("the callback writes the session"),
            set_cookie(&response, "logto-id-token"),
        )
    }
}

fn location(response: &Response<Body>) -> String {
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

/// The cookie `name` that a response sets.
fn response_cookie(response: &Response<Body>, name: &str) -> Option<Cookie<'static>> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|value| Cookie::parse(value.to_str().ok()?.to_owned()).ok())
        .find(|cookie| cookie.name() == name)
}

/// `name=value` of the cookie `name` that a response sets, as a browser would send it back.
fn set_cookie(response: &Response<Body>, name: &str) -> Option<String> {
    response_cookie(response, name).map(|cookie| cookie.stripped().to_string())
}

/// Whether a response removes the session cookie (`Max-Age=0`).
fn removes_session(response: &Response<Body>) -> bool {
    response_cookie(response, "logto-session").is_some_and(|c| c.max_age() == Some(cookie::time::Duration::ZERO))
}

async fn body(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `name=value` with one character of the value changed (its seal no longer checks out).
fn tampered(cookie: &str) -> String {
    let (name, value) = cookie.split_once('=').unwrap();
    let middle = value.len() / 2;
    let other = if &value[middle..=middle] == "A" { "B" } else { "A" };
    format!("{name}={}{other}{}", &value[..middle], &value[middle + 1..])
}

/// A session cookie opened once is answered from the cache of opened cookies afterwards (the
/// store is not asked to open it again), and yet its maximum age and a back-channel logout end it
/// on the next request. A cookie that is not exactly the one opened (a second session cookie
/// beside it, a percent-encoded name, one character changed) is never answered from the cache.
#[tokio::test]
async fn a_session_cookie_is_opened_once_and_still_checked_on_every_request() {
    let store = CountingStore::new(true);
    let app = TestApp::start(&store).await;
    let (session, _) = app.sign_in().await;

    let opened = store.loads();
    assert_eq!(app.home(&session).await, "signed in as Demo User");
    assert_eq!(store.loads(), opened + 1, "opened once");
    assert_eq!(app.home(&session).await, "signed in as Demo User");
    let me = body(app.get("/me", Some(&session)).await).await;
    assert!(me.starts_with("user-demo "), "{me}");
    assert_eq!(store.loads(), opened + 1, "then answered from the cache");

    // Another cookie beside it, or a second header, changes nothing.
    assert_eq!(app.home(&format!("lang=es; {session}")).await, "signed in as Demo User");
    let request = Request::get("/")
        .header(header::COOKIE, "lang=es")
        .header(header::COOKIE, HeaderValue::from_str(&session).unwrap())
        .body(Body::empty())
        .unwrap();
    assert_eq!(body(app.call(request).await).await, "signed in as Demo User");
    assert_eq!(store.loads(), opened + 1);

    // Two session cookies (the jar opens the last), or a name that decodes to the session
    // cookie's: opened as always, never taken from the cache.
    assert_eq!(
        app.home(&format!("{session}; {session}")).await,
        "signed in as Demo User"
    );
    assert_eq!(store.loads(), opened + 2, "opened, not taken from the cache");
    let encoded_name = session.replacen("logto-session", "logto%2Dsession", 1);
    assert_eq!(app.home(&encoded_name).await, "signed in as Demo User");
    assert_eq!(store.loads(), opened + 3, "opened, not taken from the cache");

    // One character changed: not the cached session, and its seal does not open.
    assert_eq!(app.home(&tampered(&session)).await, "signed out");
    assert_eq!(store.loads(), opened + 3, "nothing to load");

    // Past the maximum age the cached session is signed out, and its cookie removed.
    app.clock.0.store(3600, Ordering::SeqCst);
    let response = app.get("/", Some(&session)).await;
    assert!(removes_session(&response), "the session cookie is removed");
    assert_eq!(body(response).await, "signed out");
    assert_eq!(store.loads(), opened + 3, "decided on the cached entries");
    app.clock.0.store(0, Ordering::SeqCst);
    assert_eq!(
        app.home(&session).await,
        "signed in as Demo User",
        "the age is checked on each request, not kept with the entries"
    );

    // A back-channel logout of the user ends the cached session at its next request.
    let now = app.clock.now();
    let logout = Logout::new(Some("user-demo".to_owned()), None, now + 1, "jti-1");
    let auth_store: &dyn logto_axum::SessionStore = &store;
    assert!(auth_store.record_logout(&logout, now).await.unwrap());
    assert_eq!(app.home(&session).await, "signed out");
    let response = app.get("/me", Some(&session)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "to sign-in");
    assert_eq!(store.loads(), opened + 3, "still from the cache, and still signed out");
}

/// Only cookies that opened to a session are kept: a tampered cookie, or one sealed with the
/// key whose content is no session, is opened anew (and refused) every time it comes back.
#[tokio::test]
async fn a_cookie_that_does_not_open_to_a_session_never_enters_the_cache() {
    let store = CountingStore::new(true);
    let app = TestApp::start(&store).await;
    let (session, _) = app.sign_in().await;

    let tampered = tampered(&session);
    for _ in 0..2 {
        assert_eq!(app.home(&tampered).await, "signed out");
    }

    // Sealed with the app's key, so the store is given it; but it is no state.
    let mut jar = CookieJar::new();
    jar.private_mut(&key())
        .add(Cookie::new("logto-session", "not a session"));
    let sealed = jar.get("logto-session").unwrap().stripped().to_string();
    let before = store.loads();
    for n in 1..=2 {
        assert_eq!(app.home(&sealed).await, "signed out");
        assert_eq!(store.loads(), before + n, "given to the store each time");
    }

    // The real session still opens, once.
    assert_eq!(app.home(&session).await, "signed in as Demo User");
    assert_eq!(app.home(&session).await, "signed in as Demo User");
    assert_eq!(store.loads(), before + 3);
}

/// Sign-out from a session answered from the cache: the CSRF check, the ID token cookie (the
/// only cookie opened), the session's removal, as for a session opened anew.
#[tokio::test]
async fn a_cached_session_signs_out() {
    let store = CountingStore::new(true);
    let app = TestApp::start(&store).await;
    let (session, id_token) = app.sign_in().await;
    let id_token = id_token.expect("the ID token in a cookie of its own");
    let me = body(app.get("/me", Some(&session)).await).await;
    let (_, csrf) = me.split_once(' ').unwrap();
    let opened = store.loads();

    let sign_out = |form: String| {
        Request::post("/sign-out")
            .header(header::COOKIE, format!("{session}; {id_token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap()
    };
    let response = app.call(sign_out("csrf_token=forged".into())).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the CSRF token is checked");
    assert_eq!(app.home(&session).await, "signed in as Demo User");

    let response = app.call(sign_out(format!("csrf_token={csrf}"))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = location(&response);
    assert!(end_session.contains("/session/end?"), "{end_session}");
    assert!(
        end_session.contains("id_token_hint="),
        "the ID token cookie was opened: {end_session}"
    );
    assert!(removes_session(&response), "the session cookie is removed");
    assert_eq!(store.loads(), opened, "every request answered from the cache");
}

/// A store whose cookie holds only an id (a server-side store, such as Redis) makes no cache:
/// the same cookie is given to the store on every request.
#[tokio::test]
async fn a_server_side_store_loads_the_session_on_every_request() {
    let store = CountingStore::new(false);
    let app = TestApp::start(&store).await;
    let (session, _) = app.sign_in().await;

    let before = store.loads();
    for n in 1..=3 {
        assert_eq!(app.home(&session).await, "signed in as Demo User");
        assert_eq!(store.loads(), before + n);
    }
}
