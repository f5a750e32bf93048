//! The crate's own glue, in process (`actix_web::test`, no server, no app around it) against the
//! real provider in `tests/op`: the sign-in redirect, the callback that sets the session, the
//! `SignedInUser` and `OptionalUser` extractors, sign-out, and the error answers.

use actix_web::cookie::{Cookie, Key};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use logto_actix_web::{AuthErrorResponse, LogtoAuth, OptionalUser, SignedInUser};
use logto_test_provider::{Login, TestProvider, complete_authorization, http_client};

#[path = "../../logto-web/tests/adapter_support/mod.rs"]
mod adapter_support;

use adapter_support::{BASE, CountingStore, MovedClock, registered_client};

async fn home(user: OptionalUser) -> HttpResponse {
    HttpResponse::Ok().body(match user.0 {
        Some(signed_in) => format!("signed in as {}", signed_in.user.display_name()),
        None => "signed out".to_owned(),
    })
}

async fn me(signed_in: SignedInUser) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", signed_in.user.sub, signed_in.csrf_token))
}

async fn fresh(signed_in: SignedInUser) -> Result<HttpResponse, AuthErrorResponse> {
    let userinfo = signed_in.fresh_userinfo().await?;
    Ok(HttpResponse::Ok().body(userinfo.sub))
}

/// The crate mounted as its README shows, with three handlers that use the extractors.
macro_rules! service {
    ($auth:expr) => {{
        let auth: LogtoAuth = $auth;
        test::init_service(
            App::new()
                .wrap(auth.session_middleware(Key::from(&[7u8; 64]), false))
                .configure(auth.configure())
                .route("/", web::get().to(home))
                .route("/me", web::get().to(me))
                .route("/fresh", web::get().to(fresh)),
        )
        .await
    }};
}

fn location(response: &ServiceResponse) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The session cookie a response sets, if any.
fn session_cookie(response: &ServiceResponse) -> Option<Cookie<'static>> {
    response
        .response()
        .cookies()
        .find(|c| !c.value().is_empty())
        .map(Cookie::into_owned)
}

async fn body(response: ServiceResponse) -> String {
    String::from_utf8(test::read_body(response).await.to_vec()).unwrap()
}

/// A GET request, with the browser's session cookie when given.
fn get(path: &str, cookie: Option<&Cookie<'static>>) -> actix_web::test::TestRequest {
    let request = test::TestRequest::get().uri(path);
    match cookie {
        Some(cookie) => request.cookie(cookie.clone()),
        None => request,
    }
}

#[actix_web::test]
async fn sign_in_callback_extractors_and_sign_out_work_against_the_provider() {
    let provider = TestProvider::start().await;
    let app =
        service!(LogtoAuth::builder(registered_client(&provider, &provider.endpoint(), "glue-app").await).build());

    // Signed out: OptionalUser is None, SignedInUser sends to sign-in with this page to come back to.
    assert_eq!(
        body(test::call_service(&app, get("/", None).to_request()).await).await,
        "signed out"
    );
    let response = test::call_service(&app, get("/me?tab=1", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?return_to=%2Fme%3Ftab%3D1");

    // Sign-in: a 303 to the provider's authorize endpoint, the pending sign-in in the cookie.
    let response = test::call_service(&app, get("/sign-in?return_to=/me", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let authorize = location(&response);
    assert!(
        authorize.starts_with(&format!("{}/auth?", provider.issuer())),
        "{authorize}"
    );
    let pending = session_cookie(&response).expect("the pending sign-in is kept in the session");

    // The provider signs the demo user in and sends the browser back with a code.
    let callback = complete_authorization(
        &http_client(),
        &authorize,
        Login::Password {
            username: "demo",
            password: "demo-password",
        },
    )
    .await;
    assert!(
        callback.as_str().starts_with(&format!("{BASE}/callback?")),
        "{callback}"
    );
    let path = &callback.as_str()[BASE.len()..];

    // The callback without the browser's cookie is refused (another browser): 400, no session.
    let response = test::call_service(&app, get(path, None).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // With it: the session holds the user, and the browser goes where sign-in started.
    let response = test::call_service(&app, get(path, Some(&pending)).to_request()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/me");
    let session = session_cookie(&response).expect("the callback writes the session");
    assert_ne!(session.value(), pending.value(), "a new session value at sign-in");

    assert_eq!(
        body(test::call_service(&app, get("/", Some(&session)).to_request()).await).await,
        "signed in as Demo User"
    );
    let me = body(test::call_service(&app, get("/me", Some(&session)).to_request()).await).await;
    let (sub, csrf) = me.split_once(' ').unwrap();
    assert_eq!(sub, "user-demo");
    assert!(csrf.len() >= 16, "a CSRF token for the sign-out form: {csrf:?}");
    let response = test::call_service(&app, get("/fresh", Some(&session)).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        body(response).await,
        "user-demo",
        "userinfo read with the session's token"
    );

    // The same callback again in the signed-in browser (a reload): home, nothing redeemed again.
    let response = test::call_service(&app, get(path, Some(&session)).to_request()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    assert_eq!(
        provider.stats().await.grants.get("authorization_code").copied(),
        Some(1),
        "the code was redeemed once"
    );

    let sign_out = |form: String| {
        test::TestRequest::post()
            .uri("/sign-out")
            .cookie(session.clone())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form)
            .to_request()
    };
    // Without the form's CSRF token: refused (403; an app with a sign-out page asks again
    // there instead), nothing revoked, still signed in.
    let response = test::call_service(&app, sign_out("csrf_token=forged".into())).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(provider.stats().await.revocations, 0);
    assert_eq!(
        body(test::call_service(&app, get("/", Some(&session)).to_request()).await).await,
        "signed in as Demo User"
    );

    // With it: 303 to the provider's end session, the refresh token revoked, the session gone.
    let response = test::call_service(&app, sign_out(format!("csrf_token={csrf}"))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&response).starts_with(&format!("{}/session/end?", provider.issuer())),
        "{}",
        location(&response)
    );
    assert_eq!(provider.stats().await.revocations, 1, "the refresh token is revoked");
    let after = response
        .response()
        .cookies()
        .next()
        .map(Cookie::into_owned)
        .expect("sign-out rewrites the cookie");
    assert_eq!(
        body(test::call_service(&app, get("/", Some(&after)).to_request()).await).await,
        "signed out"
    );
}

#[actix_web::test]
async fn logto_unreachable_is_a_502_and_a_callback_without_a_sign_in_a_400() {
    let provider = TestProvider::start().await;
    // The client points at a closed port: discovery fails.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = service!(LogtoAuth::builder(registered_client(&provider, &closed, "glue-app").await).build());

    let response = test::call_service(&app, get("/sign-in", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(
        session_cookie(&response).is_none(),
        "nothing pending when nothing started"
    );

    let response = test::call_service(&app, get("/callback?code=c&state=s", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = body(response).await;
    assert!(!text.contains("panicked") && !text.contains("code=c"), "{text}");
}

/// A session cookie opened once is answered from the cache of opened cookies afterwards (the
/// store is not asked to open it again), and yet its maximum age and a back-channel logout end it
/// on the next request; a cookie with one character changed, or a second session cookie beside
/// it, is never answered from the cache.
#[actix_web::test]
async fn a_session_cookie_is_opened_once_and_still_checked_on_every_request() {
    use logto_actix_web::logto_client::{Clock, Logout};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    let provider = TestProvider::start().await;
    let clock = Arc::new(MovedClock::default());
    let client = registered_client(&provider, &provider.endpoint(), "glue-app")
        .await
        .with_clock(clock.clone());
    let store = CountingStore::new(true);
    let app = service!(
        LogtoAuth::builder(client)
            .session_max_age(std::time::Duration::from_secs(3600))
            .store(Arc::new(store.clone()))
            .build()
    );

    let response = test::call_service(&app, get("/sign-in", None).to_request()).await;
    let pending = session_cookie(&response).unwrap();
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
    let response = test::call_service(&app, get(path, Some(&pending)).to_request()).await;
    let session = session_cookie(&response).expect("the callback writes the session");
    let home = |cookie: &Cookie<'static>| test::call_service(&app, get("/", Some(cookie)).to_request());
    // `name=value` as a browser sends it.
    let sent = session.encoded().stripped().to_string();

    let opened = store.loads();
    assert_eq!(body(home(&session).await).await, "signed in as Demo User");
    assert_eq!(store.loads(), opened + 1, "opened once");
    assert_eq!(body(home(&session).await).await, "signed in as Demo User");
    let me = body(test::call_service(&app, get("/me", Some(&session)).to_request()).await).await;
    assert!(me.starts_with("user-demo "), "{me}");
    assert_eq!(store.loads(), opened + 1, "then answered from the cache");

    // Another cookie beside it changes nothing; a second session cookie is never answered from
    // the cache (actix-session takes the first, whichever it is).
    let home_with_cookies = |cookies: String| {
        let request = test::TestRequest::get()
            .uri("/")
            .insert_header((header::COOKIE, cookies))
            .to_request();
        async { body(test::call_service(&app, request).await).await }
    };
    assert_eq!(
        home_with_cookies(format!("lang=es; {sent}")).await,
        "signed in as Demo User"
    );
    assert_eq!(store.loads(), opened + 1);
    assert_eq!(
        home_with_cookies(format!("{sent}; {sent}")).await,
        "signed in as Demo User"
    );
    assert_eq!(store.loads(), opened + 2, "opened, not taken from the cache");

    // One character changed: not the cached session (and its seal does not open).
    let value = session.value();
    let middle = value.len() / 2;
    let changed = format!(
        "{}{}{}",
        &value[..middle],
        if &value[middle..=middle] == "A" { "B" } else { "A" },
        &value[middle + 1..]
    );
    let tampered = Cookie::new(session.name().to_owned(), changed);
    assert_eq!(body(home(&tampered).await).await, "signed out");

    // Past the maximum age the cached session is signed out, and its cookie removed.
    clock.0.store(3600, Ordering::SeqCst);
    let response = home(&session).await;
    let removal = response.response().cookies().next().map(Cookie::into_owned);
    assert_eq!(body(response).await, "signed out");
    assert!(
        removal.is_some_and(|c| c.value().is_empty()),
        "the session cookie is removed"
    );
    assert_eq!(store.loads(), opened + 2, "decided on the cached entries");
    clock.0.store(0, Ordering::SeqCst);
    assert_eq!(
        body(home(&session).await).await,
        "signed in as Demo User",
        "the age is checked on each request, not kept with the entries"
    );

    // A back-channel logout of the user ends the cached session at its next request.
    let logout = Logout::new(Some("user-demo".to_owned()), None, clock.now() + 1, "jti-1");
    let auth_store: &dyn logto_actix_web::SessionStore = &store;
    assert!(auth_store.record_logout(&logout, clock.now()).await.unwrap());
    assert_eq!(body(home(&session).await).await, "signed out");
    assert_eq!(
        body(test::call_service(&app, get("/me", Some(&session)).to_request()).await).await,
        ""
    );
    assert_eq!(store.loads(), opened + 2, "still from the cache, and still signed out");
}
