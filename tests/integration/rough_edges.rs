//! What a new user met first (issue 16): another host name, HEAD and wrong methods, a stale
//! sign-out tab, Logto down at sign-out, two sign-in tabs, and the polish around them.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::helpers::app::{Adapter, AppOptions, DEMO, TestApp, hidden_input, location, set_cookies, unescape_html};
use logto_test_provider::{FailMode, Login};

fn port_of(app: &TestApp) -> u16 {
    url::Url::parse(&app.address).unwrap().port().unwrap()
}

async fn with_host(app: &TestApp, method: Method, path: &str, host: &str) -> reqwest::Response {
    app.http
        .request(method, app.url(path))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

/// Whether a path exists on the app under test: the language switcher and the static files are the
/// actix app's own (the axum example's pages are plain and English only).
fn runs_on(adapter: Adapter, path: &str) -> bool {
    adapter == Adapter::Actix || !(path.starts_with("/lang/") || path.starts_with("/static/"))
}

for_each_adapter!(a_page_opened_on_another_host_name_moves_to_app_base_url_before_any_cookie);
async fn a_page_opened_on_another_host_name_moves_to_app_base_url_before_any_cookie(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let other = format!("localhost:{}", port_of(&app));
    for (method, path) in [
        (Method::GET, "/sign-in?return_to=%2Fprofile"),
        (Method::GET, "/"),
        (Method::HEAD, "/"),
        (Method::GET, "/sign-up"),
        (Method::GET, "/sign-in/huggingface"),
        (Method::GET, "/profile"),
        (Method::GET, "/sign-out"),
        (Method::GET, "/lang/es?return_to=%2F"),
    ]
    .into_iter()
    .filter(|(_, path)| runs_on(adapter, path))
    {
        let response = with_host(&app, method.clone(), path, &other).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{method} {path}");
        assert_eq!(
            location(&response),
            app.url(path),
            "{method} {path}: same path and query"
        );
        assert!(
            set_cookies(&response).is_empty(),
            "{method} {path}: no cookie on the other host"
        );
    }
    // What machines call, forms, and the callback are served on any name.
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::HEAD, "/healthz"),
        (Method::GET, "/static/app.css"),
        (Method::POST, "/backchannel-logout"),
        (Method::POST, "/sign-out"),
        (Method::GET, "/callback?code=x&state=y"),
    ] {
        let response = with_host(&app, method.clone(), path, &other).await;
        assert_ne!(response.status(), StatusCode::FOUND, "{method} {path}");
    }
    // The name of APP_BASE_URL itself is served.
    let own = format!("127.0.0.1:{}", port_of(&app));
    assert_eq!(with_host(&app, Method::GET, "/", &own).await.status(), StatusCode::OK);
}

for_each_adapter!(head_answers_like_get_and_a_wrong_method_is_405_with_allow);
async fn head_answers_like_get_and_a_wrong_method_is_405_with_allow(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    for path in [
        "/",
        "/healthz",
        "/static/app.css",
        "/static/favicon.svg",
        "/profile",
        "/sign-in",
        "/lang/es",
    ]
    .into_iter()
    .filter(|path| runs_on(adapter, path))
    {
        let get = app.http.get(app.url(path)).send().await.unwrap();
        let head = app.http.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {path} has no body");
    }
    for (method, path, allowed) in [
        (Method::POST, "/", &["GET", "HEAD"][..]),
        (Method::POST, "/healthz", &["GET", "HEAD"]),
        (Method::DELETE, "/profile", &["GET", "HEAD"]),
        (Method::POST, "/lang/es", &["GET", "HEAD"]),
        (Method::POST, "/sign-in", &["GET", "HEAD"]),
        (Method::POST, "/callback", &["GET"]),
        (Method::PUT, "/sign-out", &["POST", "GET", "HEAD"]),
        (Method::GET, "/backchannel-logout", &["POST"]),
    ]
    .into_iter()
    .filter(|(_, path, _)| runs_on(adapter, path))
    {
        let response = app.http.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = response
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("{method} {path}: an Allow header"))
            .to_str()
            .unwrap()
            .to_owned();
        let mut listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        listed.sort();
        let mut expected = allowed.to_vec();
        expected.sort();
        assert_eq!(listed, expected, "{method} {path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("405"), "the error page: {page}");
    }
    assert_eq!(app.get("/no-such-page").await.status(), StatusCode::NOT_FOUND);
}

for_each_adapter!(a_stale_sign_out_tab_asks_again_with_a_fresh_form_and_a_forged_form_still_changes_nothing);
async fn a_stale_sign_out_tab_asks_again_with_a_fresh_form_and_a_forged_form_still_changes_nothing(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    app.sign_in_as_demo().await;
    let stale = app.csrf_token().await;
    // Signed out and in again in another tab: the first tab's form is older than this session.
    let response = app.post_sign_out(&format!("csrf_token={stale}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    app.sign_in_as_demo().await;
    let revocations = app.provider.stats().await.revocations;

    let response = app.post_sign_out(&format!("csrf_token={stale}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "not a 403 page");
    assert_eq!(location(&response), "/sign-out", "asked again");
    assert!(
        app.page("/").await.contains("Signed in as Demo User"),
        "nothing changed yet"
    );
    let page = app.page("/sign-out").await;
    let fresh = hidden_input(&page, "csrf_token").expect("a fresh form");
    assert_ne!(fresh, stale);
    assert_eq!(app.provider.stats().await.revocations, revocations);

    let response = app.post_sign_out(&format!("csrf_token={fresh}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.is_signed_out().await, "the fresh form signs out");
}

for_each_adapter!(signing_out_while_logto_is_unreachable_goes_home_with_a_notice);
async fn signing_out_while_logto_is_unreachable_goes_home_with_a_notice(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        http_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    app.sign_in_as_demo().await;
    let csrf = app.csrf_token().await;
    app.provider
        .fail("/oidc/token/revocation", FailMode::Hang, Some(1))
        .await;

    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response),
        "/?notice=signed_out_locally",
        "not Logto's end-session"
    );
    let home = app.page("/?notice=signed_out_locally").await;
    assert!(home.contains("Signed out of this app"), "{home}");
    assert!(home.contains("you may still be signed in there"), "{home}");
    assert!(app.is_signed_out().await);

    if adapter == Adapter::Axum {
        // The axum example's pages are in English only (CONTRACT, "The axum example").
        return;
    }
    let (_, spanish) = {
        let r = app
            .http
            .get(app.url("/?notice=signed_out_locally"))
            .header("accept-language", "es")
            .send()
            .await
            .unwrap();
        (r.status(), unescape_html(&r.text().await.unwrap()))
    };
    assert!(spanish.contains("Sesión cerrada en esta aplicación"), "{spanish}");
}

for_each_adapter!(the_second_of_two_sign_in_tabs_goes_home_signed_in);
async fn the_second_of_two_sign_in_tabs_goes_home_signed_in(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let first = app.authorize("/sign-in?return_to=%2Fprofile", DEMO).await;
    let second = app.authorize("/sign-in", DEMO).await;
    let response = app.get_url(&first).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");

    let response = app.get_url(&second).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "no error page");
    assert_eq!(location(&response), "/");
    assert!(app.page("/").await.contains("Signed in as Demo User"));

    // Signed out, a spent callback is still refused.
    let csrf = app.csrf_token().await;
    app.post_sign_out(&format!("csrf_token={csrf}")).await;
    assert_eq!(app.get_url(&second).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn polish_favicon_notices_error_pages_names_and_paths() {
    let app = TestApp::spawn().await;
    // An icon, linked from every page, and /favicon.ico leads to it.
    let home = app.page("/").await;
    assert!(
        home.contains("<link rel=\"icon\" href=\"/static/favicon.svg\""),
        "{home}"
    );
    let icon = app.get("/static/favicon.svg").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert_eq!(location(&app.get("/favicon.ico").await), "/static/favicon.svg");

    // Any case of a language tag; a trailing slash moves to the path without it.
    let response = app.get("/lang/EN?return_to=%2F").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookies(&response).iter().any(|c| c.starts_with("lang=en")));
    let response = app.get("/profile/?tab=1").await;
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(location(&response), "/profile?tab=1");
    assert_eq!(
        app.http.post(app.url("/profile/")).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // Signed out, "Sign in again" after a failed sign-in keeps where it was going.
    let down = TestApp::spawn_with(AppOptions {
        logto_endpoint: Some("http://127.0.0.1:9".into()),
        http_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    let response = down.get("/sign-in?return_to=%2Fprofile").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = unescape_html(&response.text().await.unwrap());
    assert!(page.contains("href=\"/sign-in?return_to=%2Fprofile\""), "{page}");
    assert!(!page.contains("href=\"/profile\""), "signed-out header: {page}");

    // Signed in: the notice is not shown, error pages have the signed-in header and no
    // "Sign in again", and the sign-out page names the user as home does (no name: the username).
    app.provider
        .add_user(serde_json::json!({
            "sub": "user-nameless", "username": "nameless", "password": "nameless-password",
            "email": "nameless@example.com"
        }))
        .await;
    let response = app
        .sign_in_via(
            "/sign-in",
            Login::Password {
                username: "nameless",
                password: "nameless-password",
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let home = app.page("/?notice=cancelled").await;
    assert!(home.contains("Signed in as nameless"), "{home}");
    assert!(
        !home.contains("Sign-in cancelled") && !home.contains("still signed out"),
        "{home}"
    );
    let response = app.get("/callback?state=a&state=b").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = unescape_html(&response.text().await.unwrap());
    assert!(page.contains("href=\"/profile\""), "signed-in header: {page}");
    assert!(!page.contains("Sign in again"), "{page}");
    let sign_out = app.page("/sign-out").await;
    assert!(sign_out.contains("Signed in as nameless."), "{sign_out}");
}
