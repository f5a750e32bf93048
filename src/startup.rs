//! Assembles the server: shared state built once, middleware, routes, and the listener.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::cookie::Key;
use actix_web::dev::Server;
use actix_web::middleware::{Condition, ErrorHandlers, Logger, from_fn};
use actix_web::{App, HttpServer, web};
use logto_actix_web::logto_web::StoreError;
use logto_actix_web::{
    ActixStore, CookieStore, DEFAULT_REDIS_TIMEOUT, LogtoAuth, RedisStore, SessionStore, session_middleware,
};
use logto_client::{DirectSignIn, LogtoClient, LogtoError, SignInOptions};

use crate::api;
use crate::canonical_host::{CanonicalHost, redirect_to_canonical_host};
use crate::config::{ApiSettings, Config, SessionStoreKind};
use crate::error_page::render_error_page;
use crate::i18n::{LangCookieSecure, Locale};
use crate::readiness::{Readiness, readyz};
use crate::security_headers::SecurityHeaders;
use crate::templates::Templates;
use crate::{metrics, pages, session_errors};

pub use crate::config::shutdown::SHUTDOWN_TIMEOUT;
use crate::config::shutdown::stop_signal;

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
    /// A template does not compile.
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    /// The Logto client could not be built.
    #[error("Logto client: {0}")]
    Logto(#[from] LogtoError),
    /// Redis could not be reached.
    #[error("Redis session store: {source}; {hint}")]
    Redis {
        /// Cause.
        source: StoreError,
        /// What the operator should check.
        hint: &'static str,
    },
    /// The server could not start.
    #[error("server: {0}")]
    Server(std::io::Error),
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(SocketAddr, Server)>,
}

impl Application {
    /// Binds `HOST:PORT` from the configuration and builds the server.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let address = config.server.listen;
        let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
            address: address.to_string(),
            source,
        })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the server on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartupError> {
        let port = listener.local_addr().map_err(StartupError::Server)?.port();
        let metrics = match config.metrics_addr {
            Some(address) => {
                let listener = TcpListener::bind(address).map_err(|source| StartupError::Bind {
                    address: format!("{address} (METRICS_ADDR)"),
                    source,
                })?;
                let bound = listener.local_addr().map_err(StartupError::Server)?;
                Some((
                    bound,
                    metrics::serve(listener, metrics::recorder()).map_err(StartupError::Server)?,
                ))
            }
            None => None,
        };
        // Built once, outside the per-worker closure: every worker must share the same key,
        // templates, HTTP client and caches.
        let client = config.logto_client()?;
        let redis = match &config.session.store {
            SessionStoreKind::Cookie => None,
            // One clear line when Redis cannot be used: refused, wrong or missing password, no
            // answer. Each later call is bounded the same way, so a hung Redis costs a request
            // a 503 within seconds rather than a hang.
            SessionStoreKind::Redis(settings) => {
                let store = RedisStore::connect_to(&settings.target(), "REDIS_URL", DEFAULT_REDIS_TIMEOUT)
                    .await
                    .map_err(|source| StartupError::Redis {
                        hint: crate::check::redis_hint(&source, settings),
                        source,
                    })?
                    .with_max_age(config.session.max_age);
                // Sealed under a key of its own derived from SESSION_SECRET; without it, a random
                // key per start, like the cookie's.
                Some(match &config.session.secret {
                    Some(secret) => store.with_secret(secret.expose().as_bytes()),
                    None => store,
                })
            }
        };
        // One store for the session middleware and for sign-in's logouts and refreshes.
        let store: Arc<dyn SessionStore> = match &redis {
            Some(redis) => Arc::new(redis.clone()),
            None => Arc::new(CookieStore::new(config.session.max_age)),
        };
        let auth = logto_auth(client, &config, store.clone());
        let canonical_host = CanonicalHost::new(&config.server.base_url, auth.web());
        let state = SharedState {
            // The readiness probe pings the session store's own connection.
            readiness: web::Data::new(Readiness::new(auth.web().clone(), redis.is_some())),
            auth,
            metrics: metrics.is_some(),
            templates: web::Data::new(Templates::new()?),
            key: session_key(&config),
            https: config.is_https(),
            security_headers: SecurityHeaders::new(&config.logto.endpoint, config.is_https()),
            api: config.api.clone(),
            canonical_host,
        };
        let server = serve(listener, state, ActixStore::new(store))?;
        Ok(Self { port, server, metrics })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the metrics listener is bound, when `METRICS_ADDR` is set.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(address, _)| *address)
    }

    /// Serves until the server is stopped: on SIGTERM or SIGINT it stops accepting, lets requests
    /// in flight finish (at most [`SHUTDOWN_TIMEOUT`]), then stops the metrics listener.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            (handle, tokio::spawn(server))
        });
        let result = self.server.await;
        if let Some((handle, task)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        result
    }
}

#[derive(Clone)]
struct SharedState {
    auth: LogtoAuth,
    readiness: web::Data<Readiness>,
    metrics: bool,
    templates: web::Data<Templates>,
    key: Key,
    https: bool,
    security_headers: SecurityHeaders,
    api: Option<ApiSettings>,
    canonical_host: CanonicalHost,
}

fn serve(listener: TcpListener, state: SharedState, store: ActixStore) -> Result<Server, StartupError> {
    // The access log's line is formatted for every request even when the logger then drops it
    // (~1.5 us a request, see bench/): leave the middleware out when RUST_LOG hides its lines.
    let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let server = HttpServer::new(move || {
        let session = session_middleware(store.clone(), state.key.clone(), state.https);
        let app = App::new()
            .app_data(state.templates.clone())
            .app_data(state.readiness.clone())
            .app_data(web::Data::new(LangCookieSecure(state.https)))
            .wrap(ErrorHandlers::new().default_handler(render_error_page))
            // The session middleware's own failures (the store down while writing) become pages,
            // inside the security headers: the request is kept inside it, the page made outside.
            .wrap(from_fn(session_errors::keep_request))
            .wrap(session)
            .wrap(from_fn(session_errors::store_errors_as_pages))
            // Before the session: a page opened on another host name moves to APP_BASE_URL's.
            .wrap(from_fn({
                let canonical = state.canonical_host.clone();
                move |req, next| redirect_to_canonical_host(canonical.clone(), req, next)
            }))
            // Outside the session: API requests reach it without their cookies.
            .wrap(Condition::new(state.api.is_some(), from_fn(api::without_cookies)))
            .wrap(state.security_headers.middleware())
            // Path only: queries (the callback's code and state) never reach the log; the path is
            // escaped, so no request can start a log line of its own.
            .wrap(Condition::new(
                access_log,
                Logger::new("%{method}xi %{path}xi %s %Dms")
                    .custom_request_replace("method", |req| req.method().to_string())
                    .custom_request_replace("path", |req| logto_actix_web::util::log_safe(req.path()).into_owned()),
            ))
            // Outermost, so that it sees the final status, error pages included.
            .wrap(Condition::new(state.metrics, from_fn(metrics::count_requests)))
            .configure(state.auth.configure())
            .configure(pages::configure)
            .route("/readyz", web::get().to(readyz));
        match &state.api {
            Some(config) => app.configure(api::configure(config, &state.auth)),
            None => app,
        }
    })
    .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
    .shutdown_signal(stop_signal())
    .listen(listener)
    .map_err(StartupError::Server)?
    .run();
    Ok(server)
}

/// The key that encrypts and signs session cookies, derived from the whole `SESSION_SECRET`
/// (HKDF-SHA256), so that every character of it counts.
fn session_key(config: &Config) -> Key {
    match &config.session.secret {
        // At least 64 characters, so at least 64 bytes: above the 32 bytes `derive_from` needs.
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

/// Sign-in as this app offers it: the form, registration, and Hugging Face straight away; Logto's
/// pages in the visitor's language; a cancelled sign-in, and a sign-out that could not reach Logto,
/// back home with a notice; the question before signing out.
fn logto_auth(client: LogtoClient, config: &Config, store: Arc<dyn SessionStore>) -> LogtoAuth {
    LogtoAuth::builder(client)
        .userinfo_max_age(config.logto.userinfo_max_age)
        .session_max_age(config.session.max_age)
        .store(store)
        .sign_in_route("/sign-up", SignInOptions::register())
        .sign_in_route(
            "/sign-in/huggingface",
            SignInOptions::direct(DirectSignIn::hugging_face()),
        )
        .sign_out_page(|| web::route().to(pages::sign_out_page))
        .organization_path(Some(pages::ORGANIZATION_PATH.to_owned()))
        .cancelled_redirect("/?notice=cancelled")
        .unreachable_sign_out_redirect("/?notice=signed_out_locally")
        .ui_locales(|req| Some(Locale::of_request(req).tag().to_owned()))
        .log_hint(crate::config::log_hints::hint)
        .build()
}
