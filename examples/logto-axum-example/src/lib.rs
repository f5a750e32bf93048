//! The sign-in of the logto-actix app on axum, through `logto-axum`: the same environment (read by
//! the shared `logto-app-config`), the same auth routes and the same observable behaviour, with
//! plain English pages. `main.rs` reads the configuration; this builds the server, so that tests
//! can start it in-process on a listener of their own.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, get};
use logto_app_config::{ApiSettings, Config, SessionStoreKind};
use logto_axum::{
    CookieStore, DEFAULT_REDIS_TIMEOUT, DirectSignIn, Key, LogtoAxum, LogtoClient, LogtoError, LogtoWeb, ProtectedApi,
    RedisStore, RequireScopes, SessionStore, SignInOptions,
};

mod api;
mod error_page;
mod layers;
mod pages;
mod readiness;

use layers::{CanonicalHost, SecurityHeaders};
use readiness::Readiness;

pub use logto_app_config::shutdown::SHUTDOWN_TIMEOUT;
use logto_app_config::shutdown::stop_signal;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// Address tried.
        address: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The Logto client could not be built.
    #[error("Logto client: {0}")]
    Logto(#[from] LogtoError),
    /// Redis could not be reached.
    #[error("Redis session store: {0}; check REDIS_URL and that Redis runs")]
    Redis(#[source] logto_axum::logto_web::StoreError),
    /// The listener could not be used.
    #[error("server: {0}")]
    Server(std::io::Error),
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl Application {
    /// Binds `HOST:PORT` from the configuration and builds the server.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let address = config.server.listen;
        let listener = std::net::TcpListener::bind(address).map_err(|source| StartupError::Bind {
            address: address.to_string(),
            source,
        })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the server on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(config: Config, listener: std::net::TcpListener) -> Result<Self, StartupError> {
        listener.set_nonblocking(true).map_err(StartupError::Server)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(StartupError::Server)?;
        let client = config.logto_client()?;
        // Each Redis call is bounded: a hung Redis costs a request a 503 within seconds.
        let store: Arc<dyn SessionStore> = match &config.session.store {
            SessionStoreKind::Cookie => Arc::new(CookieStore::new(config.session.max_age)),
            SessionStoreKind::Redis(settings) => {
                let store = RedisStore::connect_to(&settings.target(), "REDIS_URL", DEFAULT_REDIS_TIMEOUT)
                    .await
                    .map_err(StartupError::Redis)?
                    .with_max_age(config.session.max_age);
                // Sealed under a key of its own derived from SESSION_SECRET, as the app's: both
                // apps (and every instance) open the same sessions.
                Arc::new(match &config.session.secret {
                    Some(secret) => store.with_secret(secret.expose().as_bytes()),
                    None => store,
                })
            }
        };
        let redis = matches!(config.session.store, SessionStoreKind::Redis(_));
        let web = logto_web(client, &config, store);
        let logto = LogtoAxum::new(web, session_key(&config), config.is_https());
        let router = router(&config, logto, redis);
        Ok(Self { listener, router })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until SIGTERM or SIGINT, then lets requests in flight finish (at most
    /// [`SHUTDOWN_TIMEOUT`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(
            self.listener,
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop_signal().await;
            let _ = stopping.send(());
        })
        .into_future();
        let mut serve = std::pin::pin!(serve);
        tokio::select! {
            result = &mut serve => result,
            _ = stopped => match tokio::time::timeout(SHUTDOWN_TIMEOUT, serve).await {
                Ok(result) => result,
                Err(_) => {
                    log::warn!("requests still in flight after {}s: stopping anyway", SHUTDOWN_TIMEOUT.as_secs());
                    Ok(())
                }
            },
        }
    }
}

/// The routes and layers. From the outside in: security headers on every response, the host-name
/// redirect (before any cookie is written), error pages, the session, then the pages and sign-in.
fn router(config: &Config, logto: LogtoAxum, redis: bool) -> Router {
    let readiness = Arc::new(Readiness::new(logto.web().clone(), redis));
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/profile", get(pages::profile))
        .merge(logto.router_with_sign_out_page(Some(get(pages::sign_out_page))))
        // Inside the session, so that a page knows whether its reader is signed in.
        .layer(from_fn(error_page::render))
        .layer(logto.session_layer());
    let mut app = pages
        .route("/healthz", get(pages::healthz))
        .route("/readyz", get(readiness::readyz).with_state(readiness))
        .fallback(pages::no_such_page);
    if let Some(api) = &config.api {
        app = app.merge(api_routes(api, &logto));
    }
    app
        // Outside the session: what the session layer itself refused (the store down while
        // writing), unknown paths and wrong methods.
        .layer(from_fn(error_page::render))
        .layer(from_fn_with_state(
            CanonicalHost::new(&config.server.base_url, logto.web()),
            layers::redirect_to_canonical_host,
        ))
        .layer(from_fn_with_state(
            SecurityHeaders::new(&config.logto.endpoint, config.is_https()),
            layers::security_headers,
        ))
}

/// `/api/…`: bearer tokens only, no session (cookies are never read there).
fn api_routes(config: &ApiSettings, logto: &LogtoAxum) -> Router {
    let api = ProtectedApi::with_web(logto.web(), config.resource.clone());
    let me = get(api::me)
        .route_layer(Extension(
            RequireScopes::new(config.required_scopes.clone()).organizations(config.organizations),
        ))
        .fallback(api::method_not_allowed);
    Router::new()
        .route("/api/me", me)
        .route("/api", any(api::not_found))
        .route("/api/{*rest}", any(api::not_found))
        .layer(Extension(api))
}

/// Sign-in as the app offers it: the form, registration, Hugging Face straight away; a cancelled
/// sign-in and a sign-out that could not reach Logto back home with a notice; a page before
/// signing out.
fn logto_web(client: LogtoClient, config: &Config, store: Arc<dyn SessionStore>) -> LogtoWeb {
    LogtoWeb::builder(client)
        .userinfo_max_age(config.logto.userinfo_max_age)
        .session_max_age(config.session.max_age)
        .store(store)
        .sign_in_route("/sign-up", SignInOptions::register())
        .sign_in_route(
            "/sign-in/huggingface",
            SignInOptions::direct(DirectSignIn::hugging_face()),
        )
        .sign_out_page(true)
        .cancelled_redirect("/?notice=cancelled")
        .unreachable_sign_out_redirect("/?notice=signed_out_locally")
        .log_hint(logto_app_config::log_hints::hint)
        .build()
}

/// The key that encrypts the session cookie, derived (HKDF-SHA256) from the whole
/// `SESSION_SECRET`, as the actix app derives it.
fn session_key(config: &Config) -> Key {
    match &config.session.secret {
        Some(secret) => Key::derive_from(secret.expose().as_bytes()),
        None => {
            log::warn!(
                "SESSION_SECRET is not set: using a random key, so every session ends when the app restarts \
                 (set SESSION_SECRET to at least 64 random characters, the same on every instance)"
            );
            Key::generate()
        }
    }
}
