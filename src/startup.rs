//! Assembles the server: shared state built once, middleware, routes, and the listener.

use std::net::TcpListener;

use actix_session::storage::{CookieSessionStore, SessionStore};
use actix_web::body::MessageBody;
use actix_web::cookie::Key;
use actix_web::dev::{Server, Service, ServiceResponse};
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlerResponse, ErrorHandlers, Logger};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use logto_actix_web::{DEFAULT_REDIS_TIMEOUT, LogtoAuth, RedisStore, session_middleware};
use logto_client::{DirectSignIn, LogtoClient, LogtoError, SignInOptions};

use crate::config::{Config, SessionStoreKind};
use crate::error_page::render_error_page;
use crate::i18n::{ErrorText, LangCookieSecure, Locale};
use crate::pages;
use crate::templates::Templates;

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
        let client = LogtoClient::new(config.logto())?;
        let redis = match &config.session_store {
            SessionStoreKind::Cookie => None,
            // One clear line when Redis cannot be used: refused, wrong or missing password, no
            // answer. Each later call is bounded the same way, so a hung Redis costs a request
            // a 503 within seconds rather than a hang.
            SessionStoreKind::Redis { url } => Some(
                RedisStore::connect(url.expose(), "REDIS_URL", DEFAULT_REDIS_TIMEOUT)
                    .await
                    .map_err(|e| StartupError::Redis(format!("{e}; check REDIS_URL and that Redis runs")))?
                    .with_max_age(config.session_max_age),
            ),
        };
        let state = SharedState {
            auth: logto_auth(client, &config, redis.clone()),
            templates: web::Data::new(Templates::new()?),
            key: session_key(&config),
            https: config.is_https(),
            csp: content_security_policy(&config),
        };
        let server = match redis {
            None => serve(listener, state, CookieSessionStore::default)?,
            Some(store) => serve(listener, state, move || store.clone())?,
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
            // Keeps the request for the page below once routing is done (routing needs it
            // unshared).
            .wrap_fn(|req, srv| {
                let call = srv.call(req);
                async move {
                    let res = call.await?;
                    if let Some(slot) = res.request().extensions().get::<RequestSlot>() {
                        *slot.0.borrow_mut() = Some(res.request().clone());
                    }
                    Ok(res)
                }
            })
            .wrap(session)
            // The session middleware's own failures (the store down or hung while writing) are
            // errors, not responses, and would pass every middleware by as an empty 500: made
            // pages here, inside the security headers. (A store that cannot be read gives the
            // request a session marked unavailable, and the extractors answer 503 themselves.)
            .wrap_fn(|req, srv| {
                let slot = RequestSlot::default();
                req.extensions_mut().insert(slot.clone());
                let call = srv.call(req);
                async move {
                    let result = call.await;
                    // Taken out in every case: the request must not keep itself alive.
                    let request = slot.0.borrow_mut().take();
                    match (result, request) {
                        (Ok(res), _) => Ok(res.map_into_left_body()),
                        (Err(error), Some(request)) => {
                            session_store_error_page(ServiceResponse::from_err(error, request))
                        }
                        (Err(error), None) => Err(error),
                    }
                }
            })
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

/// Where the request of a response is kept for the session middleware's error page.
#[derive(Clone, Default)]
struct RequestSlot(std::rc::Rc<std::cell::RefCell<Option<actix_web::HttpRequest>>>);

/// A failure of the session middleware as a page: 503 in the visitor's language ("try again in
/// a moment"); the store has logged the cause.
fn session_store_error_page<B: MessageBody + 'static>(
    failed: ServiceResponse,
) -> actix_web::Result<ServiceResponse<actix_web::body::EitherBody<B>>> {
    let (req, _) = failed.into_parts();
    let mut response = HttpResponse::ServiceUnavailable().finish();
    response.extensions_mut().insert(ErrorText::SessionUnavailable);
    match render_error_page(ServiceResponse::new(req, response))? {
        ErrorHandlerResponse::Response(page) => Ok(page.map_into_boxed_body().map_into_right_body()),
        ErrorHandlerResponse::Future(_) => unreachable!("error pages are rendered at once"),
    }
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
/// pages in the visitor's language; a cancelled sign-in back home with a notice; the question
/// before signing out.
fn logto_auth(client: LogtoClient, config: &Config, redis: Option<RedisStore>) -> LogtoAuth {
    let mut builder = LogtoAuth::builder(client)
        .userinfo_max_age(config.userinfo_max_age)
        .session_max_age(config.session_max_age);
    if let Some(redis) = redis {
        builder = builder.redis(redis);
    }
    builder
        .sign_in_route("/sign-up", SignInOptions::register())
        .sign_in_route(
            "/sign-in/huggingface",
            SignInOptions::direct(DirectSignIn::hugging_face()),
        )
        .sign_out_page(|| web::get().to(pages::sign_out_page))
        .cancelled_redirect("/?notice=cancelled")
        .ui_locales(|req| Some(Locale::of_request(req).tag().to_owned()))
        .build()
}
