//! Organizations as Logto users build with them: listed by name with the user's roles, one of
//! them chosen as the active organization (`POST /organization`), its organization token and
//! organization-scoped API tokens on the profile, membership changes followed, and `/api/me`
//! refusing, accepting or requiring organization tokens. Also sign-out's `id_token_hint`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::app::{Adapter, AppOptions, TestApp, location, query_of, unescape_html};
use crate::helpers::browser::{Browser, Look, Scheme, Viewport, screenshot_dir, with_browser};
use logto_test_provider::{Login, ProviderOptions, TestProvider, complete_end_session, jwt_parts};

const API: &str = "https://api.example.com";
const MEMBER: &str = "user-member";

/// Two organizations from one template: `admin` (organization permissions `read:members` and
/// `invite:members`, API permission `read:items`) and `viewer` (`read:members` only).
fn organizations() -> Vec<Value> {
    let roles = json!({
        "admin": { "scopes": ["read:members", "invite:members"], "resource_scopes": { API: ["read:items"] } },
        "viewer": { "scopes": ["read:members"], "resource_scopes": {} },
    });
    vec![
        json!({ "id": "org-acme", "name": "Acme Corp", "description": "The first", "roles": roles }),
        json!({ "id": "org-beta", "name": "Beta Labs", "description": "The second", "roles": roles }),
    ]
}

/// The app configured as README's "Setting up Logto" says, and a member of both organizations:
/// admin in Acme, viewer in Beta.
async fn app_with(extra_env: Vec<(&'static str, String)>) -> TestApp {
    let mut env = vec![
        ("LOGTO_RESOURCES", API.to_owned()),
        (
            "LOGTO_SCOPES",
            "email urn:logto:scope:organizations urn:logto:scope:organization_roles read:members invite:members read:items"
                .to_owned(),
        ),
    ];
    env.extend(extra_env);
    let app = TestApp::spawn_with(AppOptions {
        env,
        provider: ProviderOptions {
            resources: vec![(API.into(), vec!["read:items".into(), "write:items".into()])],
            organizations: organizations(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    app.provider
        .add_user(json!({
            "sub": MEMBER, "username": "member", "password": "member-password", "name": "Mia Member",
            "organizations": ["org-acme", "org-beta"],
            "organization_roles": ["org-acme:admin", "org-beta:viewer"],
            "permissions": { API: [] },
        }))
        .await;
    app
}

async fn sign_in(app: &TestApp) {
    let response = app
        .sign_in_via(
            "/sign-in",
            Login::Password {
                username: "member",
                password: "member-password",
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

async fn choose(app: &TestApp, csrf: &str, organization: &str) -> reqwest::Response {
    app.http
        .post(app.url("/organization"))
        .form(&[
            ("csrf_token", csrf),
            ("organization_id", organization),
            ("return_to", "/profile"),
        ])
        .send()
        .await
        .expect("the app answers")
}

async fn profile(app: &TestApp) -> String {
    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::OK);
    unescape_html(&response.text().await.unwrap())
}

/// The `<dl>` that starts with `marker` (up to its end).
fn section<'a>(page: &'a str, marker: &str) -> &'a str {
    let start = page.find(marker).unwrap_or_else(|| panic!("{marker} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</dl>").unwrap_or(rest.len())]
}

/// The `<li>` of an organization in the list.
fn organization_row<'a>(page: &'a str, id: &str) -> &'a str {
    let marker = format!("data-organization=\"{id}\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("{marker} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</li>").unwrap()]
}

fn header(page: &str) -> &str {
    &page[..page.find("</header>").unwrap()]
}

#[tokio::test]
async fn a_member_of_two_organizations_sees_them_by_name_and_switches_between_them() {
    let app = app_with(vec![]).await;
    sign_in(&app).await;

    let page = profile(&app).await;
    let acme = organization_row(&page, "org-acme");
    assert!(acme.contains("Acme Corp") && acme.contains("admin"), "{acme}");
    let beta = organization_row(&page, "org-beta");
    assert!(beta.contains("Beta Labs") && beta.contains("viewer"), "{beta}");
    assert!(!beta.contains("admin"), "roles are per organization: {beta}");
    assert!(
        page.contains("data-field=\"no-active-organization\""),
        "none active yet"
    );
    assert!(!page.contains("data-organization-token"), "no token before a choice");

    let csrf = app.csrf_token().await;
    let response = choose(&app, &csrf, "org-acme").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");
    let page = profile(&app).await;
    assert!(header(&page).contains("Acme Corp"), "the header names the active one");
    let token = section(&page, "data-organization-token=\"org-acme\"");
    assert!(token.contains("urn:logto:organization:org-acme"), "{token}");
    assert!(
        token.contains("read:members invite:members"),
        "organization permissions: {token}"
    );
    assert!(token.contains(" min</dd>"), "expiry in minutes: {token}");
    let scoped = section(&page, &format!("data-organization-resource=\"{API}\""));
    assert!(
        scoped.contains("read:items"),
        "the admin role's API permission: {scoped}"
    );
    assert!(
        section(&page, &format!("data-resource=\"{API}\"")).contains("read:items"),
        "Logto gives the plain API token the API permissions of the user's roles in every organization"
    );
    assert!(!page.contains("eyJ"), "no token on the page");
    assert!(
        app.page("/").await.contains("Acme Corp"),
        "the header on other pages too"
    );

    let response = choose(&app, &csrf, "org-beta").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = profile(&app).await;
    assert!(header(&page).contains("Beta Labs") && !header(&page).contains("Acme Corp"));
    let token = section(&page, "data-organization-token=\"org-beta\"");
    assert!(token.contains("urn:logto:organization:org-beta"), "{token}");
    assert!(
        token.contains("read:members") && !token.contains("invite:members"),
        "a viewer's permissions: {token}"
    );
    let scoped = section(&page, &format!("data-organization-resource=\"{API}\""));
    assert!(
        !scoped.contains("read:items"),
        "viewers have no API permission: {scoped}"
    );
}

#[tokio::test]
async fn choosing_an_organization_of_someone_else_or_without_the_csrf_token_changes_nothing() {
    let app = app_with(vec![]).await;
    sign_in(&app).await;
    let csrf = app.csrf_token().await;
    assert_eq!(choose(&app, &csrf, "org-beta").await.status(), StatusCode::SEE_OTHER);

    let response = choose(&app, &csrf, "org-elsewhere").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("not a member"));
    let response = choose(&app, "not-the-token", "org-acme").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .http
        .post(app.url("/organization"))
        .form(&[("organization_id", "org-acme")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "no token at all");

    let page = profile(&app).await;
    assert!(header(&page).contains("Beta Labs"), "still the one chosen before");
    assert!(page.contains("data-organization-token=\"org-beta\""));

    // A return_to elsewhere is not followed.
    let response = app
        .http
        .post(app.url("/organization"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("organization_id", "org-acme"),
            ("return_to", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn membership_changes_in_logto_show_within_the_userinfo_max_age() {
    // No API resource: the organization token stays cached in the cookie (more tokens than fit
    // would push it out, and this test would not see the cache at all).
    let app = app_with(vec![
        ("LOGTO_USERINFO_MAX_AGE_SECS", "1".into()),
        ("LOGTO_RESOURCES", String::new()),
    ])
    .await;
    sign_in(&app).await;
    let csrf = app.csrf_token().await;
    choose(&app, &csrf, "org-acme").await;
    let page = profile(&app).await;
    assert!(section(&page, "data-organization-token=\"org-acme\"").contains("invite:members"));

    // An admin makes the user a viewer in Acme: the role and the token follow, though the
    // admin's token is still cached and valid for an hour.
    app.provider
        .set_user_organizations(
            MEMBER,
            &["org-acme", "org-beta"],
            &["org-acme:viewer", "org-beta:viewer"],
        )
        .await;
    // Past the userinfo maximum age, and past the window in which the client hands concurrent
    // requests the same refresh result (it would give back the token fetched a moment ago).
    tokio::time::sleep(logto_client::LogtoClient::REFRESH_SHARE_WINDOW + Duration::from_millis(100)).await;
    let page = profile(&app).await;
    let acme = organization_row(&page, "org-acme");
    assert!(
        acme.contains("viewer") && !acme.contains("admin"),
        "the new role: {acme}"
    );
    let token = section(&page, "data-organization-token=\"org-acme\"");
    assert!(
        token.contains("read:members") && !token.contains("invite:members"),
        "the token follows the new role: {token}"
    );

    // Then removes the user from Beta while Beta is the active organization.
    choose(&app, &csrf, "org-beta").await;
    assert!(profile(&app).await.contains("data-organization-token=\"org-beta\""));
    app.provider
        .set_user_organizations(MEMBER, &["org-acme"], &["org-acme:viewer"])
        .await;
    app.advance_clock(Duration::from_secs(2));
    let page = profile(&app).await;
    assert!(!page.contains("data-organization=\"org-beta\""), "Beta is gone: {page}");
    assert!(!header(&page).contains("Beta Labs"), "and no longer active");
    assert!(page.contains("data-field=\"no-active-organization\""));
    assert_eq!(
        choose(&app, &csrf, "org-beta").await.status(),
        StatusCode::BAD_REQUEST,
        "an organization left cannot be chosen"
    );
}

#[tokio::test]
async fn an_organization_logto_refuses_is_dropped_and_the_user_stays_signed_in() {
    // Userinfo is not read again for a minute: only Logto's refusal tells the app.
    let app = app_with(vec![]).await;
    sign_in(&app).await;
    let csrf = app.csrf_token().await;
    choose(&app, &csrf, "org-beta").await;
    app.provider
        .set_user_organizations(MEMBER, &["org-acme"], &["org-acme:admin"])
        .await;

    let page = profile(&app).await;
    assert!(!page.contains("data-organization=\"org-beta\""), "dropped: {page}");
    assert!(page.contains("data-organization=\"org-acme\""));
    assert!(page.contains("data-field=\"no-active-organization\""));
    assert!(app.page("/").await.contains("Mia Member"), "still signed in");
    assert_eq!(choose(&app, &csrf, "org-beta").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sign_out_sends_the_id_token_as_hint_and_logto_accepts_it() {
    let app = TestApp::spawn().await;
    app.sign_in_as_demo().await;
    let csrf = app.csrf_token().await;
    let response = app.post_sign_out(&format!("csrf_token={csrf}")).await;
    let end_session = location(&response);
    let params = query_of(&end_session);
    assert_eq!(params["client_id"], vec![app.client_id.clone()]);
    assert_eq!(params["post_logout_redirect_uri"], vec![app.url("/")]);
    let hint = &params["id_token_hint"][0];
    let (_, claims) = jwt_parts(hint);
    assert_eq!(claims["sub"], "user-demo");
    assert_eq!(claims["aud"], json!(app.client_id));
    assert!(
        app.provider.issued_secrets().await.contains(hint),
        "the ID token Logto issued"
    );
    // The provider answers 400 to a hint that is not one of its ID tokens.
    let back = complete_end_session(&app.http, &end_session).await;
    assert_eq!(back.as_str(), app.url("/"));
}

/// Signs in a user whose picture URL has `picture_length` characters: the ID token carries it.
/// Returns sign-out's end-session URL.
async fn sign_out_of_a_user_with_a_long_picture(app: &TestApp, picture_length: usize) -> String {
    let picture = format!("https://cdn.example.com/{}.png", "p".repeat(picture_length));
    app.provider
        .add_user(json!({
            "sub": "user-big", "username": "big", "password": "big-password", "name": "B".repeat(200),
            "email": format!("{}@example.com", "e".repeat(200)), "picture": picture,
        }))
        .await;
    let response = app
        .sign_in_via(
            "/sign-in",
            Login::Password {
                username: "big",
                password: "big-password",
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let csrf = app.csrf_token().await;
    location(&app.post_sign_out(&format!("csrf_token={csrf}")).await)
}

#[tokio::test]
async fn an_id_token_too_large_for_the_session_cookie_keeps_its_hint_in_its_own_cookie() {
    let app = TestApp::spawn().await;
    // With the ID token inside, this session would not fit its cookie: it used to go without.
    let end_session = sign_out_of_a_user_with_a_long_picture(&app, 1000).await;
    let params = query_of(&end_session);
    let hint = &params["id_token_hint"][0];
    assert!(hint.len() > 1500, "{} characters", hint.len());
    assert!(app.provider.issued_secrets().await.contains(hint));
    assert!(app.is_signed_out().await);
}

#[tokio::test]
async fn an_id_token_too_large_for_any_cookie_signs_out_without_the_hint() {
    let app = TestApp::spawn().await;
    let end_session = sign_out_of_a_user_with_a_long_picture(&app, 3000).await;
    let params = query_of(&end_session);
    assert!(!params.contains_key("id_token_hint"), "{end_session}");
    assert_eq!(params["client_id"], vec![app.client_id.clone()]);
    assert!(app.is_signed_out().await);
}

/// The app serving `/api/me` for `API` with `policy`, on `provider`.
async fn api_app(provider: std::sync::Arc<TestProvider>, policy: Option<&str>, adapter: Adapter) -> TestApp {
    let mut env = vec![("LOGTO_API_RESOURCE", API.to_owned())];
    env.extend(policy.map(|p| ("LOGTO_API_ORGANIZATIONS", p.to_owned())));
    TestApp::spawn_on(
        provider,
        AppOptions {
            adapter,
            env,
            ..Default::default()
        },
    )
    .await
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_refuses_accepts_or_requires_organization_tokens_as_configured() {
    let app = app_with(vec![]).await;
    sign_in(&app).await;
    let csrf = app.csrf_token().await;
    choose(&app, &csrf, "org-acme").await;
    profile(&app).await;
    let issued = app.provider.issued_secrets().await;
    let for_api = |organization: bool| {
        issued
            .iter()
            .rev()
            .find(|secret| {
                secret.split('.').count() == 3 && {
                    let (_, claims) = jwt_parts(secret);
                    claims["aud"] == json!(API) && claims.get("organization_id").is_some() == organization
                }
            })
            .cloned()
            .expect("a token for the API")
    };
    let (plain, scoped) = (for_api(false), for_api(true));
    // Logto's organization token: for the organization (`aud` `urn:logto:organization:<id>`), with
    // organization permissions, not for this API.
    let organization_token = issued
        .iter()
        .rev()
        .find(|secret| {
            secret.split('.').count() == 3
                && jwt_parts(secret).1["aud"]
                    .as_str()
                    .is_some_and(|aud| aud.starts_with("urn:logto:organization:"))
        })
        .cloned()
        .expect("an organization token");
    let refused_as_invalid = |response: reqwest::Response, policy: &str| {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{policy}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{policy}"
        );
    };

    // The same tokens, on both apps: the policy cannot drift between frameworks.
    for adapter in [Adapter::Actix, Adapter::Axum] {
        let refuse = api_app(app.provider.clone(), None, adapter).await;
        assert_eq!(me(&refuse, &plain).await.status(), StatusCode::OK);
        let refused = me(&refuse, &scoped).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "refuse is the default");
        assert!(
            refused.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );

        refused_as_invalid(me(&refuse, &organization_token).await, "refuse");

        let accept = api_app(app.provider.clone(), Some("accept"), adapter).await;
        let body: Value = me(&accept, &plain).await.json().await.unwrap();
        assert!(body.get("organization_id").is_none(), "{body}");
        let response = me(&accept, &scoped).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["organization_id"], "org-acme");
        assert_eq!(body["sub"], MEMBER);
        assert_eq!(body["scopes"], json!(["read:items"]));
        refused_as_invalid(me(&accept, &organization_token).await, "accept");

        let require = api_app(app.provider.clone(), Some("require"), adapter).await;
        let response = me(&require, &plain).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"insufficient_scope\"")
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "error": "insufficient_scope" }));
        let body: Value = me(&require, &scoped).await.json().await.unwrap();
        assert_eq!(body["organization_id"], "org-acme");
        refused_as_invalid(me(&require, &organization_token).await, "require");
    }
}

/// What a person reads about organizations, in one language: the test's own words.
struct OrganizationWords {
    username: &'static str,
    password: &'static str,
    sign_in: &'static str,
    make_active: &'static str,
    active: &'static str,
    your_roles: &'static str,
}

const EN_WORDS: OrganizationWords = OrganizationWords {
    username: "Username",
    password: "Password",
    sign_in: "Sign in",
    make_active: "Make active",
    active: "Active",
    your_roles: "Your roles",
};

const ES_WORDS: OrganizationWords = OrganizationWords {
    username: "Nombre de usuario",
    password: "Contraseña",
    sign_in: "Iniciar sesión",
    make_active: "Activar",
    active: "Activa",
    your_roles: "Tus roles",
};

/// In a real browser at phone width: sign in, see both organizations, make each active in turn
/// with its button; the header follows, and nothing is wider than the screen.
async fn switch_in_a_browser(b: Browser, w: &'static OrganizationWords) {
    let app = app_with(vec![]).await;
    // A third organization with a name as long as real ones get.
    app.provider
        .add_organization(json!({
            "id": "org-long", "name": LONG_NAME,
            "roles": { "viewer": { "scopes": ["read:members"], "resource_scopes": {} } },
        }))
        .await;
    app.provider
        .set_user_organizations(
            MEMBER,
            &["org-acme", "org-beta", "org-long"],
            &["org-acme:admin", "org-beta:viewer", "org-long:viewer"],
        )
        .await;
    b.goto(&app.url("/sign-in?return_to=%2Fprofile")).await;
    b.fill_labelled(w.username, "member").await;
    b.fill_labelled(w.password, "member-password").await;
    b.click_labelled(w.sign_in).await;
    b.wait_for_path("/profile").await;
    let text = b.wait_for_text("Beta Labs").await;
    assert!(text.contains(&format!("{}: admin", w.your_roles)), "{text}");
    assert!(text.contains(&format!("{}: viewer", w.your_roles)), "{text}");

    b.click_labelled(&format!("{} Acme Corp", w.make_active)).await;
    wait_for_active(&b, "Acme Corp").await;
    assert_eq!(
        b.text(".organization.active [data-field=organization-active]").await,
        w.active
    );
    let fits = "return document.documentElement.scrollWidth <= window.innerWidth";
    assert_eq!(b.eval(fits).await, json!(true), "nothing wider than the screen");
    b.screenshot("profile-top").await;
    b.eval("document.querySelector('.organizations').previousElementSibling.scrollIntoView(); return true")
        .await;
    b.screenshot("profile-organizations").await;
    b.eval("document.querySelector('[data-organization-token]').scrollIntoView(); return true")
        .await;
    b.screenshot("profile-organization-tokens").await;

    b.click_labelled(&format!("{} Beta Labs", w.make_active)).await;
    wait_for_active(&b, "Beta Labs").await;

    // Active with a long name: the header keeps within the phone's width (a real Logto's
    // organization names made it 494 px wide).
    b.click_labelled(&format!("{} {LONG_NAME}", w.make_active)).await;
    wait_for_active(&b, LONG_NAME).await;
    assert_eq!(b.eval(fits).await, json!(true), "a long name fits too");
    b.screenshot("profile-long-name").await;
}

const LONG_NAME: &str = "Internationale Forschungsgemeinschaft für Maschinelles Lernen und Datenverarbeitung e.V.";

/// Waits until the header names `name` as the active organization (the form's answer is a new
/// page at the same address). Screen readers hear "Active organization: <name>"; the eye sees
/// the name.
async fn wait_for_active(b: &Browser, name: &str) {
    let script = "const e = document.querySelector('[data-field=active-organization]'); \
                  return e ? e.textContent : null";
    for _ in 0..300 {
        if let Some(text) = b.eval(script).await.as_str()
            && text.trim().ends_with(name)
        {
            assert_eq!(b.url().await.path(), "/profile", "back where the form was");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the header never named {name} as active");
}

#[tokio::test]
async fn switching_organizations_in_a_browser_in_both_languages_and_schemes() {
    let shots = screenshot_dir("organizations");
    for (accept_language, scheme, words) in [
        ("en-US,en;q=0.9", Scheme::Light, &EN_WORDS),
        ("en-US,en;q=0.9", Scheme::Dark, &EN_WORDS),
        ("es-ES,es;q=0.9", Scheme::Light, &ES_WORDS),
        ("es-ES,es;q=0.9", Scheme::Dark, &ES_WORDS),
    ] {
        let look = Look {
            accept_language,
            scheme,
            viewport: Viewport::Phone,
        };
        with_browser(look, &shots, move |b| switch_in_a_browser(b, words)).await;
    }
}

#[tokio::test]
async fn sign_out_sends_the_newest_id_token_after_a_refresh() {
    let app = TestApp::spawn_with(AppOptions {
        env: vec![("LOGTO_USERINFO_MAX_AGE_SECS", "0".into())],
        ..Default::default()
    })
    .await;
    app.provider.set_ttl(Some(60), None, None).await;
    app.sign_in_as_demo().await;
    let at_sign_in = app.id_tokens().await;
    assert_eq!(at_sign_in.len(), 1, "one ID token from the code exchange");
    // Stale after 30 s on the app's clock: the next view refreshes, and Logto sends a new ID token.
    app.advance_clock(Duration::from_secs(31));
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    let now = app.id_tokens().await;
    assert_eq!(now.len(), 2, "the refresh grant gave a new ID token");

    let csrf = app.csrf_token().await;
    let end_session = location(&app.post_sign_out(&format!("csrf_token={csrf}")).await);
    assert_eq!(query_of(&end_session)["id_token_hint"], vec![now[1].clone()]);
}

/// logto-axum's `POST /organization` (on when `LogtoWebBuilder::organization_path` is set; the axum
/// example leaves it off, as its contract has no organization switcher): the same answers as the
/// app's, through the axum glue. The page `/active` names the active organization.
#[tokio::test]
async fn logto_axums_organization_route_chooses_like_the_apps() {
    use axum::{Router, routing::get};
    use logto_axum::{ClientSecret, LogtoAxum, LogtoClient, LogtoConfig, LogtoWeb, SignedInUser};

    let provider = TestProvider::start_with(ProviderOptions {
        resources: vec![(API.into(), vec!["read:items".into()])],
        organizations: organizations(),
        ..Default::default()
    })
    .await;
    provider
        .add_user(json!({
            "sub": MEMBER, "username": "member", "password": "member-password", "name": "Mia Member",
            "organizations": ["org-acme", "org-beta"],
            "organization_roles": ["org-acme:admin", "org-beta:viewer"],
        }))
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let client = logto_test_provider::TestClient {
        client_id: "axum-organizations".into(),
        client_secret: "axum-organizations-secret-0123".into(),
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: vec![format!("{base}/")],
        backchannel_logout_uri: None,
    };
    provider.register_client(&client).await;
    let config = LogtoConfig::builder(
        provider.endpoint().parse().unwrap(),
        client.client_id.clone(),
        ClientSecret::new(client.client_secret.clone()),
        client.redirect_uris[0].parse().unwrap(),
    )
    .scopes(["urn:logto:scope:organizations", "urn:logto:scope:organization_roles"])
    .build();
    let web = LogtoWeb::builder(LogtoClient::new(config).unwrap())
        .organization_path(Some("/organization".into()))
        .build();
    let logto = LogtoAxum::new(web, logto_axum::Key::generate(), false);
    let active = |user: SignedInUser| async move {
        let id = user.user.active_organization().map(|org| org.id.clone());
        format!("{}|{}", id.unwrap_or_default(), user.csrf_token)
    };
    let app = Router::new()
        .route("/active", get(active))
        .merge(logto.router())
        .layer(logto.session_layer());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let browser = logto_test_provider::http_client();
    let start = browser.get(format!("{base}/sign-in")).send().await.unwrap();
    let login = Login::Password {
        username: "member",
        password: "member-password",
    };
    let callback = logto_test_provider::complete_authorization(&browser, &location(&start), login).await;
    assert_eq!(
        browser.get(callback).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let read = || async {
        let text = browser
            .get(format!("{base}/active"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (id, csrf) = text.split_once('|').unwrap();
        (id.to_owned(), csrf.to_owned())
    };
    let (id, csrf) = read().await;
    assert_eq!(id, "", "none active yet");
    let choose = |form: Vec<(&'static str, String)>| {
        let request = browser.post(format!("{base}/organization")).form(&form);
        async move { request.send().await.unwrap() }
    };
    let form = |csrf: &str, id: &str| {
        vec![
            ("csrf_token", csrf.to_owned()),
            ("organization_id", id.to_owned()),
            ("return_to", "/active".to_owned()),
        ]
    };

    let chosen = choose(form(&csrf, "org-beta")).await;
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&chosen), "/active");
    assert_eq!(read().await.0, "org-beta");

    let refused = choose(form(&csrf, "org-elsewhere")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "not a member");
    assert_eq!(
        choose(form("not-the-token", "org-acme")).await.status(),
        StatusCode::FORBIDDEN
    );
    let no_token = vec![("organization_id", "org-acme".to_owned())];
    assert_eq!(choose(no_token).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(read().await.0, "org-beta", "nothing changed");

    assert_eq!(choose(form(&csrf, "org-acme")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(read().await.0, "org-acme");
}
