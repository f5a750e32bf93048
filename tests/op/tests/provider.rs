//! Tests of the provider in `tests/op` itself, through HTTP.
//!
//! Each test starts its own provider process, so they run in parallel without sharing state.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::PkceCodeChallenge;
use serde_json::{Value, json};
use url::Url;

use logto_test_provider::{
    FailMode, ForgedIdToken, Login, M2mClient, ProviderOptions, SignWith, TestClient, TestProvider,
    complete_authorization, complete_end_session, http_client, jwt_parts, unix_now,
};

const DEMO: Login<'static> = Login::Password {
    username: "demo",
    password: "demo-password",
};
const API: &str = "https://api.example.com";

fn client(id: &str) -> TestClient {
    TestClient {
        client_id: id.to_owned(),
        client_secret: format!("{id}-secret"),
        // Port 9 (discard) on loopback: never fetched, only compared.
        redirect_uris: vec!["http://127.0.0.1:9/callback".to_owned()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:9/signed-out".to_owned()],
        backchannel_logout_uri: None,
    }
}

async fn provider_with_client() -> (TestProvider, TestClient) {
    let op = TestProvider::start().await;
    let app = client("app");
    op.register_client(&app).await;
    (op, app)
}

/// One authorization request's secrets, kept to finish the flow.
struct Authorize {
    url: String,
    state: String,
    nonce: String,
    verifier: String,
}

fn authorize(op: &TestProvider, app: &TestClient, scope: &str, extra: &[(&str, &str)]) -> Authorize {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = oauth2::CsrfToken::new_random().secret().clone();
    let nonce = oauth2::CsrfToken::new_random().secret().clone();
    let mut url = Url::parse(&format!("{}/auth", op.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect_uris[0])
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("prompt", "consent")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    Authorize {
        url: url.into(),
        state,
        nonce,
        verifier: verifier.secret().clone(),
    }
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Runs the browser part and checks the callback; returns the code.
async fn sign_in(op: &TestProvider, http: &reqwest::Client, auth: &Authorize, login: Login<'_>) -> String {
    let callback = complete_authorization(http, &auth.url, login).await;
    assert_eq!(callback.path(), "/callback", "{callback}");
    assert_eq!(query(&callback, "error"), None, "{callback}");
    assert_eq!(query(&callback, "state").as_deref(), Some(auth.state.as_str()));
    assert_eq!(query(&callback, "iss"), Some(op.issuer()));
    query(&callback, "code").expect("code in callback")
}

#[derive(Clone, Copy)]
enum ClientAuth {
    Basic,
    Post,
    Both,
}

async fn token_request(
    op: &TestProvider,
    app: &TestClient,
    auth: ClientAuth,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = reqwest::Client::new().post(format!("{}/token", op.issuer()));
    if matches!(auth, ClientAuth::Basic | ClientAuth::Both) {
        request = request.basic_auth(&app.client_id, Some(&app.client_secret));
    }
    if matches!(auth, ClientAuth::Post | ClientAuth::Both) {
        form.push(("client_id", &app.client_id));
        form.push(("client_secret", &app.client_secret));
    }
    request.form(&form).send().await.expect("token request")
}

async fn exchange(
    op: &TestProvider,
    app: &TestClient,
    auth: ClientAuth,
    code: &str,
    flow: &Authorize,
) -> reqwest::Response {
    token_request(
        op,
        app,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", &flow.verifier),
            ("redirect_uri", &app.redirect_uris[0]),
        ],
    )
    .await
}

async fn ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("error JSON");
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

async fn refresh(
    op: &TestProvider,
    app: &TestClient,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    form.extend_from_slice(extra);
    token_request(op, app, ClientAuth::Basic, &form).await
}

/// Signs the demo user in and exchanges the code; returns the token response.
async fn demo_tokens(op: &TestProvider, app: &TestClient, scope: &str) -> Value {
    let http = http_client();
    let flow = authorize(op, app, scope, &[]);
    let code = sign_in(op, &http, &flow, DEMO).await;
    ok_json(exchange(op, app, ClientAuth::Basic, &code, &flow).await).await
}

async fn jwks(op: &TestProvider) -> JwkSet {
    reqwest::get(format!("{}/jwks", op.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Verifies a JWT against the provider's JWKS with the given algorithm and audience.
async fn verify(op: &TestProvider, token: &str, alg: Algorithm, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("JWT header");
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid in header");
    let set = jwks(op).await;
    let jwk = set.find(&kid).expect("kid published in the JWKS");
    let mut validation = Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[op.issuer()]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("JWT verifies")
        .claims
}

async fn userinfo(op: &TestProvider, access_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/me", op.issuer()))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

/// First page the provider shows for an authorization URL (following its own redirects).
async fn first_page(http: &reqwest::Client, url: &str) -> (u16, String) {
    let mut next = Url::parse(url).unwrap();
    for _ in 0..10 {
        let response = http.get(next.clone()).send().await.unwrap();
        if response.status().is_redirection() {
            let location = response.headers()["location"].to_str().unwrap();
            next = response.url().join(location).unwrap();
            continue;
        }
        let status = response.status().as_u16();
        return (status, response.text().await.unwrap());
    }
    panic!("too many redirects")
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {value}"))
}

#[tokio::test]
async fn discovery_is_logto_shaped() {
    let op = TestProvider::start().await;
    let issuer = op.issuer();
    assert_eq!(issuer, format!("{}/oidc", op.endpoint()));
    let doc: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], json!(issuer));
    for (key, path) in [
        ("authorization_endpoint", "/auth"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("userinfo_endpoint", "/me"),
        ("end_session_endpoint", "/session/end"),
        ("revocation_endpoint", "/token/revocation"),
    ] {
        assert_eq!(doc[key], json!(format!("{issuer}{path}")), "{key}");
    }
    // Logto announces every algorithm it can sign with, whatever its current key.
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "ES384", "ES512"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], json!(true));
    let scopes = doc["scopes_supported"].as_array().unwrap();
    for scope in [
        "openid",
        "offline_access",
        "profile",
        "identities",
        "custom_data",
        "urn:logto:scope:organizations",
    ] {
        assert!(scopes.contains(&json!(scope)), "{scope} not announced");
    }
    let keys = jwks(&op).await;
    assert_eq!(keys.keys.len(), 1);
    assert!(keys.keys[0].common.key_id.is_some());
}

#[tokio::test]
async fn code_flow_with_basic_auth_and_pkce() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid offline_access profile email custom_data roles", &[]);
    let code = sign_in(&op, &http, &flow, DEMO).await;

    // PKCE is enforced: a wrong verifier spoils the code.
    let mut wrong = authorize(&op, &app, "openid", &[]);
    wrong.verifier = "x".repeat(43);
    let (status, error) = error_of(exchange(&op, &app, ClientAuth::Basic, &code, &wrong).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));

    // A fresh sign-in (the spoiled code is gone); the session skips the form.
    let flow = authorize(&op, &app, "openid offline_access profile email custom_data roles", &[]);
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access + prompt=consent gives a refresh token"
    );

    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["sub"], "user-demo");
    assert_eq!(claims["nonce"], json!(flow.nonce));
    assert_eq!(claims["name"], "Demo User");
    assert_eq!(claims["email"], "demo@example.com");
    assert_eq!(claims["username"], "demo");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert!(
        claims.get("custom_data").is_none(),
        "custom_data stays out of the ID token"
    );
    assert!(claims.get("roles").is_none(), "roles stay out of the ID token");

    // The opaque access token is good at userinfo, which returns the extended claims.
    let access = str_of(&tokens, "access_token");
    assert!(!access.contains('.'), "no resource: the access token is opaque");
    let info = ok_json(userinfo(&op, access).await).await;
    assert_eq!(info["sub"], "user-demo");
    assert_eq!(info["custom_data"], json!({"plan": "free"}));
    assert_eq!(info["roles"], json!(["member"]));
    assert!(info.get("identities").is_none(), "identities scope not asked for");
}

#[tokio::test]
async fn offline_access_without_prompt_consent_gives_no_refresh_token() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid offline_access profile", &[]);
    let url = flow.url.replace("prompt=consent", "prompt=login");
    let callback = complete_authorization(&http, &url, DEMO).await;
    let code = query(&callback, "code").expect("code");
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    assert!(tokens["id_token"].is_string());
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

#[tokio::test]
async fn client_secret_post_works_and_both_at_once_is_rejected() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid profile", &[]);
    let code = sign_in(&op, &http, &flow, DEMO).await;
    let (status, error) = error_of(exchange(&op, &app, ClientAuth::Both, &code, &flow).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_request"));

    let flow = authorize(&op, &app, "openid profile", &[]);
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Post, &code, &flow).await).await;
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["sub"], "user-demo");

    let mut wrong = app.clone();
    wrong.client_secret = "not-the-secret".to_owned();
    let response = token_request(
        &op,
        &wrong,
        ClientAuth::Post,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    let (status, error) = error_of(response).await;
    assert_eq!((status, error.as_str()), (401, "invalid_client"));
}

#[tokio::test]
async fn wrong_password_re_renders_the_form() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[]);
    let (status, page) = first_page(&http, &flow.url).await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Sign in</h1>"), "{page}");
    assert!(page.contains("<label for=\"username\">") && page.contains("<label for=\"password\">"));
    let action = page.split("action=\"").nth(1).unwrap().split('"').next().unwrap();
    let action = Url::parse(&op.endpoint()).unwrap().join(action).unwrap();

    let response = http
        .post(action.clone())
        .form(&[("username", "demo"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<h1>Sign in</h1>") && page.contains("Incorrect username or password"),
        "{page}"
    );

    // The same interaction still accepts the right password.
    let response = http
        .post(action)
        .form(&[("username", "demo"), ("password", "demo-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn the_cancel_button_answers_access_denied() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[]);
    let (_, page) = first_page(&http, &flow.url).await;
    assert!(page.contains("Cancel and go back to the app"), "{page}");
    let callback = complete_authorization(&http, &flow.url, Login::Cancel).await;
    assert_eq!(callback.path(), "/callback", "{callback}");
    assert_eq!(query(&callback, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&callback, "state").as_deref(), Some(flow.state.as_str()));
    assert_eq!(query(&callback, "iss"), Some(op.issuer()));
    assert_eq!(query(&callback, "code"), None);
}

#[tokio::test]
async fn ui_locales_es_shows_the_pages_in_spanish() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[("ui_locales", "es")]);
    let (_, page) = first_page(&http, &flow.url).await;
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(
        page.contains("<h1>Iniciar sesión</h1>") && page.contains("Contraseña"),
        "{page}"
    );
    let flow = authorize(
        &op,
        &app,
        "openid",
        &[("ui_locales", "es"), ("first_screen", "register")],
    );
    let (_, page) = first_page(&http, &flow.url).await;
    assert!(
        page.contains("<h1>Crear cuenta</h1>") && page.contains("Correo electrónico"),
        "{page}"
    );
}

#[tokio::test]
async fn registration_creates_a_user_and_signs_them_in() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid profile email", &[("first_screen", "register")]);
    let code = sign_in(
        &op,
        &http,
        &flow,
        Login::Register {
            username: "grace",
            password: "grace-password",
            name: "Grace Hopper",
            email: "grace@example.com",
        },
    )
    .await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    let sub = str_of(&claims, "sub");
    assert!(sub.starts_with("user-") && sub != "user-demo", "{sub}");
    assert_eq!(claims["name"], "Grace Hopper");
    assert_eq!(claims["email"], "grace@example.com");

    // The new user can sign in with the password; the taken username is refused (legacy mode).
    let other = http_client();
    let flow = authorize(&op, &app, "openid", &[]);
    let login = Login::Password {
        username: "grace",
        password: "grace-password",
    };
    let code = sign_in(&op, &other, &flow, login).await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let again = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(again["sub"], json!(sub));

    let third = http_client();
    let flow = authorize(&op, &app, "openid", &[("interaction_mode", "signUp")]);
    let (_, page) = first_page(&third, &flow.url).await;
    assert!(page.contains("<h1>Create account</h1>"), "{page}");
    let action = page.split("action=\"").nth(1).unwrap().split('"').next().unwrap();
    let response = third
        .post(Url::parse(&op.endpoint()).unwrap().join(action).unwrap())
        .form(&[
            ("username", "grace"),
            ("password", "another-pass"),
            ("name", "X"),
            ("email", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(response.text().await.unwrap().contains("already in use"));
}

#[tokio::test]
async fn direct_sign_in_hugging_face_and_identities_only_in_userinfo() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(
        &op,
        &app,
        "openid offline_access profile email identities",
        &[("direct_sign_in", "social:huggingface")],
    );
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["sub"], "user-hf");
    assert_eq!(claims["name"], "Ada Lovelace");
    assert!(claims["picture"].as_str().unwrap().starts_with("https://"));
    assert!(
        claims.get("identities").is_none(),
        "identities stay out of the ID token: {claims}"
    );

    let info = ok_json(userinfo(&op, str_of(&tokens, "access_token")).await).await;
    assert_eq!(info["sub"], claims["sub"]);
    let hf = &info["identities"]["huggingface"];
    assert_eq!(hf["userId"], "hf-1234");
    assert_eq!(hf["details"]["rawData"]["preferred_username"], "ada-hf");
    assert_eq!(hf["details"]["rawData"]["profile"], "https://huggingface.co/ada-hf");
    assert_eq!(info["sso_identities"], json!([]));
}

#[tokio::test]
async fn an_invalid_logto_parameter_drops_them_all() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(
        &op,
        &app,
        "openid",
        &[("first_screen", "nonsense"), ("direct_sign_in", "social:huggingface")],
    );
    let (status, page) = first_page(&http, &flow.url).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<h1>Sign in</h1>"),
        "direct_sign_in must be ignored: {page}"
    );

    // The parameters reach the provider as sent.
    let stats = op.stats().await;
    let last = stats.authorize_params.last().expect("authorize params recorded");
    assert_eq!(last["first_screen"], "nonsense");
    assert_eq!(last["direct_sign_in"], "social:huggingface");
}

#[tokio::test]
async fn rs256_option_signs_id_tokens_rs256() {
    let op = TestProvider::start_with(ProviderOptions {
        signing_alg: Some("RS256".to_owned()),
        ..ProviderOptions::default()
    })
    .await;
    let app = client("app");
    op.register_client(&app).await;
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", op.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: Value = reqwest::get(doc["jwks_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    let tokens = demo_tokens(&op, &app, "openid profile").await;
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::RS256, &app.client_id).await;
    assert_eq!(claims["sub"], "user-demo");
}

#[tokio::test]
async fn resource_gives_a_jwt_access_token() {
    let op = TestProvider::start_with(ProviderOptions {
        resources: vec![(API.to_owned(), vec!["read:items".to_owned(), "write:items".to_owned()])],
        ..ProviderOptions::default()
    })
    .await;
    let app = client("app");
    op.register_client(&app).await;
    let http = http_client();
    let flow = authorize(
        &op,
        &app,
        "openid offline_access profile read:items",
        &[("resource", API)],
    );
    let code = sign_in(&op, &http, &flow, DEMO).await;

    // Without `resource` the code gives the opaque userinfo token, as Logto does.
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let access = str_of(&tokens, "access_token");
    assert!(!access.contains('.'), "opaque");
    ok_json(userinfo(&op, access).await).await;

    // A refresh for the resource gives a JWT for it, with only the granted scope.
    let refresh_token = str_of(&tokens, "refresh_token");
    let api = ok_json(refresh(&op, &app, refresh_token, &[("resource", API)]).await).await;
    let claims = verify(&op, str_of(&api, "access_token"), Algorithm::ES384, API).await;
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["sub"], "user-demo");
    assert_eq!(claims["scope"], "read:items");
    assert_eq!(claims["client_id"], json!(app.client_id));

    // A resource that was not granted is refused at the token endpoint.
    let (status, error) =
        error_of(refresh(&op, &app, refresh_token, &[("resource", "https://other.example.com")]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_target"));

    // The code exchange itself can ask for the resource too.
    let flow = authorize(&op, &app, "openid read:items write:items", &[("resource", API)]);
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let response = token_request(
        &op,
        &app,
        ClientAuth::Basic,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &flow.verifier),
            ("redirect_uri", &app.redirect_uris[0]),
            ("resource", API),
        ],
    )
    .await;
    let tokens = ok_json(response).await;
    let claims = verify(&op, str_of(&tokens, "access_token"), Algorithm::ES384, API).await;
    let mut scopes: Vec<&str> = str_of(&claims, "scope").split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["read:items", "write:items"]);
}

#[tokio::test]
async fn unknown_resource_is_rejected_at_authorization() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[("resource", "https://unknown.example.com")]);
    let callback = complete_authorization(&http, &flow.url, DEMO).await;
    assert_eq!(
        query(&callback, "error").as_deref(),
        Some("invalid_target"),
        "{callback}"
    );
    assert_eq!(query(&callback, "code"), None);
}

#[tokio::test]
async fn always_rotation_and_reuse_detection_revokes_the_grant() {
    let (op, app) = provider_with_client().await;
    op.set_refresh_rotation(true).await;
    let tokens = demo_tokens(&op, &app, "openid offline_access profile").await;
    let first = str_of(&tokens, "refresh_token");

    let rotated = ok_json(refresh(&op, &app, first, &[]).await).await;
    let second = str_of(&rotated, "refresh_token");
    assert_ne!(first, second, "rotation gives a new refresh token");
    let claims = verify(&op, str_of(&rotated, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["sub"], "user-demo");

    // Replaying the rotated token is taken as theft: the whole grant dies.
    let (status, error) = error_of(refresh(&op, &app, first, &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (status, error) = error_of(refresh(&op, &app, second, &[]).await).await;
    assert_eq!(
        (status, error.as_str()),
        (400, "invalid_grant"),
        "the newer token died with the grant"
    );
    // The stats count the grant that worked and, apart, the two refused.
    let stats = op.stats().await;
    assert_eq!(stats.grants.get("refresh_token"), Some(&1));
    assert_eq!(stats.refused.get("refresh_token"), Some(&2));
    assert_eq!(stats.refused.get("authorization_code"), Some(&0));
}

#[tokio::test]
async fn default_rotation_keeps_a_young_refresh_token() {
    let (op, app) = provider_with_client().await;
    let tokens = demo_tokens(&op, &app, "openid offline_access").await;
    let first = str_of(&tokens, "refresh_token");
    for _ in 0..2 {
        let again = ok_json(refresh(&op, &app, first, &[]).await).await;
        assert_eq!(
            str_of(&again, "refresh_token"),
            first,
            "under 70% of its life: not rotated"
        );
        assert!(again["access_token"].is_string());
    }
}

#[tokio::test]
async fn default_rotation_rotates_after_seventy_percent() {
    let (op, app) = provider_with_client().await;
    op.set_ttl(None, None, Some(10)).await;
    let tokens = demo_tokens(&op, &app, "openid offline_access").await;
    let first = str_of(&tokens, "refresh_token");
    // Lifetimes count whole seconds from a truncated `iat`: 7.2 s on is 70-80% of 10 s, never
    // expired (the provider's clock moves; nothing waits).
    op.advance_clock(Duration::from_millis(7200)).await;
    let again = ok_json(refresh(&op, &app, first, &[]).await).await;
    assert_ne!(str_of(&again, "refresh_token"), first);
}

#[tokio::test]
async fn revocation_endpoint_kills_the_refresh_token() {
    let (op, app) = provider_with_client().await;
    let tokens = demo_tokens(&op, &app, "openid offline_access").await;
    let refresh_token = str_of(&tokens, "refresh_token");
    let url = format!("{}/token/revocation", op.issuer());

    // Without client authentication (the Go SDK's way) it is refused.
    let response = reqwest::Client::new()
        .post(&url)
        .form(&[("token", refresh_token), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(op.stats().await.revocations, 0);

    let response = reqwest::Client::new()
        .post(&url)
        .basic_auth(&app.client_id, Some(&app.client_secret))
        .form(&[("token", refresh_token), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(op.stats().await.revocations, 1);
    let (status, error) = error_of(refresh(&op, &app, refresh_token, &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn end_session_redirects_to_post_logout_uri_and_ends_the_session() {
    let (op, app) = provider_with_client().await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[]);
    sign_in(&op, &http, &flow, DEMO).await;

    let mut url = Url::parse(&format!("{}/session/end", op.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("post_logout_redirect_uri", &app.post_logout_redirect_uris[0])
        .append_pair("state", "bye");
    // The confirmation page submits itself, like Logto's.
    let (status, page) = first_page(&http, url.as_str()).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"logout\" value=\"yes\"") && page.contains(".submit()"),
        "{page}"
    );

    let done = complete_end_session(&http, url.as_str()).await;
    assert_eq!(done.path(), "/signed-out");
    assert_eq!(query(&done, "state").as_deref(), Some("bye"));
    assert_eq!(op.stats().await.end_sessions, 1);

    // The provider session is gone: the next sign-in shows the form again.
    let flow = authorize(&op, &app, "openid", &[]);
    let (_, page) = first_page(&http, &flow.url).await;
    assert!(page.contains("<h1>Sign in</h1>"));

    // An unregistered post_logout_redirect_uri is refused.
    let mut bad = url.clone();
    bad.query_pairs_mut()
        .clear()
        .append_pair("client_id", &app.client_id)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere");
    let response = http.get(bad).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn backchannel_logout_posts_a_logout_token() {
    let op = TestProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut app = client("bcl");
    app.backchannel_logout_uri = Some(format!(
        "http://127.0.0.1:{}/backchannel",
        listener.local_addr().unwrap().port()
    ));
    op.register_client(&app).await;
    let http = http_client();
    let flow = authorize(&op, &app, "openid", &[]);
    sign_in(&op, &http, &flow, DEMO).await;

    let receiver = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the whole form body (Content-Length) has arrived.
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= head_end + 4 + length || n == 0 {
                    socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    return text;
                }
            }
            if n == 0 {
                return text;
            }
        }
    });

    let mut url = Url::parse(&format!("{}/session/end", op.issuer())).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("post_logout_redirect_uri", &app.post_logout_redirect_uris[0]);
    complete_end_session(&http, url.as_str()).await;
    let request = tokio::time::timeout(Duration::from_secs(10), receiver)
        .await
        .expect("back-channel call")
        .unwrap();
    assert!(request.starts_with("POST /backchannel "), "{request}");
    let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("logout_token field");
    let mut validation = Validation::new(Algorithm::ES384);
    validation.set_audience(&[&app.client_id]);
    validation.set_issuer(&[op.issuer()]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let set = jwks(&op).await;
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], "user-demo");
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
}

#[tokio::test]
async fn stats_count_and_reset() {
    let (op, app) = provider_with_client().await;
    let tokens = demo_tokens(&op, &app, "openid offline_access").await;
    ok_json(refresh(&op, &app, str_of(&tokens, "refresh_token"), &[]).await).await;
    let stats = op.stats().await;
    assert_eq!(stats.requests.get("/oidc/auth"), Some(&1));
    assert_eq!(stats.requests.get("/oidc/token"), Some(&2));
    assert_eq!(stats.grants.get("authorization_code"), Some(&1));
    assert_eq!(stats.grants.get("refresh_token"), Some(&1));
    assert_eq!(stats.authorize_params.len(), 1);
    assert_eq!(stats.authorize_params[0]["client_id"], json!(app.client_id));
    assert_eq!(stats.authorize_params[0]["prompt"], "consent");
    assert!(!stats.requests.keys().any(|k| k.contains('?')));

    op.reset_stats().await;
    let stats = op.stats().await;
    assert!(stats.requests.is_empty());
    assert_eq!(stats.grants.get("authorization_code"), Some(&0));
    assert!(stats.authorize_params.is_empty());
    assert_eq!((stats.revocations, stats.end_sessions), (0, 0));
}

#[tokio::test]
async fn revoking_grants_makes_refresh_fail() {
    let (op, app) = provider_with_client().await;
    let demo = demo_tokens(&op, &app, "openid offline_access").await;
    let http = http_client();
    let flow = authorize(
        &op,
        &app,
        "openid offline_access",
        &[("direct_sign_in", "social:huggingface")],
    );
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let ada = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;

    op.revoke_grants(Some("user-demo")).await;
    let (status, error) = error_of(refresh(&op, &app, str_of(&demo, "refresh_token"), &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    assert_eq!(userinfo(&op, str_of(&demo, "access_token")).await.status(), 401);
    // Other users are untouched.
    ok_json(refresh(&op, &app, str_of(&ada, "refresh_token"), &[]).await).await;

    op.revoke_grants(None).await;
    let (status, error) = error_of(refresh(&op, &app, str_of(&ada, "refresh_token"), &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn short_access_token_ttl_expires() {
    let (op, app) = provider_with_client().await;
    // 3 s, not less: `iat` is truncated to the second, and the token must still work right away.
    op.set_ttl(Some(3), Some(120), None).await;
    let tokens = demo_tokens(&op, &app, "openid profile").await;
    assert_eq!(tokens["expires_in"], 3);
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    let access = str_of(&tokens, "access_token");
    assert_eq!(userinfo(&op, access).await.status(), 200);
    op.advance_clock(Duration::from_millis(4100)).await;
    assert_eq!(userinfo(&op, access).await.status(), 401);
}

#[tokio::test]
async fn key_rotation_changes_kid_and_keeps_the_old_key_on_request() {
    let (op, app) = provider_with_client().await;
    let tokens = demo_tokens(&op, &app, "openid offline_access").await;
    let old_kid = jsonwebtoken::decode_header(str_of(&tokens, "id_token"))
        .unwrap()
        .kid
        .unwrap();

    op.rotate_keys("ES384", true).await;
    let set = jwks(&op).await;
    assert_eq!(set.keys.len(), 2);
    assert!(set.find(&old_kid).is_some(), "old key kept");
    // Storage survives the rebuild: the refresh token still works, signed by the new key.
    let refreshed = ok_json(refresh(&op, &app, str_of(&tokens, "refresh_token"), &[]).await).await;
    let new_kid = jsonwebtoken::decode_header(str_of(&refreshed, "id_token"))
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid);
    verify(&op, str_of(&refreshed, "id_token"), Algorithm::ES384, &app.client_id).await;

    op.rotate_keys("RS256", false).await;
    let set = jwks(&op).await;
    assert_eq!(set.keys.len(), 1);
    assert!(set.find(&old_kid).is_none() && set.find(&new_kid).is_none());
    let refreshed = ok_json(refresh(&op, &app, str_of(&tokens, "refresh_token"), &[]).await).await;
    verify(&op, str_of(&refreshed, "id_token"), Algorithm::RS256, &app.client_id).await;
}

#[tokio::test]
async fn injected_failures() {
    let op = TestProvider::start().await;
    let jwks_url = format!("{}/jwks", op.issuer());
    let client = reqwest::Client::new();

    op.fail("/oidc/jwks", FailMode::Status500, Some(1)).await;
    let response = client.get(&jwks_url).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("<html>"));
    assert_eq!(
        client.get(&jwks_url).send().await.unwrap().status(),
        200,
        "times=1: only once"
    );

    op.fail("/oidc/jwks", FailMode::Garbage, Some(1)).await;
    let response = client.get(&jwks_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.json::<Value>().await.is_err(), "body is not JSON");

    op.fail("/oidc/token", FailMode::ErrorJson, Some(1)).await;
    let response = client
        .post(format!("{}/token", op.issuer()))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!((status, error.as_str()), (400, "server_error"));

    op.fail("/oidc/jwks", FailMode::Hang, Some(1)).await;
    let err = client
        .get(&jwks_url)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err}");

    // Without `times` it lasts until cleared.
    op.fail("/oidc/jwks", FailMode::Status500, None).await;
    for _ in 0..3 {
        assert_eq!(client.get(&jwks_url).send().await.unwrap().status(), 500);
    }
    op.clear_failures().await;
    let set: JwkSet = client.get(&jwks_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(set.keys.len(), 1);
}

#[tokio::test]
async fn dropping_a_provider_closes_its_port_and_leaves_the_others_running() {
    let (other, app) = provider_with_client().await;
    let op = TestProvider::start().await;
    let address = format!("127.0.0.1:{}", op.port());
    assert!(tokio::net::TcpStream::connect(&address).await.is_ok());
    drop(op);
    // Stopped by the time `drop` returns.
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "a dropped provider still accepts connections"
    );
    // The other provider (same process) still signs people in.
    let tokens = demo_tokens(&other, &app, "openid").await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn each_provider_has_its_own_clock() {
    // Providers share a process; moving one's clock must not move another's.
    let (moved, moved_app) = provider_with_client().await;
    let (still, still_app) = provider_with_client().await;
    moved.advance_clock(Duration::from_secs(7200)).await;
    let issued_at = |tokens: &Value| jwt_parts(str_of(tokens, "id_token")).1["iat"].as_i64().unwrap();
    let moved_iat = issued_at(&demo_tokens(&moved, &moved_app, "openid").await);
    let still_iat = issued_at(&demo_tokens(&still, &still_app, "openid").await);
    let now = unix_now();
    assert!(
        (moved_iat - (now + 7200)).abs() < 60,
        "moved clock: iat {moved_iat}, now {now}"
    );
    assert!(
        (still_iat - now).abs() < 60,
        "unmoved clock: iat {still_iat}, now {now}"
    );
}

#[tokio::test]
async fn organization_tokens_for_members_only() {
    let (op, app) = provider_with_client().await;
    op.add_user(json!({
        "sub": "user-org",
        "username": "orgie",
        "password": "orgie-password",
        "name": "Org Member",
        "organizations": ["org-1"],
    }))
    .await;
    let http = http_client();
    let flow = authorize(
        &op,
        &app,
        "openid offline_access urn:logto:scope:organizations",
        &[("resource", "urn:logto:resource:organizations")],
    );
    let login = Login::Password {
        username: "orgie",
        password: "orgie-password",
    };
    let code = sign_in(&op, &http, &flow, login).await;
    let tokens = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let claims = verify(&op, str_of(&tokens, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert!(
        claims.get("organizations").is_none(),
        "organizations stay out of the ID token"
    );
    let info = ok_json(userinfo(&op, str_of(&tokens, "access_token")).await).await;
    assert_eq!(info["organizations"], json!(["org-1"]));

    let refresh_token = str_of(&tokens, "refresh_token");
    let org = ok_json(refresh(&op, &app, refresh_token, &[("organization_id", "org-1")]).await).await;
    let claims = verify(
        &op,
        str_of(&org, "access_token"),
        Algorithm::ES384,
        "urn:logto:organization:org-1",
    )
    .await;
    assert_eq!(claims["sub"], "user-org");
    assert_eq!(org["expires_in"], 3600);

    let (status, error) = error_of(refresh(&op, &app, refresh_token, &[("organization_id", "org-2")]).await).await;
    assert_eq!((status, error.as_str()), (403, "access_denied"));
    assert_eq!(op.stats().await.grants.get("refresh_token"), Some(&1));
    assert_eq!(op.stats().await.refused.get("refresh_token"), Some(&1));

    // A member whose sign-in did not ask for the organizations scope gets no organization token:
    // Logto's 403 `insufficient_scope` (membership is checked first: a non-member gets
    // `access_denied` whatever the scopes).
    let flow = authorize(&op, &app, "openid offline_access", &[]);
    let code = sign_in(&op, &http_client(), &flow, login).await;
    let plain = ok_json(exchange(&op, &app, ClientAuth::Basic, &code, &flow).await).await;
    let (status, error) = error_of(
        refresh(
            &op,
            &app,
            str_of(&plain, "refresh_token"),
            &[("organization_id", "org-1")],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (403, "insufficient_scope"));
    let demo = demo_tokens(&op, &app, "openid offline_access").await;
    let (status, error) = error_of(
        refresh(
            &op,
            &app,
            str_of(&demo, "refresh_token"),
            &[("organization_id", "org-1")],
        )
        .await,
    )
    .await;
    assert_eq!((status, error.as_str()), (403, "access_denied"));
}

fn m2m(id: &str) -> M2mClient {
    M2mClient {
        client_id: id.to_owned(),
        client_secret: format!("{id}-secret"),
    }
}

/// A provider with the API resource (`read:items`, `write:items`) and a web app.
async fn provider_with_api(options: ProviderOptions) -> (TestProvider, TestClient) {
    let op = TestProvider::start_with(ProviderOptions {
        resources: vec![(API.to_owned(), vec!["read:items".to_owned(), "write:items".to_owned()])],
        ..options
    })
    .await;
    let app = client("app");
    op.register_client(&app).await;
    (op, app)
}

/// The claim names of a JWT's payload, sorted.
fn claim_names(claims: &Value) -> Vec<String> {
    let mut names: Vec<String> = claims.as_object().expect("claims object").keys().cloned().collect();
    names.sort();
    names
}

#[tokio::test]
async fn m2m_apps_get_logto_shaped_access_tokens() {
    let from_config = m2m("m2m-config");
    let (op, web) = provider_with_api(ProviderOptions {
        m2m_clients: vec![from_config.clone()],
        ..ProviderOptions::default()
    })
    .await;

    // The answer itself, as the app sees it: scopes outside the resource are dropped.
    // The same credentials in the shape the token helpers take (its redirect URI is never registered).
    let as_form = client(&from_config.client_id);
    assert_eq!(as_form.client_secret, from_config.client_secret);
    let cc = [
        ("grant_type", "client_credentials"),
        ("resource", API),
        ("scope", "read:items openid delete:everything"),
    ];
    let answer = ok_json(token_request(&op, &as_form, ClientAuth::Basic, &cc).await).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["expires_in"], 3600);
    assert_eq!(answer["scope"], "read:items");
    assert!(
        answer.get("refresh_token").is_none() && answer.get("id_token").is_none(),
        "{answer}"
    );
    let token = str_of(&answer, "access_token");

    // Header and claims exactly as Logto's machine-to-machine token.
    let (header, claims) = jwt_parts(token);
    assert_eq!(claim_names(&header), ["alg", "kid", "typ"], "{header}");
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("ES384"), Some("at+jwt"))
    );
    assert_eq!(
        claim_names(&claims),
        ["aud", "client_id", "exp", "iat", "iss", "jti", "scope", "sub"],
        "{claims}"
    );
    let verified = verify(&op, token, Algorithm::ES384, API).await;
    assert_eq!(verified["sub"], json!(from_config.client_id));
    assert_eq!(verified["client_id"], json!(from_config.client_id));
    assert_eq!(verified["scope"], "read:items");
    assert_eq!(
        verified["exp"].as_i64().unwrap() - verified["iat"].as_i64().unwrap(),
        3600
    );

    // Registered at run time too; the lifetime follows the AccessToken TTL and the alg the key.
    let later = m2m("m2m-later");
    op.register_m2m_client(&later).await;
    op.set_ttl(Some(120), None, None).await;
    op.rotate_keys("RS256", false).await;
    let token = op
        .client_credentials_token(&later, API, &["read:items", "write:items"])
        .await;
    assert_eq!(jwt_parts(&token).0["typ"], "at+jwt");
    let claims = verify(&op, &token, Algorithm::RS256, API).await;
    assert_eq!(claims["sub"], json!(later.client_id));
    assert_eq!(claims["scope"], "read:items write:items");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
    assert_eq!(op.stats().await.grants.get("client_credentials"), Some(&2));

    // What Logto refuses: no resource, an unknown one, a wrong secret, a web app asking (this
    // oidc-provider answers invalid_request there; RFC 6749 names unauthorized_client).
    let refusals = [
        (
            &as_form,
            vec![("grant_type", "client_credentials"), ("scope", "read:items")],
            400,
            "invalid_target",
        ),
        (
            &as_form,
            vec![
                ("grant_type", "client_credentials"),
                ("resource", "https://nope.example.com"),
            ],
            400,
            "invalid_target",
        ),
        (&web, cc.to_vec(), 400, "invalid_request"),
    ];
    for (who, form, status, error) in refusals {
        let got = error_of(token_request(&op, who, ClientAuth::Basic, &form).await).await;
        assert_eq!(got, (status, error.to_owned()), "{} {form:?}", who.client_id);
    }
    let mut wrong = as_form.clone();
    wrong.client_secret = "not-the-secret".to_owned();
    let got = error_of(token_request(&op, &wrong, ClientAuth::Basic, &cc).await).await;
    assert_eq!(got, (401, "invalid_client".to_owned()));

    // A machine-to-machine app has no browser flow.
    let flow = authorize(&op, &as_form, "openid", &[]);
    let (status, page) = first_page(&http_client(), &flow.url).await;
    assert_eq!(status, 400, "{page}");
}

/// Exchanges a code asking for the API resource; returns the token response.
async fn exchange_for_api(op: &TestProvider, app: &TestClient, code: &str, flow: &Authorize) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", flow.verifier.as_str()),
        ("redirect_uri", app.redirect_uris[0].as_str()),
        ("resource", API),
    ];
    ok_json(token_request(op, app, ClientAuth::Basic, &form).await).await
}

/// The `scope` claim of a verified API access token (`None` when it has none).
async fn api_scope(op: &TestProvider, token: &str) -> Option<String> {
    let claims = verify(op, token, Algorithm::ES384, API).await;
    claims
        .get("scope")
        .map(|s| s.as_str().expect("scope is a string").to_owned())
}

#[tokio::test]
async fn user_permissions_limit_the_scopes_of_resource_tokens() {
    let reader = json!({
        "sub": "user-reader", "username": "reader", "password": "reader-password",
        "permissions": { API: ["read:items"] },
    });
    let (op, app) = provider_with_api(ProviderOptions {
        users: vec![reader],
        ..ProviderOptions::default()
    })
    .await;
    op.add_user(json!({
        "sub": "user-writer", "username": "writer", "password": "writer-password",
        "permissions": { API: ["write:items"], "https://elsewhere.example.com": [] },
    }))
    .await;
    let scope = "openid offline_access read:items write:items";

    // Both scopes asked for; each user gets what their roles allow (config and control API alike).
    let http = http_client();
    let flow = authorize(&op, &app, scope, &[("resource", API)]);
    let login = Login::Password {
        username: "reader",
        password: "reader-password",
    };
    let code = sign_in(&op, &http, &flow, login).await;
    let tokens = exchange_for_api(&op, &app, &code, &flow).await;
    let access = str_of(&tokens, "access_token");
    assert_eq!(api_scope(&op, access).await.as_deref(), Some("read:items"));
    // A user's resource token: typ at+jwt, the user's sub, the app's client_id.
    assert_eq!(jwt_parts(access).0["typ"], "at+jwt");
    let claims = verify(&op, access, Algorithm::ES384, API).await;
    assert_eq!(
        (claims["sub"].as_str(), claims["client_id"].as_str()),
        (Some("user-reader"), Some("app"))
    );

    let writer = http_client();
    let flow_w = authorize(&op, &app, scope, &[("resource", API)]);
    let login = Login::Password {
        username: "writer",
        password: "writer-password",
    };
    let code = sign_in(&op, &writer, &flow_w, login).await;
    let written = exchange_for_api(&op, &app, &code, &flow_w).await;
    assert_eq!(
        api_scope(&op, str_of(&written, "access_token")).await.as_deref(),
        Some("write:items")
    );

    // A user without an entry is not restricted, as before.
    let demo = http_client();
    let flow_d = authorize(&op, &app, scope, &[("resource", API)]);
    let code = sign_in(&op, &demo, &flow_d, DEMO).await;
    let all = exchange_for_api(&op, &app, &code, &flow_d).await;
    assert_eq!(
        api_scope(&op, str_of(&all, "access_token")).await.as_deref(),
        Some("read:items write:items")
    );

    // Taken away later: the next refresh has it no more.
    let refresh_token = str_of(&tokens, "refresh_token");
    let api = [("resource", API)];
    let again = ok_json(refresh(&op, &app, refresh_token, &api).await).await;
    assert_eq!(
        api_scope(&op, str_of(&again, "access_token")).await.as_deref(),
        Some("read:items")
    );
    op.set_user_permissions("user-reader", json!({ API: [] })).await;
    let none = ok_json(refresh(&op, &app, refresh_token, &api).await).await;
    assert_eq!(api_scope(&op, str_of(&none, "access_token")).await, None);

    // Given later: the grant holds only what consent gave, so it takes a new sign-in (as Logto).
    op.set_user_permissions("user-reader", json!({})).await;
    let back = ok_json(refresh(&op, &app, refresh_token, &api).await).await;
    assert_eq!(
        api_scope(&op, str_of(&back, "access_token")).await.as_deref(),
        Some("read:items")
    );
    let flow = authorize(&op, &app, scope, &[("resource", API)]);
    let code = sign_in(&op, &http, &flow, Login::Direct).await;
    let fresh = exchange_for_api(&op, &app, &code, &flow).await;
    assert_eq!(
        api_scope(&op, str_of(&fresh, "access_token")).await.as_deref(),
        Some("read:items write:items")
    );
}

#[tokio::test]
async fn sign_mints_tokens_that_verify_only_when_the_provider_signs() {
    let op = TestProvider::start().await;
    let kid = jwks(&op).await.keys[0].common.key_id.clone().expect("kid");
    let now = unix_now();
    let logout = json!({
        "iss": op.issuer(), "aud": "app", "iat": now, "exp": now + 120, "jti": "j-1",
        "sub": "user-demo", "sid": "s-1",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    let mut validation = Validation::new(Algorithm::ES384);
    validation.set_audience(&["app"]);
    validation.set_issuer(&[op.issuer()]);
    let set = jwks(&op).await;
    let provider_key = DecodingKey::from_jwk(set.find(&kid).expect("kid published")).unwrap();

    // The provider's key: the current alg and kid by default, the given typ, exactly our claims.
    let genuine = op
        .sign_jwt(json!({ "typ": "logout+jwt" }), logout.clone(), SignWith::Provider)
        .await;
    let (header, claims) = jwt_parts(&genuine);
    assert_eq!(header, json!({ "alg": "ES384", "kid": kid, "typ": "logout+jwt" }));
    assert_eq!(claims, logout);
    let decoded = jsonwebtoken::decode::<Value>(&genuine, &provider_key, &validation).expect("verifies");
    assert_eq!(decoded.claims, logout);

    // A foreign key under the genuine kid: the same header, a signature the JWKS cannot vouch for.
    let forged = op
        .sign_jwt(json!({ "typ": "logout+jwt" }), logout.clone(), SignWith::Foreign)
        .await;
    assert_eq!(jwt_parts(&forged).0, header);
    let err = jsonwebtoken::decode::<Value>(&forged, &provider_key, &validation).expect_err("foreign key");
    assert_eq!(*err.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature);

    // HS256 keyed with a secret (the app secret, in an algorithm-confusion attack).
    let hs = op.sign_jwt_hs256(json!({}), logout.clone(), "app-secret").await;
    assert_eq!(jwt_parts(&hs).0, json!({ "alg": "HS256", "kid": kid }));
    let mut hs_validation = validation.clone();
    hs_validation.algorithms = vec![Algorithm::HS256];
    jsonwebtoken::decode::<Value>(&hs, &DecodingKey::from_secret(b"app-secret"), &hs_validation)
        .expect("HS256 with the given secret");
    assert!(jsonwebtoken::decode::<Value>(&hs, &provider_key, &validation).is_err());

    // Unsigned, and a header rewritten field by field (null removes one).
    let unsigned = op
        .sign_jwt(
            json!({ "kid": null, "typ": "at+jwt" }),
            json!({ "sub": "x" }),
            SignWith::Unsigned,
        )
        .await;
    assert!(unsigned.ends_with('.'), "{unsigned}");
    assert_eq!(jwt_parts(&unsigned).0, json!({ "alg": "none", "typ": "at+jwt" }));
    let lying = op
        .sign_jwt(json!({ "alg": "RS256", "kid": "other" }), json!({}), SignWith::Provider)
        .await;
    assert_eq!(jwt_parts(&lying).0, json!({ "alg": "RS256", "kid": "other" }));

    // The current key after a rotation: its alg and kid.
    op.rotate_keys("RS256", false).await;
    let set = jwks(&op).await;
    let new_kid = set.keys[0].common.key_id.clone().expect("kid");
    let rs = op.sign_jwt(json!({}), logout.clone(), SignWith::Provider).await;
    assert_eq!(jwt_parts(&rs).0, json!({ "alg": "RS256", "kid": new_kid }));
    validation.algorithms = vec![Algorithm::RS256];
    let rs_key = DecodingKey::from_jwk(set.find(&new_kid).unwrap()).unwrap();
    jsonwebtoken::decode::<Value>(&rs, &rs_key, &validation).expect("RS256 verifies");
}

#[tokio::test]
async fn hostile_token_responses_on_code_and_refresh_grants() {
    let (op, app) = provider_with_client().await;

    // Code grant: the ID token gone, a token type nobody supports; only once.
    op.forge_next_token_response(json!({ "token_type": "mac" }), &["id_token"])
        .await;
    let tokens = demo_tokens(&op, &app, "openid offline_access profile").await;
    assert_eq!(tokens["token_type"], "mac");
    assert!(tokens.get("id_token").is_none(), "{tokens}");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    let refresh_token = str_of(&tokens, "refresh_token");

    // Refresh grant: a forged ID token and a rewritten answer together. A failed request first:
    // rewrites wait for a successful answer.
    let forged = ForgedIdToken::with_claims(json!({ "sub": "mallory" })).signed_with(SignWith::Foreign);
    op.forge_next_id_token(&forged).await;
    op.forge_next_token_response(json!({ "expires_in": -5 }), &["refresh_token"])
        .await;
    let (status, error) = error_of(refresh(&op, &app, "not-a-refresh-token", &[]).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let lied = ok_json(refresh(&op, &app, refresh_token, &[]).await).await;
    assert_eq!(lied["expires_in"], -5);
    assert!(lied.get("refresh_token").is_none(), "{lied}");
    let id_token = str_of(&lied, "id_token");
    assert_eq!(jwt_parts(id_token).1["sub"], "mallory");
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
    let set = jwks(&op).await;
    let key = DecodingKey::from_jwk(set.find(&kid).expect("the genuine kid")).unwrap();
    let mut validation = Validation::new(Algorithm::ES384);
    validation.set_audience(&[&app.client_id]);
    assert!(jsonwebtoken::decode::<Value>(id_token, &key, &validation).is_err());

    // Both used up: the next refresh is genuine again.
    let honest = ok_json(refresh(&op, &app, refresh_token, &[]).await).await;
    assert_eq!(honest["token_type"], "Bearer");
    assert!(honest["expires_in"].as_i64().unwrap() > 0);
    let claims = verify(&op, str_of(&honest, "id_token"), Algorithm::ES384, &app.client_id).await;
    assert_eq!(claims["sub"], "user-demo");
}

#[tokio::test]
async fn demo_script_stops_when_op_port_is_taken() {
    // Held for the whole test: the port the demo is told to use is someone else's.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    // A `cargo` found first on PATH that only leaves a mark: were the script to go on, no
    // release build starts on a shared machine, and the mark tells.
    let trip = std::env::temp_dir().join(format!("logto-demo-trip-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&trip).unwrap();
    let mark = trip.join("cargo-ran");
    let _ = std::fs::remove_file(&mark);
    let fake = trip.join("cargo");
    std::fs::write(&fake, format!("#!/bin/sh\ntouch '{}'\nexit 7\n", mark.display())).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", trip.display(), std::env::var("PATH").unwrap_or_default());

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo.sh");
    let run = tokio::process::Command::new("bash")
        .arg(script)
        .env("OP_PORT", port.to_string())
        .env("PATH", path)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("demo.sh should stop within 30 s")
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit {:?}\n{stdout}\n{stderr}", output.status);
    assert!(
        stderr.contains(&format!("port {port}")) && stderr.contains("set OP_PORT to a free port"),
        "the message names the port and OP_PORT: {stderr}"
    );
    assert!(!mark.exists(), "cargo was started: {stdout}");
    assert!(!stdout.contains("Open http://localhost:3000"), "{stdout}");
    let _ = std::fs::remove_dir_all(&trip);
    drop(held);
}
