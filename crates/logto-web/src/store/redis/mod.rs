//! Sessions in Redis, shared by every instance and kept across restarts (feature `redis`).
//!
//! [`RedisStore`] is a [`SessionStore`] over the `redis` crate (1.x: rustls TLS, Sentinel, the
//! async Cluster client). This module holds the connection and the one bounded [`RedisStore::run`]
//! every call goes through: a timeout, a count of each failure, and at most one log line per
//! interval naming the store (its URLs without password) and the cause. The jobs live beside it:
//! - [`sessions`]: the sessions themselves, and the index from Logto's `sid`/`sub` to them;
//! - [`logouts`]: back-channel logouts, which delete the sessions they name for every instance;
//! - [`refresh`]: the single-flight refresh across instances.
//!
//! Keys (all under `logto:`) expire: sessions with their TTL (capped by the maximum age), the
//! index and logout token ids with the maximum age, refresh results with the share window. In a
//! Cluster each command is routed by its key; hash tags only group the keys one refresh writes
//! together.

use std::sync::{Arc, LazyLock, Mutex as StdMutex};
use std::thread::ThreadId;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, FromRedisValue, IntoConnectionInfo, Pipeline, RedisError,
    TlsCertificates, TlsMode,
};
use thread_local::ThreadLocal;
use tokio::sync::{Mutex, OnceCell};

use super::{SessionState, SessionStore, StoreFuture};
use crate::error::{AuthError, FAILURE_LOG_INTERVAL, StoreError};
use crate::limits::DEFAULT_SESSION_MAX_AGE;
use crate::log_limit::{Admit, LogLimiter, suppressed_note};
use crate::session_cache::DecodedSessions;
use crate::user::SessionUser;
use logto_client::{Audience, Logout, LogtoClient, RefreshToken, Refreshed};

mod logouts;
mod refresh;
mod roots;
mod sealed;
mod sessions;

/// One line per interval for the store's failures: an outage must not flood the log.
static STORE_LOG: LazyLock<LogLimiter> = LazyLock::new(|| LogLimiter::new(FAILURE_LOG_INTERVAL));

/// Default bound of each call to Redis: a request that needs the session answers within a few
/// of them even when Redis hangs.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(1000);

/// How the app finds its Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// One server (or a managed endpoint that hides its failover behind one name).
    Standalone,
    /// The URLs are Sentinels; they name the primary of `master`, and the store follows failovers.
    Sentinel {
        /// The master's name in Sentinel, e.g. `mymaster`.
        master: String,
    },
    /// The URLs are seed nodes of a Redis Cluster; each command goes to the node of its key.
    Cluster,
}

/// Where Redis is and how to trust it.
#[derive(Clone)]
pub struct RedisTarget {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS): one server, the Sentinels,
    /// or the Cluster's seed nodes. In Sentinel mode the user, password and TLS of the first URL
    /// apply to the primary too.
    pub urls: Vec<String>,
    /// Standalone, Sentinel or Cluster.
    pub mode: RedisMode,
    /// PEM of the CA(s) to trust for `rediss://` instead of the default: the platform's store
    /// (as OpenSSL finds it, `SSL_CERT_FILE`/`SSL_CERT_DIR` included) and the Mozilla roots
    /// bundled in the binary, both trusted.
    pub ca_pem: Option<Vec<u8>>,
}

impl RedisTarget {
    /// One server at `url`, trusted through the platform's and bundled roots.
    pub fn standalone(url: &str) -> Self {
        Self {
            urls: vec![url.to_owned()],
            mode: RedisMode::Standalone,
            ca_pem: None,
        }
    }
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("urls", &self.urls.iter().map(|u| redacted(u)).collect::<Vec<_>>())
            .field("mode", &self.mode)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// Sessions, logouts and refreshes in Redis. Cheap to clone (the clones share the connections,
/// one per thread that uses the store, each reconnecting by itself); build it once, outside
/// `HttpServer::new`.
#[derive(Clone)]
pub struct RedisStore {
    links: Arc<Links>,
    /// The store as the operator knows it, for log lines: never the password.
    name: String,
    timeout: Duration,
    max_age: Duration,
    /// Seals what Redis holds; a random key until [`RedisStore::with_secret`].
    sealer: Arc<sealed::Sealer>,
    /// Session values already opened with `sealer`'s key.
    opened: Arc<DecodedSessions>,
}

/// A connection per thread that uses the store. The `redis` crate runs each connection's I/O in a
/// task on the runtime that opened it: one connection shared by actix-web's workers (each a
/// thread with its own runtime) made every command wake the opening thread and then the worker
/// again. Each thread's own connection keeps a request and its command on one thread, and lets
/// the commands of a worker's concurrent requests share its writes and reads.
struct Links {
    target: RedisTarget,
    timeout: Duration,
    per_thread: ThreadLocal<StdMutex<Option<ThreadLink>>>,
}

/// A thread's connection, with the thread it was opened for: `ThreadLocal` hands an ended
/// thread's slot to a later thread, whose runtime is not the one that ran that connection.
type ThreadLink = (ThreadId, Arc<OnceCell<Link>>);

impl Links {
    /// This thread's connection, opened (on this thread's runtime) at its first use.
    async fn current(&self) -> Result<Link, RedisError> {
        let cell = {
            let me = std::thread::current().id();
            let mut slot = self.slot();
            match &*slot {
                Some((owner, cell)) if *owner == me => cell.clone(),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    *slot = Some((me, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_try_init(|| open(&self.target, self.timeout)).await.cloned()
    }

    /// This thread's slot; only this thread (or, once it ended, a later one) locks it.
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ThreadLink>> {
        self.per_thread
            .get_or(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The connection, by mode.
#[derive(Clone)]
enum Link {
    /// Reconnects by itself.
    Single(ConnectionManager),
    /// Asks the Sentinels for the primary again after a failure.
    Sentinel(Arc<SentinelLink>),
    /// Follows MOVED/ASK and a primary's failover by itself.
    Cluster(ClusterConnection),
}

/// The connection to the primary Sentinel names, dropped on a failure so that the next call asks
/// again (after a failover, the new primary).
struct SentinelLink {
    sentinels: Mutex<SentinelClient>,
    primary: Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelLink {
    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut primary = self.primary.lock().await;
        if let Some(connection) = primary.as_ref() {
            return Ok(connection.clone());
        }
        let client = self.sentinels.lock().await.async_get_client().await?;
        let connection = client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        *primary = Some(connection.clone());
        Ok(connection)
    }

    async fn forget(&self) {
        *self.primary.lock().await = None;
    }
}

/// What one [`RedisStore::run`] sends: a command, or a pipeline (atomic when built so).
pub(super) enum Request<'a> {
    /// One command.
    Cmd(&'a Cmd),
    /// Several commands in one round trip; in a Cluster, all on one key's slot.
    Pipe(&'a Pipeline),
}

impl Request<'_> {
    async fn send<T: FromRedisValue, C: ConnectionLike + Send>(&self, connection: &mut C) -> Result<T, RedisError> {
        match self {
            Request::Cmd(cmd) => cmd.query_async(connection).await,
            Request::Pipe(pipe) => pipe.query_async(connection).await,
        }
    }
}

impl Link {
    async fn send<T: FromRedisValue>(&self, request: &Request<'_>) -> Result<T, RedisError> {
        match self {
            Link::Single(connection) => request.send(&mut connection.clone()).await,
            Link::Cluster(connection) => request.send(&mut connection.clone()).await,
            Link::Sentinel(link) => request.send(&mut link.connection().await?).await,
        }
    }
}

impl RedisStore {
    /// Connects to one Redis at `url` and checks that it answers (`PING`, so that a missing or
    /// wrong password is found now), within `timeout`; `label` names the setting the URL came
    /// from (e.g. `REDIS_URL`) in every error and log line. Each later call is bounded by `timeout`.
    pub async fn connect(url: &str, label: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        Self::connect_to(&RedisTarget::standalone(url), label, timeout).await
    }

    /// Connects to `target` (one server, Sentinels or a Cluster) and checks that it answers, as
    /// [`RedisStore::connect`] does. A wrong certificate, host name, user or password fails here.
    pub async fn connect_to(target: &RedisTarget, label: &str, timeout: Duration) -> Result<RedisStore, StoreError> {
        let shown: Vec<String> = target.urls.iter().map(|u| redacted(u)).collect();
        let name = format!("{label} {}", shown.join(","));
        let fail = |what: String| StoreError {
            store: name.clone(),
            what: what.replace(['\n', '\r'], " "),
        };
        let bound = timeout * 2;
        let link = tokio::time::timeout(bound, open(target, timeout))
            .await
            .map_err(|_| fail(format!("no connection within {} ms", bound.as_millis())))?
            .map_err(|e| fail(describe(&e)))?;
        let links = Links {
            target: target.clone(),
            timeout,
            per_thread: ThreadLocal::new(),
        };
        // The opening thread's connection; the other threads open theirs when they first need one.
        *links.slot() = Some((
            std::thread::current().id(),
            Arc::new(OnceCell::new_with(Some(link.clone()))),
        ));
        let store = RedisStore {
            links: Arc::new(links),
            name: name.clone(),
            timeout,
            max_age: DEFAULT_SESSION_MAX_AGE,
            sealer: Arc::new(sealed::Sealer::random()),
            opened: Arc::default(),
        };
        // Not through `run`: a refused start-up is the caller's one line, not a log line too.
        match tokio::time::timeout(bound, link.send::<String>(&Request::Cmd(&redis::cmd("PING")))).await {
            Ok(Ok(_)) => Ok(store),
            Ok(Err(e)) => Err(fail(describe(&e))),
            Err(_) => Err(fail(format!("no answer to PING within {} ms", bound.as_millis()))),
        }
    }

    /// Caps every session's life at `max_age` from sign-in (the same as
    /// [`LogtoWebBuilder::session_max_age`](crate::LogtoWebBuilder::session_max_age)), so that
    /// nothing is kept longer than it can be used.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Seals sessions and refresh results in Redis (AES-256-GCM) under a key derived from
    /// `secret` by HKDF with this store's own label, and names Logto's ids in index keys by a
    /// keyed hash. Every instance sharing the Redis needs the same secret (the app's session
    /// secret); without it, a random key per process: sessions do not outlive it.
    pub fn with_secret(mut self, secret: &[u8]) -> Self {
        self.sealer = Arc::new(sealed::Sealer::new(secret));
        // What the previous key opened is not what this one would.
        self.opened = Arc::default();
        self
    }

    /// How many sessions' values are kept opened now: each distinct value is opened once, then
    /// answered from a bounded cache ([`DecodedSessions`], its default capacity).
    pub fn opened_sessions(&self) -> usize {
        self.opened.len()
    }

    /// A value in Redis that does not open: changed there, or sealed with another secret. The
    /// session is signed out; counted, and logged at most once per interval.
    pub(super) fn refused_value(&self, what: &str) {
        crate::telemetry::session_store_error();
        if let Admit::Log { suppressed } = STORE_LOG.admit("redis-sealed") {
            log::warn!(
                "session store {}: a {what} in Redis does not open (changed in Redis, or sealed with another \
                 SESSION_SECRET); that session is signed out{}",
                self.name,
                suppressed_note(suppressed, FAILURE_LOG_INTERVAL)
            );
        }
    }

    /// Runs one request within the timeout. A failure is counted, logged at most once per
    /// interval (naming the store), and after a Sentinel failover makes the next call look for
    /// the new primary.
    pub(super) async fn run<T: FromRedisValue>(&self, what: &str, request: Request<'_>) -> Result<T, StoreError> {
        let mut used = None;
        let sent = async {
            let link = self.links.current().await?;
            used = Some(link.clone());
            link.send::<T>(&request).await
        };
        let outcome = match tokio::time::timeout(self.timeout, sent).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => describe(&e),
            Err(_) => format!("no answer within {} ms", self.timeout.as_millis()),
        };
        if let Some(Link::Sentinel(link)) = used {
            link.forget().await;
        }
        Err(self.logged(format!("{what}: {outcome}")))
    }

    /// Runs one command (see [`RedisStore::run`]).
    pub(super) async fn cmd<T: FromRedisValue>(&self, what: &str, cmd: &Cmd) -> Result<T, StoreError> {
        self.run(what, Request::Cmd(cmd)).await
    }

    /// A failure: counted every time, logged at most once per interval.
    pub(super) fn logged(&self, what: String) -> StoreError {
        crate::telemetry::session_store_error();
        let error = StoreError {
            store: self.name.clone(),
            what: what.replace(['\n', '\r'], " "),
        };
        if let Admit::Log { suppressed } = STORE_LOG.admit("redis") {
            log::error!(
                "{error} (sessions cannot be read or written until Redis answers){}",
                suppressed_note(suppressed, FAILURE_LOG_INTERVAL)
            );
        }
        error
    }

    pub(super) fn max_age_secs(&self) -> u64 {
        self.max_age.as_secs().max(1)
    }
}

/// Opens the connection `target` describes; each later command is bounded by `timeout`.
async fn open(target: &RedisTarget, timeout: Duration) -> Result<Link, RedisError> {
    // The CA file's roots, or the platform's and bundled ones; only for TLS URLs.
    let tls = target.urls.iter().any(|url| url.starts_with("rediss://"));
    let certificates = tls.then(|| TlsCertificates {
        client_tls: None,
        root_cert: Some(target.ca_pem.clone().unwrap_or_else(roots::default_roots)),
    });
    let first = target
        .urls
        .first()
        .ok_or_else(|| RedisError::from((redis::ErrorKind::InvalidClientConfig, "no URL")))?;
    match &target.mode {
        RedisMode::Standalone => {
            let client = match (&certificates, first.starts_with("rediss://")) {
                (Some(certificates), true) => Client::build_with_tls(first.as_str(), certificates.clone())?,
                _ => Client::open(first.as_str())?,
            };
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1)
                .set_max_delay(timeout);
            Ok(Link::Single(ConnectionManager::new_with_config(client, config).await?))
        }
        RedisMode::Cluster => {
            let mut builder = ClusterClient::builder(target.urls.iter().map(String::as_str))
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2);
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder.build()?;
            Ok(Link::Cluster(client.get_async_connection().await?))
        }
        RedisMode::Sentinel { master } => {
            let info = first.as_str().into_connection_info()?;
            let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. }).then_some(TlsMode::Secure);
            let mut sentinels = Vec::new();
            for url in &target.urls {
                sentinels.push(url.as_str().into_connection_info()?.addr().clone());
            }
            let settings = info.redis_settings();
            let mut builder = SentinelClientBuilder::new(sentinels, master, SentinelServerType::Master)?
                .set_client_to_redis_db(settings.db());
            if let Some(tls) = tls {
                builder = builder
                    .set_client_to_redis_tls_mode(tls)
                    .set_client_to_sentinel_tls_mode(tls);
            }
            if let Some(user) = settings.username() {
                builder = builder
                    .set_client_to_redis_username(user)
                    .set_client_to_sentinel_username(user);
            }
            if let Some(password) = settings.password() {
                builder = builder
                    .set_client_to_redis_password(password)
                    .set_client_to_sentinel_password(password);
            }
            if let Some(certificates) = certificates {
                builder = builder
                    .set_client_to_redis_certificates(certificates.clone())
                    .set_client_to_sentinel_certificates(certificates);
            }
            let link = SentinelLink {
                sentinels: Mutex::new(builder.build()?),
                primary: Mutex::new(None),
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout)),
            };
            link.connection().await?;
            Ok(Link::Sentinel(Arc::new(link)))
        }
    }
}

/// A Redis error in the operator's words: the cause first when it is a known one.
fn describe(error: &RedisError) -> String {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("wrongpass")
        || lower.contains("authentication failed")
        || lower.contains("invalid username-password")
    {
        format!("Redis refused the user name or password ({text})")
    } else if lower.contains("noauth") {
        format!("Redis needs a password, and the URL has none ({text})")
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        format!("TLS: Redis's certificate is for another host name than the URL's ({text})")
    } else if lower.contains("certificate") || lower.contains("unknownissuer") {
        format!("TLS: Redis's certificate is not signed by a trusted CA ({text})")
    } else {
        text
    }
}

/// The URL with its password (if any) replaced, for messages.
pub(super) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// Lower-case hexadecimal of `bytes`.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<SessionState>, StoreError>> {
        Box::pin(self.load_state(id))
    }

    fn save<'a>(&'a self, state: &'a SessionState, ttl: Duration) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(self.save_state(state, ttl))
    }

    fn update<'a>(
        &'a self,
        id: &'a str,
        state: &'a SessionState,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<String, StoreError>> {
        Box::pin(self.update_state(id, state, ttl))
    }

    fn update_ttl<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(self.extend(id, ttl))
    }

    fn delete<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete_state(id))
    }

    fn record_logout<'a>(&'a self, logout: &'a Logout, _: u64) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.end_sessions(logout))
    }

    fn is_ended(&self, _: &SessionUser) -> bool {
        // Logouts delete the sessions they name: what is still here was not ended.
        false
    }

    fn refresh<'a>(
        &'a self,
        client: &'a LogtoClient,
        refresh_token: &'a RefreshToken,
        audience: &'a Audience,
        sub: &'a str,
    ) -> StoreFuture<'a, Result<Refreshed, AuthError>> {
        Box::pin(self.refresh_coordinated(client, refresh_token, audience, sub))
    }

    fn ping(&self) -> StoreFuture<'_, Result<(), StoreError>> {
        Box::pin(async { self.cmd::<String>("ping", &redis::cmd("PING")).await.map(|_| ()) })
    }
}
