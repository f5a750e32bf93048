//! Harness for the app: spawned on port 0 against a real provider from `tests/op`, driven by a
//! cookie-keeping HTTP client with redirects off, so each test sees every hop. The app is the
//! actix app or the axum example (`AppOptions.adapter`): both read the same configuration and
//! must behave the same, so the stories of sign-in run on both (`for_each_adapter!`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use logto_actix::config::{Config, TimeSource};
use logto_actix::startup::Application;
use logto_client::{Clock, SystemClock};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};

use logto_test_provider::{Login, ProviderOptions, TestClient, TestProvider, complete_authorization, http_client};

/// A session secret for tests (at least 64 characters).
pub const TEST_SESSION_SECRET: &str = "test-session-secret-0123456789-0123456789-0123456789-0123456789-xyz";

/// Which app serves: the actix app (`logto-actix`) or the axum example (`logto-axum-example`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Adapter {
    /// The app, on `logto-actix-web`.
    #[default]
    Actix,
    /// The axum example, on `logto-axum`.
    Axum,
}

/// How to configure the app under test, as an operator would through the environment.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Which app serves.
    pub adapter: Adapter,
    /// Extra environment variables (`LOGTO_SCOPES`, `SESSION_STORE`, ...).
    pub env: Vec<(&'static str, String)>,
    /// Serve as if behind https (`APP_BASE_URL=https://...`).
    pub https: bool,
    /// Point `LOGTO_ENDPOINT` somewhere else than the provider (e.g. a closed port).
    pub logto_endpoint: Option<String>,
    /// Timeout of calls to Logto.
    pub http_timeout: Option<Duration>,
    /// Options of the provider.
    pub provider: ProviderOptions,
    /// Register `{base}/backchannel-logout` as the client's back-channel logout URI.
    pub backchannel_logout: bool,
    /// Back-channel logout with "session required": ID and logout tokens carry Logto's `sid`.
    pub logout_sid_required: bool,
    /// Use this already registered client (id, secret) instead of registering one: another
    /// instance of the same app.
    pub client: Option<(String, String)>,
    /// The app's clock; a new one (the system's time) when `None`. Instances that share one see
    /// the same time.
    pub clock: Option<Arc<TestClock>>,
}

/// The system's time plus an offset the test moves forward: token lifetimes, session and
/// userinfo maximum ages pass without waiting. Only the app's notion of time moves: the provider
/// and Redis keep the real time, so what they expire themselves still needs real waiting.
#[derive(Debug, Default)]
pub struct TestClock(AtomicU64);

impl TestClock {
    /// Moves the clock forward by `by` (whole seconds, rounded up).
    pub fn advance(&self, by: Duration) {
        let seconds = by.as_secs() + u64::from(by.subsec_nanos() > 0);
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        SystemClock.now() + self.0.load(Ordering::SeqCst)
    }
}

/// The app under test, its provider, and a browser-like HTTP client.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The provider the app signs in with (shared when several app instances run).
    pub provider: Arc<TestProvider>,
    /// Cookie-keeping client with redirects off: the "browser".
    pub http: reqwest::Client,
    /// The app's client id at the provider.
    pub client_id: String,
    /// The app's client secret at the provider.
    pub client_secret: String,
    /// Which app serves.
    pub adapter: Adapter,
    /// The app's clock.
    pub clock: Arc<TestClock>,
}

impl TestApp {
    /// The app with default configuration.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(AppOptions::default()).await
    }

    /// The app of `adapter` with default configuration.
    pub async fn start(adapter: Adapter) -> TestApp {
        Self::spawn_with(AppOptions {
            adapter,
            ..AppOptions::default()
        })
        .await
    }

    /// The app configured by `options`.
    pub async fn spawn_with(options: AppOptions) -> TestApp {
        let provider = Arc::new(TestProvider::start_with(options.provider.clone()).await);
        Self::spawn_on(provider, options).await
    }

    /// Another instance of the app (or a restarted one), against the same provider.
    pub async fn spawn_on(provider: Arc<TestProvider>, options: AppOptions) -> TestApp {
        let _ = env_logger::builder().is_test(true).try_init();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().unwrap().port();
        let address = format!("http://127.0.0.1:{port}");
        let base_url = if options.https {
            format!("https://127.0.0.1:{port}")
        } else {
            address.clone()
        };
        let (client_id, client_secret) = options
            .client
            .clone()
            .unwrap_or_else(|| (format!("app-{port}"), format!("secret-{port}-0123456789")));
        if options.client.is_none() {
            provider
                .register_client_with_logout_sid(
                    &TestClient {
                        client_id: client_id.clone(),
                        client_secret: client_secret.clone(),
                        redirect_uris: vec![format!("{base_url}/callback")],
                        post_logout_redirect_uris: vec![format!("{base_url}/")],
                        backchannel_logout_uri: options
                            .backchannel_logout
                            .then(|| format!("{address}/backchannel-logout")),
                    },
                    options.logout_sid_required,
                )
                .await;
        }

        let mut env: HashMap<String, String> = HashMap::from([
            (
                "LOGTO_ENDPOINT".into(),
                options.logto_endpoint.clone().unwrap_or_else(|| provider.endpoint()),
            ),
            ("LOGTO_APP_ID".into(), client_id.clone()),
            ("LOGTO_APP_SECRET".into(), client_secret.clone()),
            ("APP_BASE_URL".into(), base_url),
            ("SESSION_SECRET".into(), TEST_SESSION_SECRET.into()),
        ]);
        env.extend(options.env.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
        config.logto.http_timeout = options.http_timeout.unwrap_or(Duration::from_secs(5));
        let clock = options.clock.clone().unwrap_or_default();
        config.time = TimeSource(clock.clone());

        match options.adapter {
            Adapter::Actix => {
                let app = Application::build_with_listener(config, listener)
                    .await
                    .expect("the app starts");
                tokio::spawn(app.run_until_stopped());
            }
            Adapter::Axum => {
                let app = logto_axum_example::Application::build_with_listener(config, listener)
                    .await
                    .expect("the axum example starts");
                tokio::spawn(app.run_until_stopped());
            }
        }
        TestApp {
            address,
            provider,
            http: http_client(),
            client_id,
            client_secret,
            adapter: options.adapter,
            clock,
        }
    }

    /// Moves the app's clock forward by `by` instead of waiting (see [`TestClock`]).
    pub fn advance_clock(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// The absolute URL of a path of the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET a path of the app with the browser's cookies.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("the app answers")
    }

    /// GET an absolute URL with the browser's cookies.
    pub async fn get_url(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("the server answers")
    }

    /// The text of a page of the app (status 200 expected), with HTML entities decoded.
    pub async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        unescape_html(&response.text().await.unwrap())
    }

    /// Starts a sign-in at `path` (e.g. `/sign-in`, `/sign-up`) and returns Logto's authorize URL.
    pub async fn start_sign_in(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert!(
            response.status().is_redirection(),
            "GET {path} redirects to Logto, got {}",
            response.status()
        );
        location(&response)
    }

    /// Signs in through `path` at the provider and returns the callback URL (not yet visited).
    pub async fn authorize(&self, path: &str, login: Login<'_>) -> String {
        let authorize_url = self.start_sign_in(path).await;
        complete_authorization(&self.http, &authorize_url, login)
            .await
            .to_string()
    }

    /// The whole sign-in: start at `path`, sign in at the provider, visit the callback.
    /// Returns the app's answer to the callback.
    pub async fn sign_in_via(&self, path: &str, login: Login<'_>) -> reqwest::Response {
        let callback = self.authorize(path, login).await;
        self.get_url(&callback).await
    }

    /// Signs in the seeded demo user with the password form.
    pub async fn sign_in_as_demo(&self) -> reqwest::Response {
        let response = self.sign_in_via("/sign-in", DEMO).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "the callback finishes sign-in"
        );
        response
    }

    /// The CSRF token from the sign-out form of a page.
    pub async fn csrf_token(&self) -> String {
        let html = self.page("/sign-out").await;
        hidden_input(&html, "csrf_token").expect("the sign-out page has a CSRF token")
    }

    /// POST /sign-out with a form body.
    pub async fn post_sign_out(&self, body: &str) -> reqwest::Response {
        self.http
            .post(self.url("/sign-out"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Another instance of this app (same client, same provider, same adapter) configured by
    /// `options`.
    pub async fn another_instance(&self, mut options: AppOptions) -> TestApp {
        options.adapter = self.adapter;
        options.client = Some((self.client_id.clone(), self.client_secret.clone()));
        options.clock.get_or_insert_with(|| self.clock.clone());
        TestApp::spawn_on(self.provider.clone(), options).await
    }

    /// A logout token for this app, signed by the provider as Logto signs it, naming `sub` (and no
    /// Logto session) under token id `jti`; `header` is the JWT header's extra fields.
    pub async fn logout_token(&self, header: serde_json::Value, jti: &str, sub: &str) -> String {
        let claims = serde_json::json!({
            "iss": self.provider.issuer(),
            "aud": self.client_id,
            "iat": logto_test_provider::unix_now(),
            "jti": jti,
            "sub": sub,
            "events": { logto_client::protocol::BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        self.provider
            .sign_jwt(header, claims, logto_test_provider::SignWith::Provider)
            .await
    }

    /// Posts `token` to the app's back-channel logout route, as Logto does, and returns the status.
    pub async fn post_logout_token(&self, token: &str) -> StatusCode {
        http_client()
            .post(self.url("/backchannel-logout"))
            .form(&[("logout_token", token)])
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The user ends their Logto session without going through this app (Logto then sends its
    /// back-channel logout tokens).
    pub async fn end_logto_session_elsewhere(&self) {
        let end_session = format!(
            "{}/session/end?client_id={}&post_logout_redirect_uri={}",
            self.provider.issuer(),
            self.client_id,
            url::form_urlencoded::byte_serialize(self.url("/").as_bytes()).collect::<String>()
        );
        logto_test_provider::complete_end_session(&self.http, &end_session).await;
    }

    /// The ID tokens the provider issued to this app, oldest first.
    pub async fn id_tokens(&self) -> Vec<String> {
        self.provider
            .issued_secrets()
            .await
            .into_iter()
            .filter(|secret| {
                secret.split('.').count() == 3 && {
                    let (_, claims) = logto_test_provider::jwt_parts(secret);
                    claims["aud"] == serde_json::json!(self.client_id) && claims.get("scope").is_none()
                }
            })
            .collect()
    }

    /// Whether the home page shows the signed-out view.
    pub async fn is_signed_out(&self) -> bool {
        let html = self.page("/").await;
        html.contains("href=\"/sign-in\"") && !html.contains("action=\"/sign-out\"")
    }
}

/// The seeded demo user of the provider.
pub const DEMO: Login<'static> = Login::Password {
    username: "demo",
    password: "demo-password",
};

/// The body of `url` fetched with `http`, whatever the status: what that browser would see.
pub async fn text_at(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> String {
    let response = http.get(url).send().await.expect("the server answers");
    response.text().await.expect("a text body")
}

/// The `Location` header of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("a Location header on {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// All `Set-Cookie` headers of a response.
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The app's session `Set-Cookie` header (`logto-session=...; attributes`), if the response sets it.
pub fn session_set_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with("logto-session="))
}

/// The `name=value` part of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

/// The value of a hidden input in a page.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> HashMap<String, Vec<String>> {
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::Url::parse(url).expect("an absolute URL").query_pairs() {
        params.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    params
}

/// `url` with one query parameter replaced (or removed when `value` is `None`).
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut pairs = parsed.query_pairs_mut();
        pairs.clear();
        for (k, v) in &kept {
            pairs.append_pair(k, v);
        }
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
    parsed.to_string()
}

/// Decodes the entities Tera's escaping produces, so tests can look for text as a person reads it.
pub fn unescape_html(html: &str) -> String {
    html.replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Eight `/profile` requests at once from `a`'s browser (one cookie jar), alternating between
/// instance `a` and instance `b` of the same app.
pub async fn profile_eight_times_over(a: &TestApp, b: &TestApp) -> Vec<reqwest::Response> {
    let requests = (0..8).map(|i| {
        let url = if i % 2 == 0 {
            a.url("/profile")
        } else {
            b.url("/profile")
        };
        let http = a.http.clone();
        async move { http.get(url).send().await.unwrap() }
    });
    futures::future::join_all(requests).await
}
