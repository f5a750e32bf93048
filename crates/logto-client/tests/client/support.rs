//! A client signed in against the Logto-shaped provider of `tests/op`, with a browser-like HTTP
//! client and a clock the test can move.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use logto_client::{
    CallbackParams, ClientSecret, Clock, LogtoClient, LogtoConfig, LogtoConfigBuilder, PendingSignIn, SignInError,
    SignInOptions, SignedIn, SystemClock, Url,
};
use logto_test_provider::{Login, ProviderOptions, TestClient, TestProvider, complete_authorization, http_client};

/// The seeded demo user.
pub const DEMO: Login<'static> = Login::Password {
    username: "demo",
    password: "demo-password",
};

/// The system clock, moved forward by what the test adds.
#[derive(Default)]
pub struct TestClock(AtomicU64);

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// A provider, an app registered with it, and a client for that app.
pub struct Fixture {
    /// The running provider.
    pub provider: TestProvider,
    /// The app as registered with the provider.
    pub app: TestClient,
    /// The client under test.
    pub client: LogtoClient,
    /// The client's clock.
    pub clock: Arc<TestClock>,
    /// The browser: keeps the provider's cookies, follows no redirect.
    pub browser: reqwest::Client,
}

impl Fixture {
    /// A provider with Logto's defaults and a client with no extra scopes.
    pub async fn start() -> Self {
        Self::start_with(ProviderOptions::default(), |config| config).await
    }

    /// A provider with `options`, and a client configured further by `configure`.
    pub async fn start_with(
        options: ProviderOptions,
        configure: impl FnOnce(LogtoConfigBuilder) -> LogtoConfigBuilder,
    ) -> Self {
        let provider = TestProvider::start_with(options).await;
        let app = TestClient {
            client_id: "client-test".into(),
            client_secret: "client-test-secret-0123456789".into(),
            // Never fetched: the harness stops at the first redirect away from the provider.
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/".into()],
            backchannel_logout_uri: None,
        };
        provider.register_client(&app).await;
        let config = configure(
            LogtoConfig::builder(
                Url::parse(&provider.endpoint()).unwrap(),
                app.client_id.clone(),
                ClientSecret::new(app.client_secret.clone()),
                Url::parse(&app.redirect_uris[0]).unwrap(),
            )
            .post_sign_out_redirect_uri(Url::parse(&app.post_logout_redirect_uris[0]).unwrap())
            .timeout(std::time::Duration::from_secs(5)),
        )
        .build();
        let clock = Arc::new(TestClock::default());
        let client = LogtoClient::new(config).unwrap().with_clock(clock.clone());
        Fixture {
            provider,
            app,
            client,
            clock,
            browser: http_client(),
        }
    }

    /// Starts a sign-in and signs the demo user in at the provider: the callback's parameters
    /// and the pending sign-in they answer.
    pub async fn authorize(&self) -> (CallbackParams, PendingSignIn) {
        self.authorize_as(DEMO).await
    }

    /// [`Self::authorize`] as someone else.
    pub async fn authorize_as(&self, login: Login<'_>) -> (CallbackParams, PendingSignIn) {
        self.authorize_with(&SignInOptions::sign_in(), login).await
    }

    /// [`Self::authorize`] as someone else, with these sign-in options.
    pub async fn authorize_with(&self, options: &SignInOptions, login: Login<'_>) -> (CallbackParams, PendingSignIn) {
        let request = self.client.sign_in(options).await.expect("a sign-in URL");
        let callback = complete_authorization(&self.browser, request.url.as_str(), login).await;
        let params = CallbackParams::parse(callback.query().unwrap_or_default()).expect("a well-formed callback");
        (params, request.pending)
    }

    /// A whole sign-in of the demo user.
    pub async fn sign_in(&self) -> Result<SignedIn, SignInError> {
        let (params, pending) = self.authorize().await;
        self.client.finish_sign_in(&params, &pending).await
    }

    /// A whole sign-in as `login`.
    pub async fn sign_in_as(&self, login: Login<'_>) -> Result<SignedIn, SignInError> {
        let (params, pending) = self.authorize_as(login).await;
        self.client.finish_sign_in(&params, &pending).await
    }
}
