//! Harness for the Logto-shaped OpenID provider beside this crate (`server.js`), shared by the
//! tests of every crate of the workspace.
//!
//! [`TestProvider::start`] starts a provider on a random loopback port (in the one
//! `node tests/op/server.js --many` process of the test binary) and talks to its control API
//! (`/__op/...`); [`complete_authorization`] and [`complete_end_session`] play the
//! browser's part in the sign-in and sign-out round trips with a plain HTTP client.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};
use url::Url;

/// How long the provider may take to print its ready line (a cold `node` start on a busy CI
/// machine with two cores is well under this).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest the harness's HTTP clients reuse an idle connection: under the 5 s after which the
/// provider (Node.js, like Logto) closes it, so that no request races that close.
const IDLE_CONNECTION_REUSE: Duration = Duration::from_secs(4);

/// Most hops an authorization or end-session round trip may take before the harness gives up.
const MAX_HOPS: usize = 20;

/// A running provider; dropping it stops it (its port closes).
pub struct TestProvider {
    /// The control port of the process holding this provider ([`ProviderHost`]).
    host_port: u16,
    port: u16,
    issuer: String,
    control: reqwest::Client,
}

/// Choices fixed when the provider starts.
#[derive(Clone, Debug, Default)]
pub struct ProviderOptions {
    /// The algorithm of the signing key: `"ES384"` (Logto's default, used when `None`),
    /// `"RS256"`, `"PS256"`, `"ES256"` or `"ES512"` (P-521).
    pub signing_alg: Option<String>,
    /// API resources: indicator and the scopes it defines.
    pub resources: Vec<(String, Vec<String>)>,
    /// Machine-to-machine apps known from the start (the `--config` file's `clients`).
    pub m2m_clients: Vec<M2mClient>,
    /// Users known from the start, as [`TestProvider::add_user`] takes them (the `--config`
    /// file's `users`).
    pub users: Vec<Value>,
    /// Organizations known from the start, as [`TestProvider::add_organization`] takes them (the
    /// `--config` file's `organizations`).
    pub organizations: Vec<Value>,
}

/// A "Machine-to-machine" application: it gets access tokens for API resources with its own
/// credentials (the `client_credentials` grant), never through a browser.
#[derive(Clone, Debug)]
pub struct M2mClient {
    /// The app id (also the `sub` of its access tokens).
    pub client_id: String,
    /// The app secret.
    pub client_secret: String,
}

impl M2mClient {
    /// The wire form the provider's `POST /__op/clients` and `--config` take.
    fn wire(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "grant_types": ["client_credentials"],
        })
    }
}

/// A confidential ("Traditional web") application registered with the provider.
#[derive(Clone, Debug)]
pub struct TestClient {
    /// The app id.
    pub client_id: String,
    /// The app secret.
    pub client_secret: String,
    /// Allowed redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Allowed post-logout redirect URIs (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// Where the provider POSTs a `logout_token` at sign-out, if set.
    pub backchannel_logout_uri: Option<String>,
}

/// How [`complete_authorization`] answers the provider's sign-in page.
#[derive(Clone, Copy, Debug)]
pub enum Login<'a> {
    /// Fill the sign-in form.
    Password {
        /// Username to type.
        username: &'a str,
        /// Password to type.
        password: &'a str,
    },
    /// Fill the registration form (the authorize URL asked for `first_screen=register`).
    Register {
        /// New username.
        username: &'a str,
        /// New password (at least 8 characters).
        password: &'a str,
        /// Display name.
        name: &'a str,
        /// Email address.
        email: &'a str,
    },
    /// Expect no form at all: `direct_sign_in`, or a session that is already signed in.
    Direct,
    /// Press the page's cancel button: the provider answers the app with `error=access_denied`.
    Cancel,
}

/// Counters from `GET /__op/stats`.
#[derive(Debug, serde::Deserialize)]
pub struct Stats {
    /// Requests per path (query left out).
    pub requests: HashMap<String, u64>,
    /// Successful token grants per `grant_type`.
    pub grants: HashMap<String, u64>,
    /// Token requests the provider refused with an OAuth error (e.g. `invalid_grant` for a
    /// revoked refresh token), per `grant_type`: grants that reached it and failed.
    #[serde(default)]
    pub refused: HashMap<String, u64>,
    /// Successful calls to the revocation endpoint.
    pub revocations: u64,
    /// Completed end-session requests.
    pub end_sessions: u64,
    /// Query parameters of the last few authorization requests, oldest first.
    pub authorize_params: Vec<Value>,
    /// Query parameters of the last few end-session requests (GET), oldest first.
    #[serde(default)]
    pub end_session_params: Vec<Value>,
}

/// How an injected failure answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// HTTP 500 with an HTML body.
    Status500,
    /// HTTP 200 whose body is not JSON (though labelled so).
    Garbage,
    /// HTTP 400 with `{"error":"server_error",...}`.
    ErrorJson,
    /// Never answers.
    Hang,
    /// Resets the connection (TCP RST) when the request comes on a connection that already
    /// carried one, as a server closing an idle kept-alive connection just as the client reuses
    /// it; a request on a new connection is answered (and does not count against `times`).
    ResetReused,
}

impl FailMode {
    fn wire_name(self) -> &'static str {
        match self {
            FailMode::Status500 => "500",
            FailMode::Garbage => "garbage",
            FailMode::ErrorJson => "error_json",
            FailMode::Hang => "hang",
            FailMode::ResetReused => "reset_reused",
        }
    }
}

/// Which key signs a forged ID token or a token from [`TestProvider::sign_jwt`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignWith {
    /// The provider's own key (the one the token names): a valid signature.
    #[default]
    Provider,
    /// A key of the same algorithm that the JWKS does not publish: a bad signature.
    Foreign,
    /// HS256 with the client secret as the key (the algorithm-confusion attack).
    ClientSecret,
    /// `alg: none` and an empty signature.
    Unsigned,
}

/// What happens to the `kid` of a forged ID token's header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Kid {
    /// Left as the provider set it.
    #[default]
    Keep,
    /// Removed from the header.
    Drop,
    /// Replaced by this value.
    Set(String),
}

/// A rewrite of the next ID token the token endpoint hands out, re-signed as chosen.
#[derive(Clone, Debug, Default)]
pub struct ForgedIdToken {
    /// Claims to set (replacing the genuine values).
    pub set: serde_json::Map<String, Value>,
    /// Claims to remove.
    pub remove: Vec<String>,
    /// The header's `kid`.
    pub kid: Kid,
    /// The signing key.
    pub sign_with: SignWith,
}

impl SignWith {
    fn wire_name(self) -> &'static str {
        match self {
            SignWith::Provider => "provider",
            SignWith::Foreign => "foreign",
            SignWith::ClientSecret => "client_secret",
            SignWith::Unsigned => "none",
        }
    }
}

impl ForgedIdToken {
    /// A forgery that sets these claims (a JSON object) and re-signs with the provider's key.
    pub fn with_claims(claims: Value) -> Self {
        let Value::Object(set) = claims else {
            panic!("claims must be a JSON object")
        };
        ForgedIdToken {
            set,
            ..Default::default()
        }
    }

    /// The same forgery, without `claim`.
    pub fn without(mut self, claim: &str) -> Self {
        self.remove.push(claim.to_owned());
        self
    }

    /// The same forgery, signed with `key`.
    pub fn signed_with(mut self, key: SignWith) -> Self {
        self.sign_with = key;
        self
    }

    /// The same forgery, with this `kid` treatment.
    pub fn kid(mut self, kid: Kid) -> Self {
        self.kid = kid;
        self
    }

    fn wire(&self) -> Value {
        let mut spec = json!({ "set": self.set, "remove": self.remove, "sign_with": self.sign_with.wire_name() });
        match &self.kid {
            Kid::Keep => {}
            Kid::Drop => spec["kid"] = Value::Null,
            Kid::Set(kid) => spec["kid"] = json!(kid),
        }
        spec
    }
}

/// Seconds since the epoch, for claims such as `exp` and `iat` in forged tokens.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The header and claims of a compact JWT, read WITHOUT checking anything (also `alg: none`
/// tokens, which JWT libraries refuse to parse): for looking at what a token says.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut next = |what: &str| -> Value {
        let part = parts.next().unwrap_or_else(|| panic!("JWT without {what}"));
        let bytes = base64url_decode(part).unwrap_or_else(|| panic!("JWT {what} is not base64url"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT {what} is not JSON: {e}"))
    };
    let header = next("header");
    let claims = next("claims");
    (header, claims)
}

/// Unpadded base64url (RFC 4648 §5), as JWTs use; `None` on any other character.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A cookie-keeping client that does not follow redirects, as the sign-in helpers need.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        // The provider (Node.js, like Logto) closes idle connections after 5 s.
        .pool_idle_timeout(IDLE_CONNECTION_REUSE)
        .build()
        .expect("build reqwest client")
}

fn op_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The process that holds this test binary's providers: `node server.js --many`, started by the
/// first [`TestProvider::start`] and ended with the binary (its stdin closes then). A provider is
/// a `POST` to it (milliseconds) rather than a Node.js start (~0.4 s of CPU loading
/// oidc-provider), and each still has its own port, state and clock.
struct ProviderHost {
    /// Its control port.
    port: u16,
    /// Never dropped: held so that its stdin stays open while this process lives.
    _child: std::process::Child,
}

static PROVIDER_HOST: OnceLock<ProviderHost> = OnceLock::new();

impl ProviderHost {
    const GONE: &str = "the test provider host (`node tests/op/server.js --many`) does not answer; \
                        see its stderr above (OP_DEBUG=1 shows more)";

    fn shared() -> &'static ProviderHost {
        PROVIDER_HOST.get_or_init(Self::spawn)
    }

    fn spawn() -> ProviderHost {
        let dir = op_dir();
        assert!(
            dir.join("node_modules").join("oidc-provider").is_dir(),
            "the test provider's packages are missing: run `npm ci --prefix tests/op`"
        );
        let mut child = std::process::Command::new("node")
            .arg(dir.join("server.js"))
            .args(["--many", "--port", "0", "--ready-json", "--exit-on-stdin-close"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Inherited so that OP_DEBUG=1 logs and crashes show up in the test output.
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn `node` (is Node.js installed?)");

        // Read on a thread of its own: a pipe read has no timeout.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Err(_) => panic!("the test provider host printed no ready line within {READY_TIMEOUT:?}"),
            Ok(Err(e)) => panic!("reading the test provider host's ready line: {e}"),
            Ok(Ok(line)) if line.is_empty() => panic!(
                "the test provider host exited before it was ready (see its stderr above); \
                 if packages are missing, run `npm ci --prefix tests/op`"
            ),
            Ok(Ok(line)) => line,
        };
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("the provider host's ready line is not JSON ({e}): {line:?}"));
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("the ready line has a port");
        ProviderHost { port, _child: child }
    }
}

impl Drop for TestProvider {
    /// Stops the provider (its port closes, its connections end) before returning: a test that
    /// drops it sees Logto gone. Blocking, on loopback, for a millisecond or so; a `Drop` cannot
    /// await.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let stop = || -> std::io::Result<()> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.host_port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            write!(
                stream,
                "DELETE /providers/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.port
            )?;
            // The answer comes once the provider has stopped; then the host closes.
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer)?;
            Ok(())
        };
        // Unwinding already (a failed test) or the host gone: nothing more to stop.
        let _ = stop();
    }
}

impl TestProvider {
    /// Starts a provider with Logto's defaults (ES384 ID tokens, no API resources).
    pub async fn start() -> TestProvider {
        Self::start_with(ProviderOptions::default()).await
    }

    /// Starts a provider with the given options.
    pub async fn start_with(options: ProviderOptions) -> TestProvider {
        let mut config = json!({});
        if let Some(alg) = &options.signing_alg {
            config["signing_alg"] = json!(alg);
        }
        if !options.resources.is_empty() {
            let resources: serde_json::Map<String, Value> = options
                .resources
                .iter()
                .map(|(indicator, scopes)| (indicator.clone(), json!({ "scopes": scopes })))
                .collect();
            config["resources"] = Value::Object(resources);
        }
        if !options.m2m_clients.is_empty() {
            config["clients"] = options.m2m_clients.iter().map(M2mClient::wire).collect();
        }
        if !options.users.is_empty() {
            config["users"] = json!(options.users);
        }
        if !options.organizations.is_empty() {
            config["organizations"] = json!(options.organizations);
        }

        let host = ProviderHost::shared();
        let control = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_idle_timeout(IDLE_CONNECTION_REUSE)
            .build()
            .expect("build control client");
        let response = control
            .post(format!("http://127.0.0.1:{}/providers", host.port))
            .json(&config)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", ProviderHost::GONE));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "starting a test provider failed: {status} {text}");
        let started: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the provider host's answer is not JSON ({e}): {text:?}"));
        let port = started["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("the answer has a port");
        let issuer = started["issuer"].as_str().expect("the answer has an issuer").to_owned();

        TestProvider {
            host_port: host.port,
            port,
            issuer,
            control,
        }
    }

    /// The issuer, `http://127.0.0.1:PORT/oidc`.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// The base URL, `http://127.0.0.1:PORT` (what `LOGTO_ENDPOINT` is set to).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The TCP port the provider listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    async fn control_post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/__op/{path}", self.endpoint());
        let response = self
            .control
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("control call {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "control call {path} failed: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Registers (or replaces) a confidential client.
    pub async fn register_client(&self, client: &TestClient) {
        self.register_client_with_logout_sid(client, false).await;
    }

    /// Registers (or replaces) a confidential client; with `logout_sid_required` (Logto's
    /// "is session required" of back-channel logout) its ID tokens carry the Logto session id
    /// (`sid`) and its logout tokens name that session.
    pub async fn register_client_with_logout_sid(&self, client: &TestClient, logout_sid_required: bool) {
        self.control_post(
            "clients",
            json!({
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "redirect_uris": client.redirect_uris,
                "post_logout_redirect_uris": client.post_logout_redirect_uris,
                "backchannel_logout_uri": client.backchannel_logout_uri,
                "backchannel_logout_session_required": logout_sid_required,
            }),
        )
        .await;
    }

    /// Registers (or replaces) a machine-to-machine app, which may use only the
    /// `client_credentials` grant.
    pub async fn register_m2m_client(&self, client: &M2mClient) {
        self.control_post("clients", client.wire()).await;
    }

    /// Asks the token endpoint for a machine-to-machine access token (`client_credentials`) for
    /// `resource` with these scopes, as the app would (HTTP Basic); panics unless it is granted.
    pub async fn client_credentials_token(&self, client: &M2mClient, resource: &str, scopes: &[&str]) -> String {
        let scope = scopes.join(" ");
        let response = self
            .control
            .post(format!("{}/token", self.issuer))
            .basic_auth(&client.client_id, Some(&client.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", &scope),
            ])
            .send()
            .await
            .expect("client_credentials token request");
        let status = response.status();
        let body: Value = response.json().await.expect("token endpoint answers JSON");
        assert_eq!(status, 200, "client_credentials grant refused: {}", body["error"]);
        body["access_token"]
            .as_str()
            .expect("access_token in the token response")
            .to_owned()
    }

    /// Adds a user: JSON with `sub` and any of `username`, `password`, `name`, `email`, `picture`,
    /// `custom_data`, `roles`, `identities`, `organizations`, `permissions`
    /// (`{"<resource indicator>": ["read:items", ...]}`, what the user's roles allow).
    pub async fn add_user(&self, user: Value) {
        self.control_post("users", user).await;
    }

    /// Replaces what `sub`'s roles allow per API resource, e.g.
    /// `{"https://api.example.com": ["read:items"]}`; `{}` lifts every restriction. Tokens issued
    /// from now on follow it (a scope added later needs a new sign-in, as the grant holds only
    /// what was allowed at consent).
    pub async fn set_user_permissions(&self, sub: &str, permissions: Value) {
        self.control_post("users/permissions", json!({ "sub": sub, "permissions": permissions }))
            .await;
    }

    /// Adds (or replaces) an organization: JSON with `id`, `name`, `description` and `roles`
    /// (`{"admin": {"scopes": ["invite:member"], "resource_scopes": {"<indicator>":
    /// ["read:items"]}}}`): each role's organization permissions, and the API permissions it
    /// gives within the organization.
    pub async fn add_organization(&self, organization: Value) {
        self.control_post("organizations", organization).await;
    }

    /// Replaces `sub`'s organization memberships and roles (`"<organization id>:<role name>"`),
    /// as an admin would in Logto's console: userinfo and organization token requests follow at
    /// once; a token request for an organization the user left is refused (`access_denied`).
    pub async fn set_user_organizations(&self, sub: &str, organizations: &[&str], organization_roles: &[&str]) {
        self.control_post(
            "users/organizations",
            json!({ "sub": sub, "organizations": organizations, "organization_roles": organization_roles }),
        )
        .await;
    }

    /// Sets the claims every access token gets from now on, as Logto's custom JWT does (e.g.
    /// `{"plan": "pro"}`); `None` stops it.
    pub async fn set_custom_jwt_claims(&self, claims: Option<Value>) {
        self.control_post("settings", json!({ "custom_jwt": claims })).await;
    }

    /// `false`: the JWKS leaves out each key's `alg`, so a client must tell the algorithm a key is
    /// for from its type and curve alone; `true` (the default): it publishes it, as Logto does.
    pub async fn set_jwks_alg(&self, published: bool) {
        self.control_post("settings", json!({ "jwks_alg": published })).await;
    }

    /// Reads the request and grant counters.
    pub async fn stats(&self) -> Stats {
        let url = format!("{}/__op/stats", self.endpoint());
        self.control
            .get(&url)
            .send()
            .await
            .expect("GET /__op/stats")
            .error_for_status()
            .expect("stats status")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Sets every counter back to zero.
    pub async fn reset_stats(&self) {
        self.control_post("stats/reset", json!({})).await;
    }

    /// Destroys the grants (and all their tokens) of `sub`, or of everyone when `None`.
    pub async fn revoke_grants(&self, sub: Option<&str>) {
        let body = match sub {
            Some(sub) => json!({ "sub": sub }),
            None => json!({}),
        };
        self.control_post("grants/revoke", body).await;
    }

    /// Changes token lifetimes (seconds) for tokens issued from now on; `None` keeps the current one.
    pub async fn set_ttl(&self, access_token: Option<u64>, id_token: Option<u64>, refresh_token: Option<u64>) {
        let mut body = serde_json::Map::new();
        for (name, value) in [
            ("AccessToken", access_token),
            ("IdToken", id_token),
            ("RefreshToken", refresh_token),
        ] {
            if let Some(value) = value {
                body.insert(name.to_owned(), json!(value));
            }
        }
        self.control_post("ttl", Value::Object(body)).await;
    }

    /// Moves the provider's clock forward by `by` (it never goes back): tokens it issued expire,
    /// and refresh tokens reach their rotation point, without the test waiting.
    pub async fn advance_clock(&self, by: Duration) {
        let advance_ms = u64::try_from(by.as_millis()).expect("a test-sized duration");
        self.control_post("clock", json!({ "advance_ms": advance_ms })).await;
    }

    /// `true`: rotate the refresh token on every use; `false`: Logto's default (after 70% of its life).
    pub async fn set_refresh_rotation(&self, always: bool) {
        let mode = if always { "always" } else { "seventy_percent" };
        self.control_post("settings", json!({ "refresh_rotation": mode })).await;
    }

    /// Signs with a new key (`"ES384"`, `"RS256"`, `"PS256"`, `"ES256"` or `"ES512"`) from now on;
    /// the old public keys stay in the JWKS when `keep_old`.
    pub async fn rotate_keys(&self, alg: &str, keep_old: bool) {
        self.control_post("keys/rotate", json!({ "alg": alg, "keep_old": keep_old }))
            .await;
    }

    /// Makes the next `times` requests to `path` (no query; all of them when `None`) fail.
    pub async fn fail(&self, path: &str, mode: FailMode, times: Option<u32>) {
        self.control_post(
            "fail",
            json!({ "path": path, "mode": mode.wire_name(), "times": times }),
        )
        .await;
    }

    /// Removes every injected failure.
    pub async fn clear_failures(&self) {
        self.control_post("fail/clear", json!({})).await;
    }

    /// Rewrites the ID token of the next token response (once) as `forged` says.
    pub async fn forge_next_id_token(&self, forged: &ForgedIdToken) {
        self.control_post("hostile", json!({ "id_token": forged.wire(), "times": 1 }))
            .await;
    }

    /// Sets these claims (a JSON object) in the next userinfo answer (once).
    pub async fn forge_next_userinfo(&self, claims: Value) {
        self.control_post("hostile", json!({ "userinfo": { "set": claims }, "times": 1 }))
            .await;
    }

    /// Rewrites top-level fields of the next successful token endpoint answer (once, any grant):
    /// sets those of `set` (a JSON object), then removes those named in `remove`. Combines with
    /// [`TestProvider::forge_next_id_token`], which is applied first.
    pub async fn forge_next_token_response(&self, set: Value, remove: &[&str]) {
        assert!(set.is_object(), "set must be a JSON object");
        self.control_post(
            "hostile",
            json!({ "token_response": { "set": set, "remove": remove }, "times": 1 }),
        )
        .await;
    }

    /// Mints a JWT with exactly these claims, for forging logout and access tokens. The header
    /// starts as `{"alg", "kid"}`: the alg of the key that really signs, and the provider's current
    /// `kid` (for every kind of key, as a forger would copy it); each field of `header` replaces
    /// one, and a `null` removes it. [`SignWith::ClientSecret`] needs a secret: use
    /// [`TestProvider::sign_jwt_hs256`].
    pub async fn sign_jwt(&self, header: Value, claims: Value, sign_with: SignWith) -> String {
        assert!(
            sign_with != SignWith::ClientSecret,
            "HS256 needs its secret: use sign_jwt_hs256"
        );
        self.mint(json!({ "header": header, "claims": claims, "sign_with": sign_with.wire_name() }))
            .await
    }

    /// Like [`TestProvider::sign_jwt`], signed HS256 with `secret` (e.g. the app secret, the
    /// algorithm-confusion attack).
    pub async fn sign_jwt_hs256(&self, header: Value, claims: Value, secret: &str) -> String {
        self.mint(json!({
            "header": header,
            "claims": claims,
            "sign_with": "client_secret",
            "secret": secret,
        }))
        .await
    }

    async fn mint(&self, request: Value) -> String {
        let answer = self.control_post("sign", request).await;
        answer["token"].as_str().expect("token in the sign answer").to_owned()
    }

    /// Stops every rewrite that has not been used up.
    pub async fn clear_hostile(&self) {
        self.control_post("hostile/clear", json!({})).await;
    }

    /// Every secret value the token endpoint saw or handed out (codes, PKCE verifiers, access,
    /// refresh and ID tokens), most recent last.
    pub async fn issued_secrets(&self) -> Vec<String> {
        let url = format!("{}/__op/issued", self.endpoint());
        let body: Value = self
            .control
            .get(&url)
            .send()
            .await
            .expect("GET /__op/issued")
            .json()
            .await
            .expect("issued JSON");
        serde_json::from_value(body["secrets"].clone()).expect("a list of strings")
    }

    /// How many times the app fetched the JWKS.
    pub async fn jwks_fetches(&self) -> u64 {
        self.stats().await.requests.get("/oidc/jwks").copied().unwrap_or(0)
    }
}

/// One HTML form: where it posts and its named inputs with their values.
struct HtmlForm {
    action: String,
    fields: Vec<(String, String)>,
}

fn html_unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Value of `name="..."` inside one tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = start + tag[start..].find('"')?;
    Some(html_unescape(&tag[start..end]))
}

/// The first form on a page, read just well enough for the provider's own pages.
fn first_form(html: &str) -> Option<HtmlForm> {
    let start = html.find("<form")?;
    let end = start + html[start..].find("</form>")?;
    let form = &html[start..end];
    let open_tag = &form[..form.find('>')?];
    let action = attribute(open_tag, "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        rest = &rest[i..];
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        if let Some(name) = attribute(tag, "name") {
            fields.push((name, attribute(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    Some(HtmlForm { action, fields })
}

fn location(response: &reqwest::Response) -> Url {
    let value = response
        .headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("redirect from {} without Location", response.url()))
        .to_str()
        .expect("Location is ASCII");
    response.url().join(value).expect("Location is a URL")
}

fn snippet(body: &str) -> String {
    body.chars().take(600).collect()
}

/// What to do on a page the provider shows.
enum Next {
    /// Post this form to this URL.
    Post(Url, Vec<(String, String)>),
    /// Stop here: this is where the walk ends.
    Done(Url),
}

/// Follows the provider's redirects from `start`, hands every page it shows to `on_page`, and
/// returns the first redirect that leaves the provider (or where `on_page` says to stop).
async fn walk_provider(
    http: &reqwest::Client,
    start: &str,
    what: &str,
    mut on_page: impl FnMut(&Url, &str) -> Next,
) -> Url {
    let start = Url::parse(start).unwrap_or_else(|_| panic!("{what} URL"));
    let provider_origin = start.origin();
    let mut request = http.get(start);
    for _ in 0..MAX_HOPS {
        let response = request.send().await.expect("request to the provider");
        let status = response.status();
        if status.is_redirection() {
            let next = location(&response);
            if next.origin() != provider_origin {
                return next;
            }
            request = http.get(next);
            continue;
        }
        let url = response.url().clone();
        let body = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "provider answered {status} at {url} during {what}: {}",
            snippet(&body)
        );
        request = match on_page(&url, &body) {
            Next::Post(action, fields) => http.post(action).form(&fields),
            Next::Done(url) => return url,
        };
    }
    panic!("{what} took more than {MAX_HOPS} hops")
}

/// Drives the provider from an authorization URL (already pointing at /oidc/auth) through login and
/// consent with a cookie-keeping reqwest client whose redirects are OFF; returns the URL the provider
/// finally redirects to (the client's redirect_uri with code/state/iss, or with error=...).
pub async fn complete_authorization(http: &reqwest::Client, authorize_url: &str, login: Login<'_>) -> url::Url {
    let mut form_sent = false;
    walk_provider(http, authorize_url, "sign-in", |url, body| {
        assert!(
            !form_sent,
            "the provider showed a page again after the form was sent: {}",
            snippet(body)
        );
        form_sent = true;
        let form =
            first_form(body).unwrap_or_else(|| panic!("expected a sign-in page at {url}, got: {}", snippet(body)));
        let fields: Vec<(&str, &str)> = match login {
            Login::Password { username, password } => {
                assert!(
                    form.action.ends_with("/login"),
                    "expected the sign-in form, got {}",
                    form.action
                );
                vec![("username", username), ("password", password)]
            }
            Login::Register {
                username,
                password,
                name,
                email,
            } => {
                assert!(
                    form.action.ends_with("/register"),
                    "expected the registration form, got {}",
                    form.action
                );
                vec![
                    ("username", username),
                    ("password", password),
                    ("name", name),
                    ("email", email),
                ]
            }
            Login::Direct => panic!("expected no form (direct sign-in), got one posting to {}", form.action),
            Login::Cancel => {
                // The cancel form sits beside the main one and posts to the interaction's `abort`.
                let (base, _) = form.action.rsplit_once('/').expect("an interaction form action");
                return Next::Post(url.join(&format!("{base}/abort")).expect("abort action"), Vec::new());
            }
        };
        let fields = fields.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Next::Post(url.join(&form.action).expect("form action"), fields)
    })
    .await
}

/// Follows an end-session URL (including the auto-submitting confirmation form) and returns the final redirect target.
pub async fn complete_end_session(http: &reqwest::Client, end_session_url: &str) -> url::Url {
    walk_provider(http, end_session_url, "sign-out", |url, body| match first_form(body) {
        // The confirmation page: a browser's script would submit it.
        Some(form) => Next::Post(url.join(&form.action).expect("form action"), form.fields),
        // No post_logout_redirect_uri: the provider's own "signed out" page is the end.
        None => Next::Done(url.clone()),
    })
    .await
}
