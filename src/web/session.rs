//! The typed session: what this app keeps between requests, and nothing more.
//!
//! With the cookie store everything here travels in one encrypted cookie, so the state is
//! kept small and its size is checked against [`SESSION_BUDGET`] before it is written.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::{Deserialize, Serialize};

use crate::logto::tokens::needs_refresh;
use crate::logto::{Audience, FreshToken, HuggingFaceIdentity, PendingSignIn, SignedIn, UserInfo};

use super::error::AppError;
use super::logout::LogoutRegistry;

/// Largest serialized session state. Encryption and base64 make the cookie about 1.39×
/// larger; browsers drop cookies over 4096 bytes, so the plain state must stay near 2.9 KB.
pub const SESSION_BUDGET: usize = 2800;

/// Sign-ins started in one browser and not yet finished (several tabs may each start one).
const MAX_PENDING: usize = 3;

const PENDING: &str = "pending";
const USER: &str = "user";
const TOKENS: &str = "tokens";
const CSRF: &str = "csrf";

/// A sign-in waiting for its callback, with where to go afterwards.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAttempt {
    /// State, PKCE verifier and nonce.
    pub sign_in: PendingSignIn,
    /// Same-site path to return to.
    pub return_to: String,
}

/// Who is signed in: the verified claims the pages show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    /// Logto user id.
    pub sub: String,
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Avatar URL (https only).
    pub picture: Option<String>,
    /// Logto username.
    pub username: Option<String>,
    /// Linked Hugging Face account, if any.
    pub huggingface: Option<HuggingFaceIdentity>,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// When the user signed in, seconds since the epoch.
    pub signed_in_at: u64,
    /// Logto's session id, when Logto sends one (back-channel logout by session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Tokens kept for later calls to Logto. Never rendered, never logged.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct SessionTokens {
    /// Refresh token: the source of every other token; revoked at sign-out.
    pub refresh_token: Option<String>,
    /// Access tokens by audience. A cache: any of them may be dropped to keep the cookie small.
    #[serde(default)]
    pub access_tokens: Vec<CachedAccessToken>,
}

/// One cached access token.
#[derive(Clone, Serialize, Deserialize)]
pub struct CachedAccessToken {
    /// [`Audience::key`]: `""` for userinfo, else the resource or organization URN.
    #[serde(rename = "a")]
    pub audience: String,
    /// The token.
    #[serde(rename = "t")]
    pub token: String,
    /// When it was obtained, seconds since the epoch.
    #[serde(rename = "o")]
    pub obtained_at: u64,
    /// When it expires, seconds since the epoch.
    #[serde(rename = "e")]
    pub expires_at: u64,
}

/// The session of the current request.
pub struct AppSession(Session);

impl FromRequest for AppSession {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = AppSession(req.get_session());
        // A session Logto ended through back-channel logout ends here as soon as it is seen.
        if let Some(registry) = req.app_data::<web::Data<LogoutRegistry>>()
            && !registry.is_empty()
            && let Some(user) = session.user()
            && registry.has_ended(&user)
        {
            log::info!("session of user {} ended by back-channel logout", user.sub);
            session.purge();
        }
        ready(Ok(session))
    }
}

impl AppSession {
    /// The signed-in user, or `None`. State that cannot be read counts as signed out.
    pub fn user(&self) -> Option<SessionUser> {
        self.0.get::<SessionUser>(USER).ok().flatten()
    }

    /// The CSRF token of the signed-in session.
    pub fn csrf_token(&self) -> Option<String> {
        self.0.get::<String>(CSRF).ok().flatten()
    }

    /// The refresh token, if the session has one.
    pub fn refresh_token(&self) -> Option<String> {
        self.tokens().refresh_token
    }

    /// A cached access token for `audience` that is not about to expire.
    pub fn cached_access_token(&self, audience: &Audience) -> Option<String> {
        let key = audience.key();
        let now = crate::logto::now();
        self.tokens()
            .access_tokens
            .into_iter()
            .find(|t| t.audience == key && !needs_refresh(t.obtained_at, t.expires_at, now))
            .map(|t| t.token)
    }

    /// Keeps the result of a refresh: the (maybe rotated) refresh token, the access token for
    /// `audience`, and what the new ID token says about the user.
    pub fn store_fresh_token(&self, audience: &Audience, fresh: &FreshToken) -> Result<(), AppError> {
        let mut tokens = self.tokens();
        tokens.refresh_token = Some(fresh.refresh_token.clone());
        let key = audience.key();
        tokens.access_tokens.retain(|t| t.audience != key);
        tokens.access_tokens.push(CachedAccessToken {
            audience: key.clone(),
            token: fresh.access_token.clone(),
            obtained_at: fresh.obtained_at,
            expires_at: fresh.expires_at,
        });
        self.insert(TOKENS, &tokens)?;
        if let (Some(claims), Some(mut user)) = (&fresh.id_token, self.user()) {
            user.name = claims.name.clone().or(user.name);
            user.email = claims.email.clone().or(user.email);
            user.username = claims.username.clone().or(user.username);
            self.insert(USER, &user)?;
        }
        self.fit_budget(&key)
    }

    /// Forgets a cached access token that Logto no longer accepts.
    pub fn forget_access_token(&self, audience: &Audience) -> Result<(), AppError> {
        let mut tokens = self.tokens();
        let key = audience.key();
        tokens.access_tokens.retain(|t| t.audience != key);
        self.insert(TOKENS, &tokens)
    }

    /// Updates what the pages show from fresh userinfo.
    pub fn update_user(&self, userinfo: &UserInfo) -> Result<(), AppError> {
        let Some(previous) = self.user() else { return Ok(()) };
        let mut user = user_from(userinfo, None);
        user.signed_in_at = previous.signed_in_at;
        user.sid = previous.sid;
        self.insert(USER, &user)?;
        self.fit_budget("")
    }

    /// Remembers a started sign-in; the oldest is forgotten beyond [`MAX_PENDING`].
    pub fn push_pending(&self, attempt: PendingAttempt) -> Result<(), AppError> {
        let mut pending = self.pending();
        pending.push(attempt);
        let excess = pending.len().saturating_sub(MAX_PENDING);
        pending.drain(..excess);
        self.insert(PENDING, &pending)
    }

    /// Takes the sign-in whose state is `state`, so a callback can be used only once.
    pub fn take_pending(&self, state: &str) -> Result<Option<PendingAttempt>, AppError> {
        let mut pending = self.pending();
        let Some(index) = pending.iter().position(|p| constant_time_eq(&p.sign_in.state, state)) else {
            return Ok(None);
        };
        let attempt = pending.remove(index);
        if pending.is_empty() {
            self.0.remove(PENDING);
        } else {
            self.insert(PENDING, &pending)?;
        }
        Ok(Some(attempt))
    }

    /// Starts the signed-in session: a new session id (no fixation), the user, the tokens
    /// and a fresh CSRF token; then trims to the size budget.
    pub fn sign_in(&self, user: SessionUser, signed_in: &SignedIn) -> Result<(), AppError> {
        self.0.renew();
        self.0.remove(PENDING);
        self.insert(USER, &user)?;
        let tokens = SessionTokens {
            refresh_token: signed_in.refresh_token.clone(),
            access_tokens: vec![CachedAccessToken {
                audience: Audience::Userinfo.key(),
                token: signed_in.access_token.clone(),
                obtained_at: signed_in.access_token_obtained_at,
                expires_at: signed_in.access_token_expires_at,
            }],
        };
        self.insert(TOKENS, &tokens)?;
        self.insert(CSRF, &oauth2::CsrfToken::new_random().secret())?;
        self.fit_budget("")
    }

    /// Ends the session everywhere this app keeps it.
    pub fn purge(&self) {
        self.0.purge();
    }

    /// Size of the serialized state, as the cookie store will see it.
    pub fn state_size(&self) -> usize {
        serde_json::to_string(&*self.0.entries())
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
    }

    /// Drops what can be fetched again until the state fits: cached access tokens first (the
    /// one for `keep_audience` last), then the pictures. A state that still does not fit is
    /// refused rather than silently lost by the browser.
    fn fit_budget(&self, keep_audience: &str) -> Result<(), AppError> {
        if self.state_size() <= SESSION_BUDGET {
            return Ok(());
        }
        let mut tokens = self.tokens();
        // Oldest first, the one in use now last.
        tokens
            .access_tokens
            .sort_by_key(|t| (t.audience == keep_audience, t.obtained_at));
        while !tokens.access_tokens.is_empty() {
            tokens.access_tokens.remove(0);
            self.insert(TOKENS, &tokens)?;
            if self.state_size() <= SESSION_BUDGET {
                return Ok(());
            }
        }
        if let Some(mut user) = self.user() {
            user.picture = None;
            if let Some(hf) = user.huggingface.as_mut() {
                hf.avatar = None;
            }
            self.insert(USER, &user)?;
        }
        if self.state_size() <= SESSION_BUDGET {
            return Ok(());
        }
        let size = self.state_size();
        self.0.purge();
        Err(AppError::SessionTooLarge(size))
    }

    fn tokens(&self) -> SessionTokens {
        self.0.get::<SessionTokens>(TOKENS).ok().flatten().unwrap_or_default()
    }

    fn pending(&self) -> Vec<PendingAttempt> {
        self.0
            .get::<Vec<PendingAttempt>>(PENDING)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AppError> {
        self.0.insert(key, value).map_err(|e| AppError::Session(e.to_string()))
    }
}

/// Compares secrets without leaking their common prefix through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Builds what the session keeps of a user at sign-in.
pub fn session_user(signed_in: &SignedIn) -> SessionUser {
    user_from(&signed_in.userinfo, Some(&signed_in.id_token))
}

/// What the session keeps of a user, from userinfo (and the ID token where userinfo is silent),
/// with bounded field sizes.
fn user_from(info: &UserInfo, claims: Option<&crate::logto::IdTokenClaims>) -> SessionUser {
    let bounded = |value: Option<&String>, max: usize| value.filter(|v| v.len() <= max).cloned();
    let from_claims = |pick: fn(&crate::logto::IdTokenClaims) -> Option<&String>| claims.and_then(pick);
    let picture = info
        .picture
        .as_ref()
        .or(from_claims(|c| c.picture.as_ref()))
        .filter(|p| crate::logto::userinfo::is_https_url(p));
    SessionUser {
        sub: info.sub.clone(),
        name: bounded(info.name.as_ref().or(from_claims(|c| c.name.as_ref())), 200),
        email: bounded(info.email.as_ref().or(from_claims(|c| c.email.as_ref())), 254),
        picture: bounded(picture, 1024),
        username: bounded(info.username.as_ref().or(from_claims(|c| c.username.as_ref())), 128),
        huggingface: info.huggingface().map(|mut hf| {
            hf.name = bounded(hf.name.as_ref(), 200);
            hf.avatar = bounded(hf.avatar.as_ref(), 1024);
            hf
        }),
        roles: info.roles.iter().take(20).filter(|r| r.len() <= 64).cloned().collect(),
        signed_in_at: crate::logto::now(),
        sid: bounded(from_claims(|c| c.sid.as_ref()), 128),
    }
}
