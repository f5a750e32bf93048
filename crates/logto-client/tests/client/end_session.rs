//! Sign-out with `id_token_hint`: the end-session URL carries the sign-in's own ID token, the
//! app's `client_id` and where to come back, and Logto ends that session without asking.

use logto_test_provider::complete_end_session;

use crate::support::Fixture;

#[tokio::test]
async fn the_end_session_url_carries_the_id_token_as_a_hint() {
    let fixture = Fixture::start().await;
    let signed_in = fixture.sign_in().await.expect("signed in");
    let url = fixture
        .client
        .end_session_url_for(&signed_in.raw_id_token)
        .await
        .unwrap()
        .expect("an end-session URL");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(value("id_token_hint"), Some(signed_in.raw_id_token.secret()));
    assert_eq!(value("client_id"), Some(fixture.app.client_id.as_str()));
    assert_eq!(value("post_logout_redirect_uri"), Some("http://127.0.0.1:9/"));

    // Logto checks the hint (its own, for this app) and sends the browser back.
    let back = complete_end_session(&fixture.browser, url.as_str()).await;
    assert_eq!(back.as_str(), "http://127.0.0.1:9/");
    let stats = fixture.provider.stats().await;
    assert_eq!(stats.end_sessions, 1);
    let sent = stats.end_session_params.last().expect("an end-session request");
    assert_eq!(sent["id_token_hint"], signed_in.raw_id_token.secret());
}

#[tokio::test]
async fn an_expired_id_token_is_still_a_good_hint() {
    let fixture = Fixture::start().await;
    // A session keeps the sign-in's ID token for as long as it lives, past the token's expiry.
    fixture.provider.set_ttl(None, Some(1), None).await;
    let signed_in = fixture.sign_in().await.expect("signed in");
    // Past its expiry for the provider and for the client alike; both clocks move, nothing waits.
    fixture.provider.advance_clock(std::time::Duration::from_secs(2)).await;
    fixture.clock.advance(2);
    let url = fixture
        .client
        .end_session_url_for(&signed_in.raw_id_token)
        .await
        .unwrap()
        .unwrap();
    let back = complete_end_session(&fixture.browser, url.as_str()).await;
    assert_eq!(back.as_str(), "http://127.0.0.1:9/");
    assert_eq!(fixture.provider.stats().await.end_sessions, 1);
}

#[tokio::test]
async fn logto_refuses_a_hint_it_did_not_sign() {
    let fixture = Fixture::start().await;
    let signed_in = fixture.sign_in().await.expect("signed in");
    // The same token with its signature cut: what the provider must refuse, so a genuine hint
    // is what made the sign-out above go through.
    let raw = signed_in.raw_id_token.secret();
    let forged = logto_client::IdToken::new(format!("{}.AAAA", raw.rsplit_once('.').unwrap().0));
    let url = fixture.client.end_session_url_for(&forged).await.unwrap().unwrap();
    let answer = fixture.browser.get(url).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(fixture.provider.stats().await.end_sessions, 0);
}
