//! The verified-token cache behind `LogtoClient::verify_access_token`, on tokens signed by the
//! provider of `tests/op`: a token presented again skips its signature (counted through the
//! `metrics` facade, as an operator would see it) while every other check still runs, and the
//! cache forgets tokens at expiry, when their key leaves a refreshed key set, and when full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use logto_client::{
    AccessTokenRequirements, LogtoClient, LogtoError, OrganizationRequirement, TokenError, TokenKind,
    VerifiedAccessToken,
};
use logto_test_provider::{FailMode, ProviderOptions, SignWith, unix_now};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::{Value, json};

use crate::support::Fixture;

const RESOURCE: &str = "https://api.example.com";
const READ: &[&str] = &["read:messages"];

/// Counters by name and labels, e.g. `logto_client_access_token_signatures_total{source=cache}`.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn signatures(&self, source: &str) -> u64 {
        let name = format!("{}{{source={source}}}", logto_client::metrics::ACCESS_TOKEN_SIGNATURES);
        self.0
            .lock()
            .unwrap()
            .get(&name)
            .map_or(0, |count| count.load(Ordering::SeqCst))
    }
}

struct CountingRecorder(Arc<Counters>);

impl Recorder for CountingRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let count = self.0.0.lock().unwrap().entry(name).or_default().clone();
        Counter::from_arc(count)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

async fn fixture() -> Fixture {
    let options = ProviderOptions {
        resources: vec![(RESOURCE.into(), vec!["read:messages".into(), "write:messages".into()])],
        ..Default::default()
    };
    Fixture::start_with(options, |config| config.resources([RESOURCE])).await
}

/// Claims of a token for the resource, issued now, valid for an hour.
fn claims(fixture: &Fixture, jti: &str) -> Value {
    let now = unix_now();
    json!({
        "jti": jti, "sub": "user-demo", "client_id": fixture.app.client_id, "iss": fixture.provider.issuer(),
        "aud": RESOURCE, "iat": now, "exp": now + 3600, "scope": "read:messages",
    })
}

async fn sign(fixture: &Fixture, claims: Value, key: SignWith) -> String {
    fixture.provider.sign_jwt(json!({ "typ": "at+jwt" }), claims, key).await
}

async fn verify(
    client: &LogtoClient,
    token: &str,
    required: &AccessTokenRequirements<'_>,
) -> Result<VerifiedAccessToken, TokenError> {
    client
        .verify_access_token(token, required)
        .await
        .map_err(|error| match error {
            LogtoError::InvalidToken {
                kind: TokenKind::AccessToken,
                reason,
            } => reason,
            other => panic!("not an access token refusal: {other}"),
        })
}

#[tokio::test]
async fn a_token_seen_again_skips_its_signature_but_not_the_other_checks() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    // The test runs on one thread (tokio's current-thread runtime), so the client records here.
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let client = &fixture.client;
    let token = sign(&fixture, claims(&fixture, "t1"), SignWith::Provider).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);

    let first = verify(client, &token, &read).await.expect("the token verifies");
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (1, 0));
    let second = verify(client, &token, &read).await.expect("and again");
    assert_eq!(second, first);
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (1, 1),
        "the second time, no signature was checked"
    );

    // A route's own requirements are checked on the cached claims every time.
    assert_eq!(
        verify(
            client,
            &token,
            &AccessTokenRequirements::new(RESOURCE, &["write:messages"])
        )
        .await,
        Err(TokenError::InsufficientScope(vec!["write:messages".into()]))
    );
    assert_eq!(
        verify(
            client,
            &token,
            &AccessTokenRequirements::new("https://other.example.com", READ)
        )
        .await,
        Err(TokenError::WrongAudience)
    );
    let mut for_an_organization = AccessTokenRequirements::new(RESOURCE, READ);
    for_an_organization.organization = OrganizationRequirement::Any;
    assert_eq!(
        verify(client, &token, &for_an_organization).await,
        Err(TokenError::MissingClaim("organization_id"))
    );
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (1, 4));
    assert!(verify(client, &token, &read).await.is_ok(), "refusals did not drop it");

    // Expiry by the client's clock: past `exp` and the leeway the cached token is refused.
    fixture.clock.advance(3600 + 120);
    assert_eq!(verify(client, &token, &read).await, Err(TokenError::Expired));
    assert_eq!(verify(client, &token, &read).await, Err(TokenError::Expired));
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (3, 5),
        "an expired token is no longer answered from the cache"
    );
}

#[tokio::test]
async fn a_cached_token_keeps_its_custom_claims() {
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Custom {
        tenant_plan: String,
        seats: u32,
    }
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let mut with_custom = claims(&fixture, "t-custom");
    with_custom["tenant_plan"] = json!("pro");
    with_custom["seats"] = json!(7);
    let token = sign(&fixture, with_custom, SignWith::Provider).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);

    let first = verify(&fixture.client, &token, &read)
        .await
        .expect("the token verifies");
    let cached = verify(&fixture.client, &token, &read).await.expect("and again");
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (1, 1));
    let expected = Custom {
        tenant_plan: "pro".into(),
        seats: 7,
    };
    assert_eq!(first.custom::<Custom>().expect("custom claims"), expected);
    assert_eq!(
        cached.custom::<Custom>().expect("custom claims from the cache"),
        expected
    );
    assert_eq!(cached.extra_claims, first.extra_claims);
    assert!(
        !cached.extra_claims.contains_key("jti"),
        "checked-only claims are left out"
    );
}

#[tokio::test]
async fn a_cached_token_is_checked_against_the_clock_on_every_call() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let mut later = claims(&fixture, "t-nbf");
    // Within the keys' maximum age, so that the keys stay fresh meanwhile.
    later["nbf"] = json!(unix_now() + 300);
    let token = sign(&fixture, later, SignWith::Provider).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);

    assert_eq!(
        verify(&fixture.client, &token, &read).await,
        Err(TokenError::NotYetValid)
    );
    assert_eq!(
        verify(&fixture.client, &token, &read).await,
        Err(TokenError::NotYetValid)
    );
    fixture.clock.advance(300);
    assert!(verify(&fixture.client, &token, &read).await.is_ok());
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (1, 2),
        "its signature was checked once; the clock on every call"
    );
}

#[tokio::test]
async fn a_token_with_a_bad_signature_is_never_cached() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    // The genuine `kid`, the same claims as a genuine token, a key Logto never published.
    let forged = sign(&fixture, claims(&fixture, "t-forged"), SignWith::Foreign).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);

    for _ in 0..3 {
        assert_eq!(
            verify(&fixture.client, &forged, &read).await,
            Err(TokenError::BadSignature)
        );
    }
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (3, 0),
        "every presentation of the forgery had its signature checked"
    );
}

#[tokio::test]
async fn a_cached_token_is_refused_once_its_key_leaves_the_refreshed_key_set() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let client = &fixture.client;
    let token = sign(&fixture, claims(&fixture, "t-rotated"), SignWith::Provider).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);
    verify(client, &token, &read).await.expect("the token verifies");
    let fetches = fixture.provider.jwks_fetches().await;

    // A new key, the old one still published: after the keys' maximum age the refetched set
    // still has the token's key, which is verified again once, then cached.
    fixture.provider.rotate_keys("ES384", true).await;
    fixture.clock.advance(LogtoClient::KEYS_MAX_AGE.as_secs() + 1);
    verify(client, &token, &read).await.expect("its key is still published");
    assert_eq!(
        fixture.provider.jwks_fetches().await,
        fetches + 1,
        "the keys were refetched"
    );
    verify(client, &token, &read).await.expect("and cached again");
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (2, 1));

    // The token's key removed at Logto: trusted until the client next refreshes the keys (as
    // without the cache), refused from then on.
    fixture.provider.rotate_keys("ES384", false).await;
    verify(client, &token, &read)
        .await
        .expect("the client has not seen the new set yet");
    fixture.clock.advance(LogtoClient::KEYS_MAX_AGE.as_secs() + 1);
    assert_eq!(verify(client, &token, &read).await, Err(TokenError::UnknownKey));
    assert_eq!(verify(client, &token, &read).await, Err(TokenError::UnknownKey));
    assert!(fixture.provider.jwks_fetches().await >= fetches + 2);
    assert_eq!(
        counters.signatures("cache"),
        2,
        "nothing answered from the cache once the key was gone"
    );
}

#[tokio::test]
async fn while_the_keys_cannot_be_refetched_cached_tokens_are_still_answered_from_the_cache() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let client = &fixture.client;
    let token = sign(&fixture, claims(&fixture, "t-outage"), SignWith::Provider).await;
    let read = AccessTokenRequirements::new(RESOURCE, READ);
    verify(client, &token, &read).await.expect("the token verifies");

    // The keys are past their maximum age and Logto's key set fails: the refetch fails, the
    // stale keys are served (as without the cache), and the cache goes on answering meanwhile
    // rather than verifying every request's signature for as long as Logto is down.
    fixture.clock.advance(LogtoClient::KEYS_MAX_AGE.as_secs() + 1);
    fixture.provider.fail("/oidc/jwks", FailMode::Status500, None).await;
    verify(client, &token, &read).await.expect("stale keys still serve");
    verify(client, &token, &read).await.expect("and the cache too");
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (2, 1),
        "one signature check when the keys went stale, then the cache"
    );
}

#[tokio::test]
async fn the_cache_holds_no_more_than_its_capacity() {
    let counters = Arc::new(Counters::default());
    let recorder = CountingRecorder(counters.clone());
    let _recording = metrics::set_default_local_recorder(&recorder);
    let fixture = fixture().await;
    let client = LogtoClient::new(fixture.client.config().clone())
        .unwrap()
        .with_access_token_cache(2);
    let read = AccessTokenRequirements::new(RESOURCE, READ);
    let mut tokens = Vec::new();
    for n in 0..3 {
        tokens.push(sign(&fixture, claims(&fixture, &format!("t{n}")), SignWith::Provider).await);
    }
    for token in &tokens {
        verify(&client, token, &read).await.expect("verifies");
    }
    assert_eq!(counters.signatures("checked"), 3);

    // The newest two are kept; the first was evicted when the third came.
    verify(&client, &tokens[2], &read).await.unwrap();
    verify(&client, &tokens[1], &read).await.unwrap();
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (3, 2));
    verify(&client, &tokens[0], &read).await.unwrap();
    assert_eq!(
        (counters.signatures("checked"), counters.signatures("cache")),
        (4, 2),
        "the oldest token was no longer cached"
    );

    // A capacity of 0 checks every signature.
    let uncached = LogtoClient::new(fixture.client.config().clone())
        .unwrap()
        .with_access_token_cache(0);
    verify(&uncached, &tokens[0], &read).await.unwrap();
    verify(&uncached, &tokens[0], &read).await.unwrap();
    assert_eq!((counters.signatures("checked"), counters.signatures("cache")), (6, 2));
}
