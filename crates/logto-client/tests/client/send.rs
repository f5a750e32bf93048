//! Every public future of `LogtoClient` is `Send`, so that axum handlers (which require it) and
//! `tokio::spawn` take them. Each check below is one method: it fails to compile, not to run,
//! when that method's future stops being `Send` (an async closure in its path is enough).
//! The last test spawns real sign-ins and refreshes onto a multi-threaded runtime.

use logto_client::{
    AccessToken, AccessTokenRequirements, Audience, CallbackParams, ClientSecret, IdToken, LogtoClient, LogtoConfig,
    Nonce, PendingSignIn, RefreshToken, SignInOptions, Url,
};
use logto_test_provider::ProviderOptions;

use crate::support::{DEMO, Fixture};

/// Compiles only when `future` is `Send` (and `'static`-free: it borrows the client, as a handler's
/// future does).
fn require_send<F: Future + Send>(future: F) -> F {
    future
}

fn client() -> LogtoClient {
    LogtoClient::new(
        LogtoConfig::builder(
            Url::parse("https://tenant.logto.app").unwrap(),
            "app",
            ClientSecret::new("secret"),
            Url::parse("https://app.example.com/callback").unwrap(),
        )
        .build(),
    )
    .unwrap()
}

/// A pending sign-in, from a stored session (futures are never polled here).
fn pending() -> PendingSignIn {
    serde_json::from_str(r#"{"s":"state","v":"verifier","n":"nonce","t":0}"#).unwrap()
}

/// Checks that one method's future is `Send`, by name: `send_check!(name, |client| future)`.
macro_rules! send_check {
    ($name:ident, |$client:ident| $future:expr) => {
        #[test]
        fn $name() {
            let $client = client();
            // Built and dropped, never polled: the check is the type's.
            drop(require_send($future));
        }
    };
}

send_check!(metadata_is_send, |c| c.metadata());
send_check!(cached_metadata_is_send, |c| c.cached_metadata());
send_check!(load_keys_is_send, |c| c.load_keys());
send_check!(check_credentials_is_send, |c| c.check_credentials());
send_check!(sign_in_is_send, |c| c.sign_in(&SignInOptions::sign_in()));
send_check!(finish_sign_in_is_send, |c| c
    .finish_sign_in(&CallbackParams::default(), &pending()));
send_check!(verify_id_token_is_send, |c| c
    .verify_id_token(&IdToken::new("t"), Some(&Nonce::new("n"))));
send_check!(verify_logout_token_is_send, |c| c.verify_logout_token("t"));
send_check!(verify_access_token_is_send, |c| c.verify_access_token(
    "t",
    &AccessTokenRequirements::new("https://api.example.com", &["read"])
));
send_check!(fetch_userinfo_is_send, |c| c
    .fetch_userinfo(&AccessToken::new("t"), "sub"));
send_check!(refresh_is_send, |c| c.refresh(
    &RefreshToken::new("r"),
    &Audience::Userinfo,
    "sub"
));
send_check!(refresh_grant_is_send, |c| c.refresh_grant(
    &RefreshToken::new("r"),
    &Audience::organization_resource("https://api.example.com", "org"),
    "sub"
));
send_check!(revoke_is_send, |c| c.revoke(&RefreshToken::new("r")));
send_check!(end_session_url_is_send, |c| c.end_session_url());
send_check!(end_session_url_for_is_send, |c| c
    .end_session_url_for(&IdToken::new("t")));

/// The client and what its calls give back cross threads too.
#[test]
fn the_client_and_its_results_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LogtoClient>();
    send_sync::<logto_client::SignedIn>();
    send_sync::<logto_client::Refreshed>();
    send_sync::<logto_client::LogtoError>();
    send_sync::<logto_client::SignInError>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_refresh_run_in_spawned_tasks() {
    let options = ProviderOptions::default();
    let fixture = std::sync::Arc::new(Fixture::start_with(options, |config| config).await);
    let (params, pending) = fixture.authorize_as(DEMO).await;
    let task = {
        let fixture = fixture.clone();
        tokio::spawn(async move { fixture.client.finish_sign_in(&params, &pending).await })
    };
    let signed_in = task.await.unwrap().expect("signed in on another task");
    let refresh_token = signed_in.refresh_token.expect("a refresh token");
    let task = {
        let fixture = fixture.clone();
        tokio::spawn(async move {
            fixture
                .client
                .refresh(&refresh_token, &Audience::Userinfo, "user-demo")
                .await
        })
    };
    let refreshed = task.await.unwrap().expect("refreshed on another task");
    let task = {
        let fixture = fixture.clone();
        let raw = signed_in.raw_id_token.clone();
        tokio::spawn(async move { fixture.client.verify_id_token(&raw, None).await })
    };
    assert_eq!(task.await.unwrap().expect("verified").sub, "user-demo");
    assert!(refreshed.access_token.expires_at > refreshed.access_token.obtained_at);
}
