//! The three ways in — sign in, create an account, continue with Hugging Face — and the
//! protected profile page.

use reqwest::StatusCode;

use crate::helpers::app::{Adapter, AppOptions, DEMO, TestApp, location, query_of};
use logto_test_provider::{Login, ProviderOptions};

for_each_adapter!(a_visitor_signs_in_with_the_form_and_sees_who_they_are);
async fn a_visitor_signs_in_with_the_form_and_sees_who_they_are(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    assert!(app.is_signed_out().await);

    let response = app.sign_in_as_demo().await;
    assert_eq!(location(&response), "/");

    let home = app.page("/").await;
    assert!(home.contains("Signed in as Demo User"), "{home}");
    assert!(home.contains("demo@example.com"));
    assert!(home.contains("action=\"/sign-out\""));
    assert!(!home.contains("Continue with Hugging Face"));
}

for_each_adapter!(the_authorization_request_carries_pkce_nonce_consent_and_every_scope_and_resource);
async fn the_authorization_request_carries_pkce_nonce_consent_and_every_scope_and_resource(adapter: Adapter) {
    let api = "https://api.example.com";
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![
            ("LOGTO_RESOURCES", api.into()),
            ("LOGTO_SCOPES", "email identities read:items".into()),
        ],
        provider: ProviderOptions {
            resources: vec![(api.into(), vec!["read:items".into()])],
            ..Default::default()
        },
        ..Default::default()
    })
    .await;

    let authorize = app.start_sign_in("/sign-in").await;
    assert!(
        authorize.starts_with(&format!("{}/auth?", app.provider.issuer())),
        "{authorize}"
    );
    let params = query_of(&authorize);
    let one = |name: &str| params.get(name).map(|v| v[0].as_str());
    assert_eq!(one("client_id"), Some(app.client_id.as_str()));
    assert_eq!(one("redirect_uri"), Some(app.url("/callback").as_str()));
    assert_eq!(one("response_type"), Some("code"));
    assert_eq!(one("code_challenge_method"), Some("S256"));
    assert_eq!(one("prompt"), Some("consent"));
    assert!(one("code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(one("state").is_some_and(|s| s.len() >= 16));
    assert!(one("nonce").is_some_and(|n| n.len() >= 16));
    assert_ne!(one("state"), one("nonce"));
    let scopes: Vec<&str> = one("scope").unwrap().split(' ').collect();
    for scope in [
        "openid",
        "offline_access",
        "profile",
        "email",
        "identities",
        "read:items",
    ] {
        assert!(scopes.contains(&scope), "scope {scope} in {scopes:?}");
    }
    assert_eq!(params.get("resource"), Some(&vec![api.to_owned()]));
    assert_eq!(one("first_screen"), None);
    assert_eq!(one("direct_sign_in"), None);

    // The provider accepts all of it: the sign-in goes through with the resource granted.
    let callback = logto_test_provider::complete_authorization(&app.http, &authorize, DEMO).await;
    let response = app.get_url(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(app.page("/").await.contains("Demo User"));
}

for_each_adapter!(a_new_visitor_creates_an_account_and_is_signed_in_as_the_new_user);
async fn a_new_visitor_creates_an_account_and_is_signed_in_as_the_new_user(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let authorize = app.start_sign_in("/sign-up").await;
    assert_eq!(
        query_of(&authorize).get("first_screen"),
        Some(&vec!["register".to_owned()])
    );

    let login = Login::Register {
        username: "grace",
        password: "a-long-password-1",
        name: "Grace Hopper",
        email: "grace@example.com",
    };
    let callback = logto_test_provider::complete_authorization(&app.http, &authorize, login).await;
    let response = app.get_url(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let home = app.page("/").await;
    assert!(home.contains("Signed in as Grace Hopper"), "{home}");
    assert!(home.contains("grace@example.com"));
}

for_each_adapter!(continue_with_hugging_face_shows_the_hugging_face_username);
async fn continue_with_hugging_face_shows_the_hugging_face_username(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let authorize = app.start_sign_in("/sign-in/huggingface").await;
    assert_eq!(
        query_of(&authorize).get("direct_sign_in"),
        Some(&vec!["social:huggingface".to_owned()])
    );

    let callback = logto_test_provider::complete_authorization(&app.http, &authorize, Login::Direct).await;
    assert_eq!(app.get_url(callback.as_str()).await.status(), StatusCode::SEE_OTHER);

    let home = app.page("/").await;
    assert!(home.contains("Signed in as Ada Lovelace"), "{home}");
    // From userinfo's identities.huggingface.details.rawData.preferred_username: the ID token lacks it.
    assert!(home.contains("@ada-hf"), "{home}");

    let profile = app.page("/profile").await;
    assert!(profile.contains("@ada-hf"));
    assert!(profile.contains("href=\"https://huggingface.co/ada-hf\""));
}

for_each_adapter!(the_profile_asks_a_signed_out_visitor_to_sign_in_and_brings_them_back);
async fn the_profile_asks_a_signed_out_visitor_to_sign_in_and_brings_them_back(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?return_to=%2Fprofile");

    let callback = app.authorize("/sign-in?return_to=%2Fprofile", DEMO).await;
    let response = app.get_url(&callback).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");

    let profile = app.page("/profile").await;
    assert!(profile.contains("Your profile"));
    assert!(profile.contains("Demo User"));
    assert!(profile.contains("user-demo"));
    assert!(profile.contains("No Hugging Face account is linked"));
}

for_each_adapter!(a_return_to_that_leaves_the_site_falls_back_to_home);
async fn a_return_to_that_leaves_the_site_falls_back_to_home(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    for evil in [
        "https%3A%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "javascript%3Aalert(1)",
        // `/.//evil.example`: normalised, it would become `//evil.example`.
        "%2F.%2F%2Fevil.example",
    ] {
        let callback = app.authorize(&format!("/sign-in?return_to={evil}"), DEMO).await;
        let response = app.get_url(&callback).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/", "return_to={evil}");
    }
}

for_each_adapter!(two_tabs_can_each_start_a_sign_in_and_finish_either);
async fn two_tabs_can_each_start_a_sign_in_and_finish_either(adapter: Adapter) {
    let app = TestApp::start(adapter).await;
    let first = app.start_sign_in("/sign-in?return_to=%2Fprofile").await;
    let _second = app.start_sign_in("/sign-in").await;
    let callback = logto_test_provider::complete_authorization(&app.http, &first, DEMO).await;
    let response = app.get_url(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/profile");
}
