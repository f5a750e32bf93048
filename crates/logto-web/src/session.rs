//! The typed session: what sign-in keeps between requests, and nothing more, over any
//! framework's session through [`SessionEntries`].
//!
//! With a cookie store everything here travels in one encrypted cookie, so the state is kept
//! small and its size is checked against [`SESSION_BUDGET`] before it is written.

use logto_client::{AccessToken, Audience, IssuedAccessToken, PendingSignIns, RefreshToken, Refreshed, SignedIn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, StoreError};
use crate::keys::{CSRF, PENDING, TOKENS, UNAVAILABLE, USER};
use crate::limits::SESSION_BUDGET;
use crate::user::SessionUser;

/// One browser's session as a framework keeps it: named entries, each a JSON value. An adapter
/// implements this over its framework's session (actix-session's `Session`, the axum crate's own);
/// the flows only ever use these calls.
pub trait SessionEntries: Clone {
    /// The entry `key`, if present and of type `T`.
    fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T>;
    /// Sets the entry `key`.
    fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AuthError>;
    /// Removes the entry `key`.
    fn remove(&self, key: &str);
    /// Keeps the entries under a new session id (at sign-in: no session fixation).
    fn renew(&self);
    /// Ends the session: no entries, and the store forgets it.
    fn purge(&self);
    /// Size in bytes of the entries serialized as the store will see them.
    fn serialized_size(&self) -> usize;
}

/// Tokens kept for later calls to Logto. Never rendered, never logged.
#[derive(Clone, Default, Serialize, Deserialize)]
struct SessionTokens {
    /// Refresh token: the source of every other token; revoked at sign-out.
    #[serde(rename = "refresh_token", default)]
    refresh: Option<RefreshToken>,
    /// Access tokens by audience. A cache: any of them may be dropped to keep the cookie small.
    #[serde(rename = "access_tokens", default)]
    access: Vec<CachedAccessToken>,
    /// Bumped each time the refresh token changes. The Redis store never lets a write of a lower
    /// generation replace a higher one, so a request that read the session before a rotation
    /// cannot put the old refresh token back (its replay would make Logto revoke the grant).
    #[serde(rename = "g", default)]
    generation: u64,
}

/// One cached access token.
#[derive(Clone, Serialize, Deserialize)]
struct CachedAccessToken {
    /// [`Audience::key`]: `""` for userinfo, else the resource or organization URN.
    #[serde(rename = "a")]
    audience: String,
    #[serde(rename = "t")]
    token: AccessToken,
    #[serde(rename = "o")]
    obtained_at: u64,
    #[serde(rename = "e")]
    expires_at: u64,
}

impl CachedAccessToken {
    fn new(audience: &Audience, issued: &IssuedAccessToken) -> Self {
        Self {
            audience: audience.key(),
            token: issued.token.clone(),
            obtained_at: issued.obtained_at,
            expires_at: issued.expires_at,
        }
    }
}

/// The sign-in state of one request's session.
#[derive(Clone)]
pub struct LogtoSession<S: SessionEntries>(S);

impl<S: SessionEntries> LogtoSession<S> {
    /// The sign-in state kept in `entries`, or the 503 error when the store could not read them.
    pub fn new(entries: S) -> Result<Self, AuthError> {
        if entries.get::<bool>(UNAVAILABLE).unwrap_or(false) {
            return Err(AuthError::SessionStore(StoreError {
                store: "of this request".to_owned(),
                what: "could not be read (the store's own log line names the cause)".to_owned(),
            }));
        }
        Ok(Self(entries))
    }

    /// The user as stored, without any check of whether their session was ended elsewhere; state
    /// that cannot be read counts as signed out.
    pub(crate) fn stored_user(&self) -> Option<SessionUser> {
        self.0.get::<SessionUser>(USER)
    }

    /// The CSRF token of the signed-in session.
    pub(crate) fn csrf_token(&self) -> Option<String> {
        self.0.get::<String>(CSRF)
    }

    /// The refresh token, if the session has one.
    pub(crate) fn refresh_token(&self) -> Option<RefreshToken> {
        self.tokens().refresh
    }

    /// A cached access token for `audience` that is not about to expire at `now`.
    pub(crate) fn cached_access_token(&self, audience: &Audience, now: u64) -> Option<AccessToken> {
        let key = audience.key();
        self.tokens()
            .access
            .into_iter()
            .find(|t| t.audience == key && !logto_client::util::needs_refresh(t.obtained_at, t.expires_at, now))
            .map(|t| t.token)
    }

    /// Keeps the result of a refresh: the (maybe rotated) refresh token, the access token for
    /// `audience`, and what the new ID token says about the user.
    pub(crate) fn store_refreshed(&self, audience: &Audience, refreshed: &Refreshed) -> Result<(), AuthError> {
        let mut tokens = self.tokens();
        if !tokens
            .refresh
            .as_ref()
            .is_some_and(|kept| kept.matches(&refreshed.refresh_token))
        {
            tokens.generation += 1;
        }
        tokens.refresh = Some(refreshed.refresh_token.clone());
        let key = audience.key();
        tokens.access.retain(|t| t.audience != key);
        tokens
            .access
            .push(CachedAccessToken::new(audience, &refreshed.access_token));
        self.0.insert(TOKENS, &tokens)?;
        if let (Some(claims), Some(mut user)) = (&refreshed.id_token, self.stored_user()) {
            user.name = claims.name.clone().or(user.name);
            user.email = claims.email.clone().or(user.email);
            user.username = claims.username.clone().or(user.username);
            self.0.insert(USER, &user)?;
        }
        self.fit_budget(&key)
    }

    /// Forgets a cached access token that Logto no longer accepts.
    pub(crate) fn forget_access_token(&self, audience: &Audience) -> Result<(), AuthError> {
        let mut tokens = self.tokens();
        let key = audience.key();
        tokens.access.retain(|t| t.audience != key);
        self.0.insert(TOKENS, &tokens)
    }

    /// Replaces what the session keeps of the user.
    pub(crate) fn set_user(&self, user: &SessionUser) -> Result<(), AuthError> {
        self.0.insert(USER, user)?;
        self.fit_budget("")
    }

    /// The sign-ins this browser started and has not finished.
    pub(crate) fn pending(&self) -> PendingSignIns {
        self.0.get::<PendingSignIns>(PENDING).unwrap_or_default()
    }

    /// Keeps the sign-ins this browser started (none: the entry goes).
    pub(crate) fn set_pending(&self, pending: &PendingSignIns) -> Result<(), AuthError> {
        if pending.is_empty() {
            self.0.remove(PENDING);
            Ok(())
        } else {
            self.0.insert(PENDING, pending)
        }
    }

    /// Starts the signed-in session: a new session id (no fixation), the user, the tokens and a
    /// fresh CSRF token; then trims to the size budget.
    pub(crate) fn sign_in(&self, user: &SessionUser, signed_in: &SignedIn) -> Result<(), AuthError> {
        self.0.renew();
        self.0.remove(PENDING);
        self.0.insert(USER, user)?;
        let tokens = SessionTokens {
            refresh: signed_in.refresh_token.clone(),
            access: vec![CachedAccessToken::new(&Audience::Userinfo, &signed_in.access_token)],
            generation: 1,
        };
        self.0.insert(TOKENS, &tokens)?;
        self.0.insert(CSRF, &random_token())?;
        self.fit_budget("")
    }

    /// Ends the session everywhere this app keeps it.
    pub(crate) fn purge(&self) {
        self.0.purge();
    }

    /// Drops what can be fetched again until the state fits: cached access tokens first (the one
    /// for `keep_audience` last), then the pictures. A state that still does not fit is refused
    /// rather than silently lost by the browser.
    fn fit_budget(&self, keep_audience: &str) -> Result<(), AuthError> {
        if self.0.serialized_size() <= SESSION_BUDGET {
            return Ok(());
        }
        let mut tokens = self.tokens();
        // Oldest first, the one in use now last.
        tokens
            .access
            .sort_by_key(|t| (t.audience == keep_audience, t.obtained_at));
        while !tokens.access.is_empty() {
            tokens.access.remove(0);
            self.0.insert(TOKENS, &tokens)?;
            if self.0.serialized_size() <= SESSION_BUDGET {
                return Ok(());
            }
        }
        if let Some(user) = self.stored_user() {
            self.0.insert(USER, &user.without_pictures())?;
        }
        let size = self.0.serialized_size();
        if size <= SESSION_BUDGET {
            return Ok(());
        }
        self.0.purge();
        Err(AuthError::SessionTooLarge(size))
    }

    fn tokens(&self) -> SessionTokens {
        self.0.get::<SessionTokens>(TOKENS).unwrap_or_default()
    }
}

/// 256 random bits, hex-encoded: the CSRF token.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
