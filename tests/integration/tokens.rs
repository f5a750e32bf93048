//! Tokens that stay fresh: refresh before expiry, one refresh grant however many requests need
//! it, a clean sign-out when Logto refuses the refresh token, and API resource and organization
//! tokens on the profile page — all in a cookie that never passes 4096 bytes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::app::{Adapter, AppOptions, TestApp, location, set_cookies, unescape_html};
use logto_test_provider::{FailMode, Login, ProviderOptions};

/// Access tokens of a minute: stale (refreshed) halfway, after 30 s on the app's clock, which
/// the tests move instead of waiting; at the provider they stay valid the whole test.
const SHORT_TTL: u64 = 60;

/// Userinfo read on every view of /profile, so that each view needs the userinfo access token.
fn userinfo_every_view(adapter: Adapter) -> AppOptions {
    AppOptions {
        adapter,
        env: vec![("LOGTO_USERINFO_MAX_AGE_SECS", "0".into())],
        ..Default::default()
    }
}

async fn app_with_short_tokens(adapter: Adapter) -> TestApp {
    let app = TestApp::spawn_with(userinfo_every_view(adapter)).await;
    app.provider.set_ttl(Some(SHORT_TTL), None, None).await;
    app
}

/// Past the access tokens' half life on the app's clock.
fn let_tokens_go_stale(app: &TestApp) {
    app.advance_clock(Duration::from_secs(SHORT_TTL / 2 + 1));
}

fn refresh_grants(stats: &logto_test_provider::Stats) -> u64 {
    stats.grants.get("refresh_token").copied().unwrap_or(0)
}

for_each_adapter!(an_expiring_access_token_is_refreshed_on_the_next_profile_view);
async fn an_expiring_access_token_is_refreshed_on_the_next_profile_view(adapter: Adapter) {
    let app = app_with_short_tokens(adapter).await;
    app.sign_in_as_demo().await;
    assert!(app.page("/profile").await.contains("Demo User"));
    assert_eq!(
        refresh_grants(&app.provider.stats().await),
        0,
        "the sign-in token is still fresh"
    );

    let_tokens_go_stale(&app);
    assert!(app.page("/profile").await.contains("Demo User"));
    assert_eq!(refresh_grants(&app.provider.stats().await), 1);
    assert!(app.page("/profile").await.contains("Demo User"));
    assert_eq!(
        refresh_grants(&app.provider.stats().await),
        1,
        "the refreshed token is reused from the session"
    );
}

for_each_adapter!(eight_concurrent_requests_after_expiry_send_exactly_one_refresh_grant);
async fn eight_concurrent_requests_after_expiry_send_exactly_one_refresh_grant(adapter: Adapter) {
    let app = app_with_short_tokens(adapter).await;
    // Rotate on every refresh: a second grant with the old refresh token would revoke everything.
    app.provider.set_refresh_rotation(true).await;
    app.sign_in_as_demo().await;
    let_tokens_go_stale(&app);

    let requests = (0..8).map(|_| async { app.get("/profile").await });
    let responses = futures::future::join_all(requests).await;
    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.text().await.unwrap().contains("Demo User"));
    }
    assert_eq!(refresh_grants(&app.provider.stats().await), 1);
    // The session carries on with the rotated refresh token.
    let_tokens_go_stale(&app);
    assert!(app.page("/profile").await.contains("Demo User"));
    assert_eq!(refresh_grants(&app.provider.stats().await), 2);
}

for_each_adapter!(when_logto_revokes_the_grant_the_visitor_is_signed_out_cleanly);
async fn when_logto_revokes_the_grant_the_visitor_is_signed_out_cleanly(adapter: Adapter) {
    let app = app_with_short_tokens(adapter).await;
    app.sign_in_as_demo().await;
    app.provider.revoke_grants(Some("user-demo")).await;
    let_tokens_go_stale(&app);

    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/sign-in?return_to=%2Fprofile");
    assert!(app.is_signed_out().await);
}

for_each_adapter!(a_failing_token_endpoint_shows_502_and_keeps_the_session);
async fn a_failing_token_endpoint_shows_502_and_keeps_the_session(adapter: Adapter) {
    let app = app_with_short_tokens(adapter).await;
    app.sign_in_as_demo().await;
    let_tokens_go_stale(&app);

    app.provider.fail("/oidc/token", FailMode::Status500, Some(1)).await;
    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(page.contains("not answering"), "{page}");
    assert!(
        !page.contains("Sign in again"),
        "a signed-in reader is not asked to sign in: {page}"
    );

    assert!(
        app.page("/").await.contains("Signed in as Demo User"),
        "still signed in"
    );
    assert!(
        app.page("/profile").await.contains("Demo User"),
        "works again once Logto does"
    );
}

/// A provider with `count` API resources, a user in two organizations, and the app asking for all.
async fn app_with_resources_and_organizations(count: usize) -> TestApp {
    let resources: Vec<String> = (1..=count).map(|i| format!("https://api{i}.example.com")).collect();
    let app = TestApp::spawn_with(AppOptions {
        env: vec![
            ("LOGTO_RESOURCES", resources.join(" ")),
            (
                "LOGTO_SCOPES",
                "email identities roles read:items urn:logto:scope:organizations".into(),
            ),
        ],
        provider: ProviderOptions {
            resources: resources
                .iter()
                .map(|r| (r.clone(), vec!["read:items".into(), "write:items".into()]))
                .collect(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    app.provider
        .add_user(json!({
            "sub": "user-org", "username": "orgie", "password": "org-password", "name": "Org Member",
            "email": "org@example.com", "organizations": ["org-a", "org-b"], "roles": ["admin"]
        }))
        .await;
    app
}

async fn sign_in_as_org_member(app: &TestApp) {
    let response = app
        .sign_in_via(
            "/sign-in",
            Login::Password {
                username: "orgie",
                password: "org-password",
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

/// Makes `organization` the active one, through the profile's switcher form.
async fn choose_organization(app: &TestApp, organization: &str) {
    let csrf = app.csrf_token().await;
    let response = app
        .http
        .post(app.url("/organization"))
        .form(&[("csrf_token", csrf.as_str()), ("organization_id", organization)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_profile_shows_resource_and_organization_token_claims_but_no_token() {
    let app = app_with_resources_and_organizations(1).await;
    sign_in_as_org_member(&app).await;

    let profile = app.page("/profile").await;
    assert!(
        profile.contains("data-resource=\"https://api1.example.com\""),
        "{profile}"
    );
    assert!(profile.contains("read:items"), "granted scope shown");
    assert!(!profile.contains("write:items"), "only what was requested is granted");
    for org in ["org-a", "org-b"] {
        assert!(profile.contains(&format!("data-organization=\"{org}\"")), "{profile}");
    }
    // The active organization's tokens: its organization token and its token for the resource.
    choose_organization(&app, "org-b").await;
    let profile = app.page("/profile").await;
    assert!(profile.contains("urn:logto:organization:org-b"), "{profile}");
    assert!(profile.contains("data-organization-resource=\"https://api1.example.com\""));
    assert!(profile.contains("admin"), "roles shown");
    assert!(
        profile.contains(" min</dd>") && !profile.contains(" s</dd>"),
        "expiry in minutes: {profile}"
    );
    assert!(!profile.contains("eyJ"), "no JWT on the page");
}

#[tokio::test]
async fn with_three_resources_and_two_organizations_cached_the_cookie_stays_under_4096_bytes() {
    let app = app_with_resources_and_organizations(3).await;
    sign_in_as_org_member(&app).await;
    // Both organizations' tokens, each with three organization-scoped resource tokens.
    choose_organization(&app, "org-a").await;
    assert_eq!(app.get("/profile").await.status(), StatusCode::OK);
    choose_organization(&app, "org-b").await;

    for _ in 0..2 {
        let response = app.get("/profile").await;
        assert_eq!(response.status(), StatusCode::OK);
        for cookie in set_cookies(&response) {
            let name_value = cookie.split(';').next().unwrap();
            assert!(name_value.len() <= 4096, "cookie of {} bytes", name_value.len());
        }
        let page = unescape_html(&response.text().await.unwrap());
        assert!(
            page.contains("data-resource=\"https://api3.example.com\"")
                && page.contains("data-organization-token=\"org-b\"")
                && page.contains("data-organization-resource=\"https://api3.example.com\"")
        );
    }
    assert!(
        app.page("/").await.contains("Signed in as Org Member"),
        "still signed in"
    );
}

for_each_adapter!(fresh_userinfo_about_another_user_is_refused_on_the_profile);
async fn fresh_userinfo_about_another_user_is_refused_on_the_profile(adapter: Adapter) {
    let app = TestApp::spawn_with(userinfo_every_view(adapter)).await;
    app.sign_in_as_demo().await;
    app.provider
        .forge_next_userinfo(json!({ "sub": "someone-else", "name": "Mallory" }))
        .await;

    let response = app.get("/profile").await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let page = response.text().await.unwrap();
    assert!(!page.contains("Mallory"), "nothing of the other user is shown");
    assert!(!app.page("/").await.contains("Mallory"), "nor kept in the session");
    assert!(
        app.page("/profile").await.contains("Demo User"),
        "the next, genuine answer works"
    );
}

for_each_adapter!(the_profile_reads_userinfo_at_most_once_per_max_age);
async fn the_profile_reads_userinfo_at_most_once_per_max_age(adapter: Adapter) {
    let app = TestApp::spawn_with(AppOptions {
        adapter,
        env: vec![("LOGTO_USERINFO_MAX_AGE_SECS", "60".into())],
        ..Default::default()
    })
    .await;
    let userinfo_calls = async || {
        app.provider
            .stats()
            .await
            .requests
            .get("/oidc/me")
            .copied()
            .unwrap_or(0)
    };
    app.sign_in_as_demo().await;
    assert_eq!(userinfo_calls().await, 1, "sign-in reads userinfo");
    for _ in 0..3 {
        assert!(app.page("/profile").await.contains("Demo User"));
    }
    assert_eq!(userinfo_calls().await, 1, "fresh enough: no call to Logto");

    app.advance_clock(Duration::from_secs(61));
    // What Logto says now shows once the copy is too old, and the sub check still holds.
    app.provider
        .forge_next_userinfo(json!({ "name": "Demo Renamed" }))
        .await;
    assert!(app.page("/profile").await.contains("Demo Renamed"));
    assert!(
        app.page("/profile").await.contains("Demo Renamed"),
        "kept in the session"
    );
    assert_eq!(userinfo_calls().await, 2);

    // A new sign-in starts from fresh userinfo.
    app.sign_in_as_demo().await;
    assert_eq!(userinfo_calls().await, 3);
    assert!(app.page("/profile").await.contains("Demo User"));
    assert_eq!(userinfo_calls().await, 3);
}

for_each_adapter!(a_profile_view_that_changes_nothing_leaves_the_session_cookie_alone);
async fn a_profile_view_that_changes_nothing_leaves_the_session_cookie_alone(adapter: Adapter) {
    let app = TestApp::spawn_with(userinfo_every_view(adapter)).await;
    app.sign_in_as_demo().await;
    for _ in 0..2 {
        let response = app.get("/profile").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            set_cookies(&response).is_empty(),
            "userinfo changed nothing: no session write, no Set-Cookie"
        );
    }

    app.provider
        .forge_next_userinfo(json!({ "name": "Demo Renamed" }))
        .await;
    let response = app.get("/profile").await;
    assert!(!set_cookies(&response).is_empty(), "a change is written");
    assert!(response.text().await.unwrap().contains("Demo Renamed"));
    assert!(app.page("/").await.contains("Demo Renamed"), "and kept in the session");
}
