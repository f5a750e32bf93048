//! Assembles the server: shared state built once, middleware, routes, and the listener.

use std::net::TcpListener;

use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore};
use actix_web::cookie::Key;
use actix_web::dev::Server;
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlers, Logger, from_fn};
use actix_web::{App, HttpServer, web};
use logto_actix_web::{LogtoAuth, session_middleware};
use logto_client::{DirectSignIn, LogtoClient, LogtoError, SignInOptions};

use crate::canonical_host::{CanonicalHost, redirect_to_canonical_host};
use crate::config::{Config, SessionStoreKind};
use crate::error_page::render_error_page;
use crate::i18n::{LangCookieSecure, Locale};
use crate::pages;
use crate::templates::Templates;

/// How long start-up waits for Redis.
const REDIS_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
    #[error("Redis session store: {0}")]
    Redis(String),
    /// The server could not start.
    #[error("server: {0}")]
    Server(std::io::Error),
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `HOST:PORT` from the configuration and builds the server.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind { address, source })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the server on a listener bound by the caller (tests bind port 0).
    pub async fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, StartupError> {
        let port = listener.local_addr().map_err(StartupError::Server)?.port();
        // Built once, outside the per-worker closure: every worker must share the same key,
        // templates, HTTP client and caches.
        let state = SharedState {
            auth: logto_auth(LogtoClient::new(config.logto())?, &config),
            templates: web::Data::new(Templates::new()?),
            key: session_key(&config),
            https: config.is_https(),
            csp: content_security_policy(&config),
            canonical_host: CanonicalHost::new(&config.app_base_url),
        };
        let server = match &config.session_store {
            SessionStoreKind::Cookie => serve(listener, state, CookieSessionStore::default)?,
            SessionStoreKind::Redis { url } => {
                // The connection manager retries with back-off for minutes; an operator needs a
                // prompt answer, so start-up gives up after one timeout.
                let store = tokio::time::timeout(REDIS_CONNECT_TIMEOUT, RedisSessionStore::new(url.expose()))
                    .await
                    .map_err(|_| StartupError::Redis("no answer in time; check REDIS_URL and that Redis runs".into()))?
                    .map_err(|e| StartupError::Redis(format!("cannot connect ({e}); check REDIS_URL")))?;
                serve(listener, state, move || store.clone())?
            }
        };
        Ok(Self { port, server })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the server is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

#[derive(Clone)]
struct SharedState {
    auth: LogtoAuth,
    templates: web::Data<Templates>,
    key: Key,
    https: bool,
    csp: String,
    canonical_host: CanonicalHost,
}

fn serve<S, F>(listener: TcpListener, state: SharedState, make_store: F) -> Result<Server, StartupError>
where
    S: SessionStore + 'static,
    F: Fn() -> S + Clone + Send + 'static,
{
    // The access log's line is formatted for every request even when the logger then drops it
    // (~1.5 us a request, see bench/): leave the middleware out when RUST_LOG hides its lines.
    let access_log = log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
    let server = HttpServer::new(move || {
        let session = session_middleware(make_store(), state.key.clone(), state.https);
        App::new()
            .app_data(state.templates.clone())
            .app_data(web::Data::new(LangCookieSecure(state.https)))
            .wrap(ErrorHandlers::new().default_handler(render_error_page))
            .wrap(session)
            // Before the session: a page opened on another host name moves to APP_BASE_URL's.
            .wrap(from_fn({
                let canonical = state.canonical_host.clone();
                move |req, next| redirect_to_canonical_host(canonical.clone(), req, next)
            }))
            .wrap(security_headers(&state.csp))
            // Path only: queries (the callback's code and state) never reach the log.
            .wrap(Condition::new(
                access_log,
                Logger::new("%{method}xi %U %s %Dms").custom_request_replace("method", |req| req.method().to_string()),
            ))
            .configure(state.auth.configure())
            .configure(pages::configure)
    })
    .listen(listener)
    .map_err(StartupError::Server)?
    .run();
    Ok(server)
}

fn security_headers(csp: &str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", csp.to_owned()))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        // The callback URL carries a code: never send it on as a referrer.
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cache-Control", "no-store"))
}

/// No scripts at all; styles and forms only from this site, except that the sign-out form's
/// redirect goes on to Logto, which `form-action` must allow.
fn content_security_policy(config: &Config) -> String {
    let logto_origin = config.logto_endpoint.origin().ascii_serialization();
    format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' {logto_origin}; \
         frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The key that encrypts and signs session cookies, derived from the whole `SESSION_SECRET`
/// (HKDF-SHA256), so that every character of it counts.
fn session_key(config: &Config) -> Key {
    match &config.session_secret {
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
fn logto_auth(client: LogtoClient, config: &Config) -> LogtoAuth {
    LogtoAuth::builder(client)
        .userinfo_max_age(config.userinfo_max_age)
        .sign_in_route("/sign-up", SignInOptions::register())
        .sign_in_route(
            "/sign-in/huggingface",
            SignInOptions::direct(DirectSignIn::hugging_face()),
        )
        .sign_out_page(|| web::route().to(pages::sign_out_page))
        .cancelled_redirect("/?notice=cancelled")
        .unreachable_sign_out_redirect("/?notice=signed_out_locally")
        .ui_locales(|req| Some(Locale::of_request(req).tag().to_owned()))
        .build()
}
