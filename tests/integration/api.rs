//! `GET /api/me`, protected by Logto access tokens (RFC 9068) for `LOGTO_API_RESOURCE`: real
//! tokens from a sign-in and from a machine-to-machine app pass; every forgery answers 401 with
//! RFC 6750's challenge, a missing scope 403; no cookie, no session, no HTML error page.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::helpers::app::{Adapter, AppOptions, TestApp, session_set_cookie};
use logto_test_provider::{M2mClient, ProviderOptions, SignWith, jwt_parts, unix_now};

const RESOURCE: &str = "https://api.example.com";
const OTHER_RESOURCE: &str = "https://other.example.com";
const DEMO_SUB: &str = "user-demo";

fn m2m() -> M2mClient {
    M2mClient {
        client_id: "m2m-reporter".into(),
        client_secret: "m2m-reporter-secret-0123456789".into(),
    }
}

/// The app serving the API for `RESOURCE` (requiring `read:messages`), and asking for a token
/// for it at sign-in, as the README tells an operator to.
async fn api_app(adapter: Adapter) -> TestApp {
    TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![
            ("LOGTO_API_RESOURCE", RESOURCE.into()),
            ("LOGTO_API_REQUIRED_SCOPES", "read:messages".into()),
            ("LOGTO_RESOURCES", RESOURCE.into()),
            ("LOGTO_SCOPES", "email read:messages write:messages".into()),
        ],
        provider: ProviderOptions {
            resources: vec![
                (RESOURCE.into(), vec!["read:messages".into(), "write:messages".into()]),
                (OTHER_RESOURCE.into(), vec!["read:messages".into()]),
            ],
            m2m_clients: vec![m2m()],
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

/// Signs the demo user in through the app and has the app get its token for `RESOURCE` (the
/// profile page asks for it), then takes that token as the provider issued it.
async fn user_token(app: &TestApp) -> String {
    app.sign_in_as_demo().await;
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    let issued = app.provider.issued_secrets().await;
    issued
        .into_iter()
        .rev()
        .find(|secret| secret.split('.').count() == 3 && jwt_parts(secret).1["aud"] == json!(RESOURCE))
        .expect("the provider issued a token for the resource")
}

async fn call(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    // A client without cookies: the API's callers are not browsers.
    let mut request = reqwest::Client::new().get(app.url("/api/me"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the app answers")
}

fn challenge(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(WWW_AUTHENTICATE)
        .unwrap_or_else(|| panic!("WWW-Authenticate on {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts an RFC 6750 `invalid_token` answer, in JSON.
async fn assert_invalid_token(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(
        challenge(&response),
        format!("Bearer realm=\"{RESOURCE}\", error=\"invalid_token\""),
        "{what}"
    );
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{what}: the API's JSON, not an error page"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "error": "invalid_token" }), "{what}");
}

/// Claims of a genuine-looking access token for `RESOURCE`.
fn claims() -> Value {
    let now = unix_now();
    json!({
        "jti": "forged-jti", "sub": DEMO_SUB, "client_id": "some-app", "iss": "", "aud": RESOURCE,
        "iat": now, "exp": now + 3600, "scope": "read:messages write:messages",
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

for_each_adapter!(a_users_token_from_a_real_sign_in_answers_with_its_sub_and_scopes);
async fn a_users_token_from_a_real_sign_in_answers_with_its_sub_and_scopes(adapter: Adapter) {
    let app = api_app(adapter).await;
    let token = user_token(&app).await;
    let response = call(&app, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(SET_COOKIE).is_none(), "no cookie from the API");
    assert!(response.headers().contains_key("content-security-policy"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "sub": DEMO_SUB, "client_id": app.client_id, "scopes": ["read:messages", "write:messages"] })
    );
}

for_each_adapter!(a_machine_to_machine_token_answers_with_its_client_id);
async fn a_machine_to_machine_token_answers_with_its_client_id(adapter: Adapter) {
    let app = api_app(adapter).await;
    let token = app
        .provider
        .client_credentials_token(&m2m(), RESOURCE, &["read:messages"])
        .await;
    let response = call(&app, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], "m2m-reporter");
    assert_eq!(body["sub"], "m2m-reporter");
    assert_eq!(body["scopes"], json!(["read:messages"]));
    assert!(body.get("organization_id").is_none());
}

for_each_adapter!(no_token_answers_401_with_the_bearer_challenge_and_no_error_code);
async fn no_token_answers_401_with_the_bearer_challenge_and_no_error_code(adapter: Adapter) {
    let app = api_app(adapter).await;
    for request in [
        reqwest::Client::new().get(app.url("/api/me")),
        reqwest::Client::new()
            .get(app.url("/api/me"))
            .basic_auth("user", Some("password")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), format!("Bearer realm=\"{RESOURCE}\""));
        assert!(
            response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

for_each_adapter!(forged_foreign_and_wrong_tokens_answer_401_invalid_token);
async fn forged_foreign_and_wrong_tokens_answer_401_invalid_token(adapter: Adapter) {
    let app = api_app(adapter).await;
    let provider = &app.provider;
    let issuer = provider.issuer();
    let valid = with(claims(), json!({ "iss": issuer }));
    let at_jwt = json!({ "typ": "at+jwt" });

    // The forging itself is sound: the same claims, unchanged, pass.
    let genuine = provider
        .sign_jwt(at_jwt.clone(), valid.clone(), SignWith::Provider)
        .await;
    assert_eq!(call(&app, Some(&genuine)).await.status(), StatusCode::OK);

    let other_resource = provider
        .client_credentials_token(&m2m(), OTHER_RESOURCE, &["read:messages"])
        .await;
    assert_invalid_token(call(&app, Some(&other_resource)).await, "another resource's token").await;

    app.sign_in_as_demo().await;
    let id_token = provider
        .issued_secrets()
        .await
        .into_iter()
        .rev()
        .find(|s| s.split('.').count() == 3 && jwt_parts(s).1["aud"] == json!(app.client_id))
        .expect("an ID token was issued");
    assert_invalid_token(call(&app, Some(&id_token)).await, "an ID token").await;

    let now = unix_now();
    let cases = [
        (
            "expired",
            with(valid.clone(), json!({ "iat": now - 7200, "exp": now - 3600 })),
            SignWith::Provider,
        ),
        (
            "another issuer",
            with(valid.clone(), json!({ "iss": "https://evil.example.com/oidc" })),
            SignWith::Provider,
        ),
        ("another key", valid.clone(), SignWith::Foreign),
        ("unsigned", valid.clone(), SignWith::Unsigned),
        (
            "the app's client id as audience",
            with(valid.clone(), json!({ "aud": app.client_id })),
            SignWith::Provider,
        ),
        (
            "an organization token",
            with(valid.clone(), json!({ "aud": "urn:logto:organization:org-a" })),
            SignWith::Provider,
        ),
    ];
    for (what, claims, sign_with) in cases {
        let token = provider.sign_jwt(at_jwt.clone(), claims, sign_with).await;
        assert_invalid_token(call(&app, Some(&token)).await, what).await;
    }

    let hs256 = provider
        .sign_jwt_hs256(at_jwt.clone(), valid.clone(), &app.client_secret)
        .await;
    assert_invalid_token(call(&app, Some(&hs256)).await, "HS256 with the app secret").await;

    let logout_typ = provider
        .sign_jwt(json!({ "typ": "logout+jwt" }), valid.clone(), SignWith::Provider)
        .await;
    assert_invalid_token(call(&app, Some(&logout_typ)).await, "typ logout+jwt").await;

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJFUzM4NCJ9.e30.c2ln"] {
        assert_invalid_token(call(&app, Some(garbage)).await, garbage).await;
    }
    let response = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("authorization", "Bearer \"quoted\"")
        .send()
        .await
        .unwrap();
    assert_invalid_token(response, "characters no token has").await;
}

for_each_adapter!(a_token_without_a_required_scope_answers_403_insufficient_scope);
async fn a_token_without_a_required_scope_answers_403_insufficient_scope(adapter: Adapter) {
    let app = api_app(adapter).await;
    // The demo user's roles allow only writing: Logto grants what the roles allow.
    app.provider
        .set_user_permissions(DEMO_SUB, json!({ RESOURCE: ["write:messages"] }))
        .await;
    let token = user_token(&app).await;
    assert_eq!(jwt_parts(&token).1["scope"], "write:messages");
    let response = call(&app, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response),
        format!("Bearer realm=\"{RESOURCE}\", error=\"insufficient_scope\", scope=\"read:messages\"")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "error": "insufficient_scope" }));

    let m2m_token = app
        .provider
        .client_credentials_token(&m2m(), RESOURCE, &["write:messages"])
        .await;
    assert_eq!(call(&app, Some(&m2m_token)).await.status(), StatusCode::FORBIDDEN);
}

for_each_adapter!(a_burst_of_unknown_kids_fetches_the_jwks_at_most_once_more);
async fn a_burst_of_unknown_kids_fetches_the_jwks_at_most_once_more(adapter: Adapter) {
    let app = api_app(adapter).await;
    let valid = with(claims(), json!({ "iss": app.provider.issuer() }));
    let genuine = app
        .provider
        .sign_jwt(json!({ "typ": "at+jwt" }), valid.clone(), SignWith::Provider)
        .await;
    assert_eq!(call(&app, Some(&genuine)).await.status(), StatusCode::OK);
    let before = app.provider.jwks_fetches().await;
    assert_eq!(before, 1, "the keys are fetched once and cached");

    let mut forged = Vec::new();
    for i in 0..30 {
        let header = json!({ "typ": "at+jwt", "kid": format!("unknown-{i}") });
        forged.push(app.provider.sign_jwt(header, valid.clone(), SignWith::Provider).await);
    }
    let answers = futures::future::join_all(forged.iter().map(|token| call(&app, Some(token)))).await;
    for response in answers {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let after = app.provider.jwks_fetches().await;
    assert!(
        after - before <= 1,
        "30 unknown kids fetched the JWKS {} more times",
        after - before
    );
}

for_each_adapter!(the_api_takes_no_cookie_sets_none_and_keeps_json_for_unknown_paths);
async fn the_api_takes_no_cookie_sets_none_and_keeps_json_for_unknown_paths(adapter: Adapter) {
    let app = api_app(adapter).await;
    app.sign_in_as_demo().await;
    // The browser's session cookie does not authorize an API call (tokens only)...
    let response = app.get("/api/me").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // ...and the session middleware neither reads it nor sets one in return.
    assert!(session_set_cookie(&response).is_none());
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert!(app.page("/profile").await.contains("Demo User"), "the session lives on");

    let response = app.get("/api/nothing-here").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let response = app.http.post(app.url("/api/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

for_each_adapter!(without_an_api_resource_there_is_no_api);
async fn without_an_api_resource_there_is_no_api(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let token = app
        .provider
        .sign_jwt(
            json!({ "typ": "at+jwt" }),
            with(claims(), json!({ "iss": app.provider.issuer() })),
            SignWith::Provider,
        )
        .await;
    let response = call(&app, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}
