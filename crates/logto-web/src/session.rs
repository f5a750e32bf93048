//! The typed session: what sign-in keeps between requests, and nothing more, over any
//! framework's session through [`SessionEntries`].
//!
//! With a cookie store everything here travels in one encrypted cookie, so the state is kept
//! small and its size is checked against [`SESSION_BUDGET`] before it is written. The ID token,
//! which only sign-out needs (`id_token_hint`), then goes in a cookie of its own that the browser
//! sends to the sign-out path only, when the adapter offers one
//! ([`SessionEntries::has_id_token_cookie`]): every other request reads ~580 bytes less.

use logto_client::protocol::ORGANIZATION_AUDIENCE_PREFIX;
use logto_client::{
    AccessToken, Audience, IdToken, IssuedAccessToken, PendingSignIns, RefreshToken, Refreshed, SignedIn,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, StoreError};
use crate::keys::{CSRF, PENDING, TOKENS, UNAVAILABLE, USER};
use crate::limits::{ID_TOKEN_COOKIE_BUDGET, SESSION_BUDGET};
use crate::user::SessionUser;

/// The session cookie's name: `__Host-logto-session` behind https, `logto-session` otherwise.
/// Every adapter uses these names, so a browser's cookies open under either framework.
pub fn session_cookie_name(secure: bool) -> &'static str {
    // `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and Path=/.
    if secure {
        "__Host-logto-session"
    } else {
        "logto-session"
    }
}

/// The ID token cookie's name: `__Secure-logto-id-token` behind https, `logto-id-token`
/// otherwise. Its `Path` is the sign-out path (so not `__Host-`, which requires `Path=/`): the
/// browser sends the ID token to sign-out only, not with every request.
pub fn id_token_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Secure-logto-id-token"
    } else {
        "logto-id-token"
    }
}

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

    /// Whether this adapter can keep the ID token in a cookie of its own: encrypted and
    /// authenticated with the session cookie's key, `HttpOnly`, `SameSite=Lax`, `Secure` behind
    /// https, with the `Path` of [`LogtoWeb::id_token_cookie_path`](crate::LogtoWeb::id_token_cookie_path)
    /// so that the browser sends it to sign-out only. With a store that keeps the whole session
    /// in its cookie ([`SessionStore::state_in_cookie`](crate::SessionStore::state_in_cookie)) the
    /// ID token is then kept there instead of in the entries. Default: `false` (the ID token stays
    /// in the entries).
    fn has_id_token_cookie(&self) -> bool {
        false
    }

    /// The ID token that this request's ID token cookie carries, opened with the key; `None`
    /// without one (or one that does not open).
    fn id_token_cookie(&self) -> Option<String> {
        None
    }

    /// Sets the ID token cookie in this request's response (`Some`), or removes it (`None`).
    /// Called only when [`SessionEntries::has_id_token_cookie`] is `true`.
    fn set_id_token_cookie(&self, _id_token: Option<&str>) {}
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
    /// The newest ID token, for sign-out's `id_token_hint`: Logto then ends this user's
    /// session without asking. Dropped after the access tokens when the cookie must shrink
    /// (sign-out then goes without the hint). Kept in the ID token cookie instead when the
    /// session has one ([`LogtoSession`]); sessions written before that still carry it here.
    #[serde(rename = "id_token", default, skip_serializing_if = "Option::is_none")]
    id_token: Option<IdToken>,
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
pub struct LogtoSession<S: SessionEntries> {
    entries: S,
    /// The ID token lives in the ID token cookie, not in the entries.
    id_token_apart: bool,
}

impl<S: SessionEntries> LogtoSession<S> {
    /// The sign-in state kept in `entries`, or the 503 error when the store could not read them.
    /// The ID token stays in the entries; [`LogtoWeb`](crate::LogtoWeb)'s flows keep it in the
    /// ID token cookie when the store and the adapter allow.
    pub fn new(entries: S) -> Result<Self, AuthError> {
        if entries.get::<bool>(UNAVAILABLE).unwrap_or(false) {
            return Err(AuthError::SessionStore(StoreError {
                store: "of this request".to_owned(),
                what: "could not be read (the store's own log line names the cause)".to_owned(),
            }));
        }
        Ok(Self {
            entries,
            id_token_apart: false,
        })
    }

    /// The same, keeping the ID token in the ID token cookie when `state_in_cookie` (the store
    /// keeps the whole state in the session cookie, read on every request) and the adapter has
    /// such a cookie. With a server-side store the session cookie holds only an id, and the ID
    /// token stays with the rest.
    pub(crate) fn with_id_token_cookie(mut self, state_in_cookie: bool) -> Self {
        self.id_token_apart = state_in_cookie && self.entries.has_id_token_cookie();
        self
    }

    /// The user as stored, without any check of whether their session was ended elsewhere; state
    /// that cannot be read counts as signed out.
    pub(crate) fn stored_user(&self) -> Option<SessionUser> {
        self.entries.get::<SessionUser>(USER)
    }

    /// The CSRF token of the signed-in session.
    pub(crate) fn csrf_token(&self) -> Option<String> {
        self.entries.get::<String>(CSRF)
    }

    /// The refresh token, if the session has one.
    pub(crate) fn refresh_token(&self) -> Option<RefreshToken> {
        self.tokens().refresh
    }

    /// The ID token kept for sign-out's `id_token_hint`, if the session still has it: in the
    /// entries (a session written before the ID token cookie, or a server-side store), else in
    /// the ID token cookie.
    pub(crate) fn id_token(&self) -> Option<IdToken> {
        self.tokens().id_token.or_else(|| {
            self.id_token_apart
                .then(|| self.entries.id_token_cookie())
                .flatten()
                .map(IdToken::new)
        })
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
        if let Some(id_token) = &refreshed.raw_id_token {
            tokens.id_token = Some(id_token.clone());
        }
        self.put_tokens(tokens)?;
        if let (Some(claims), Some(mut user)) = (&refreshed.id_token, self.stored_user()) {
            user.name = claims.name.clone().or(user.name);
            user.email = claims.email.clone().or(user.email);
            user.username = claims.username.clone().or(user.username);
            self.entries.insert(USER, &user)?;
        }
        self.fit_budget(&key)
    }

    /// Forgets a cached access token that Logto no longer accepts.
    pub(crate) fn forget_access_token(&self, audience: &Audience) -> Result<(), AuthError> {
        let mut tokens = self.tokens();
        let key = audience.key();
        tokens.access.retain(|t| t.audience != key);
        self.put_tokens(tokens)
    }

    /// Forgets the cached tokens of the organizations `ids` (the organization token and the
    /// organization-scoped resource tokens): the user's membership or roles there changed.
    pub(crate) fn forget_organization_tokens(&self, ids: &[String]) -> Result<(), AuthError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tokens = self.tokens();
        let before = tokens.access.len();
        tokens.access.retain(|t| {
            !ids.iter().any(|id| {
                let organization = format!("{ORGANIZATION_AUDIENCE_PREFIX}{id}");
                t.audience == organization || t.audience.ends_with(&format!("#{organization}"))
            })
        });
        if tokens.access.len() == before {
            return Ok(());
        }
        self.put_tokens(tokens)
    }

    /// Replaces what the session keeps of the user.
    pub(crate) fn set_user(&self, user: &SessionUser) -> Result<(), AuthError> {
        self.entries.insert(USER, user)?;
        self.fit_budget("")
    }

    /// The sign-ins this browser started and has not finished.
    pub(crate) fn pending(&self) -> PendingSignIns {
        self.entries.get::<PendingSignIns>(PENDING).unwrap_or_default()
    }

    /// Keeps the sign-ins this browser started (none: the entry goes).
    pub(crate) fn set_pending(&self, pending: &PendingSignIns) -> Result<(), AuthError> {
        if pending.is_empty() {
            self.entries.remove(PENDING);
            Ok(())
        } else {
            self.entries.insert(PENDING, pending)
        }
    }

    /// Starts the signed-in session: a new session id (no fixation), the user, the tokens and a
    /// fresh CSRF token; then trims to the size budget.
    pub(crate) fn sign_in(&self, user: &SessionUser, signed_in: &SignedIn) -> Result<(), AuthError> {
        self.entries.renew();
        self.entries.remove(PENDING);
        self.entries.insert(USER, user)?;
        let tokens = SessionTokens {
            refresh: signed_in.refresh_token.clone(),
            access: vec![CachedAccessToken::new(&Audience::Userinfo, &signed_in.access_token)],
            id_token: Some(signed_in.raw_id_token.clone()),
            generation: 1,
        };
        self.put_tokens(tokens)?;
        self.entries.insert(CSRF, &random_token())?;
        self.fit_budget("")
    }

    /// Ends the session everywhere this app keeps it, the ID token cookie included.
    pub(crate) fn purge(&self) {
        self.entries.purge();
        if self.id_token_apart {
            self.entries.set_id_token_cookie(None);
        }
    }

    /// Writes the tokens entry. With the ID token cookie, an ID token in `tokens` (a new one, or
    /// one a session written before still carried) moves to that cookie instead; one too large
    /// for a cookie is not kept (sign-out goes without the hint, and no older token is left).
    fn put_tokens(&self, mut tokens: SessionTokens) -> Result<(), AuthError> {
        if self.id_token_apart
            && let Some(id_token) = tokens.id_token.take()
        {
            let fits = id_token.secret().len() <= ID_TOKEN_COOKIE_BUDGET;
            self.entries.set_id_token_cookie(fits.then(|| id_token.secret()));
        }
        self.entries.insert(TOKENS, &tokens)
    }

    /// Drops what can be fetched again or done without until the state fits: cached access
    /// tokens first (the one for `keep_audience` last), then the ID token (sign-out goes without
    /// its hint), then the pictures, then the organizations' names and roles. A state that still
    /// does not fit is refused rather than silently lost by the browser.
    fn fit_budget(&self, keep_audience: &str) -> Result<(), AuthError> {
        if self.entries.serialized_size() <= SESSION_BUDGET {
            return Ok(());
        }
        let mut tokens = self.tokens();
        // Oldest first, the one in use now last.
        tokens
            .access
            .sort_by_key(|t| (t.audience == keep_audience, t.obtained_at));
        while !tokens.access.is_empty() {
            tokens.access.remove(0);
            self.entries.insert(TOKENS, &tokens)?;
            if self.entries.serialized_size() <= SESSION_BUDGET {
                return Ok(());
            }
        }
        if tokens.id_token.take().is_some() {
            self.entries.insert(TOKENS, &tokens)?;
            if self.entries.serialized_size() <= SESSION_BUDGET {
                return Ok(());
            }
        }
        if let Some(user) = self.stored_user() {
            self.entries.insert(USER, &user.without_pictures())?;
        }
        if self.entries.serialized_size() > SESSION_BUDGET
            && let Some(user) = self.stored_user()
        {
            self.entries.insert(USER, &user.with_organization_ids_only())?;
        }
        let size = self.entries.serialized_size();
        if size <= SESSION_BUDGET {
            return Ok(());
        }
        self.purge();
        Err(AuthError::SessionTooLarge(size))
    }

    fn tokens(&self) -> SessionTokens {
        self.entries.get::<SessionTokens>(TOKENS).unwrap_or_default()
    }
}

/// 256 random bits, hex-encoded: the CSRF token.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    use serde_json::{Value, json};

    use super::*;
    use crate::user::SessionOrganization;

    /// Entries in memory, sized as JSON: what the cookie store's size check sees, near enough;
    /// with `.1`, an ID token cookie too (`Some(None)`: there is one, without a value).
    #[derive(Clone, Default)]
    struct Memory(
        Rc<RefCell<BTreeMap<String, Value>>>,
        Option<Rc<RefCell<Option<String>>>>,
    );

    impl SessionEntries for Memory {
        fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
            serde_json::from_value(self.0.borrow().get(key)?.clone()).ok()
        }
        fn insert<T: Serialize>(&self, key: &str, value: &T) -> Result<(), AuthError> {
            self.0
                .borrow_mut()
                .insert(key.to_owned(), serde_json::to_value(value).unwrap());
            Ok(())
        }
        fn remove(&self, key: &str) {
            self.0.borrow_mut().remove(key);
        }
        fn renew(&self) {}
        fn purge(&self) {
            self.0.borrow_mut().clear();
        }
        fn serialized_size(&self) -> usize {
            serde_json::to_string(&*self.0.borrow()).unwrap().len()
        }
        fn has_id_token_cookie(&self) -> bool {
            self.1.is_some()
        }
        fn id_token_cookie(&self) -> Option<String> {
            self.1.as_ref()?.borrow().clone()
        }
        fn set_id_token_cookie(&self, id_token: Option<&str>) {
            *self.1.as_ref().unwrap().borrow_mut() = id_token.map(str::to_owned);
        }
    }

    fn access_token(audience: &str, obtained_at: u64) -> CachedAccessToken {
        CachedAccessToken {
            audience: audience.to_owned(),
            token: AccessToken::new("a".repeat(900)),
            obtained_at,
            expires_at: obtained_at + 3600,
        }
    }

    fn session_with(user: &SessionUser) -> LogtoSession<Memory> {
        let session = LogtoSession::new(Memory::default()).unwrap();
        let tokens = SessionTokens {
            refresh: Some(RefreshToken::new("r".repeat(43))),
            access: vec![
                access_token("", 1),
                access_token("https://api.example.com", 2),
                access_token("urn:logto:organization:o", 3),
            ],
            id_token: Some(IdToken::new("i".repeat(900))),
            generation: 1,
        };
        session.entries.insert(TOKENS, &tokens).unwrap();
        session.entries.insert(USER, user).unwrap();
        session
    }

    fn user(organizations: Vec<SessionOrganization>) -> SessionUser {
        let mut user: SessionUser = serde_json::from_value(json!({ "sub": "u", "signed_in_at": 1 })).unwrap();
        user.organizations = organizations;
        user
    }

    #[test]
    fn access_tokens_go_before_the_id_token() {
        let session = session_with(&user(Vec::new()));
        session.set_user(&user(Vec::new())).unwrap();
        assert!(session.entries.serialized_size() <= SESSION_BUDGET);
        assert!(session.id_token().is_some(), "kept: dropping access tokens was enough");
        let left = session.tokens().access;
        assert!(!left.is_empty() && left.len() < 3, "{} access tokens left", left.len());
    }

    #[test]
    fn twenty_organizations_with_long_names_and_ten_roles_each_still_fit() {
        let organizations: Vec<SessionOrganization> = (0..20)
            .map(|n| SessionOrganization {
                id: format!("{n:0>12}"),
                name: Some("n".repeat(128)),
                roles: (0..10).map(|r| format!("{r:0>64}")).collect(),
            })
            .collect();
        let big = user(organizations);
        let session = session_with(&big);
        session.set_user(&big).unwrap();
        assert!(session.entries.serialized_size() <= SESSION_BUDGET);
        assert!(
            session.id_token().is_none(),
            "dropped before the organizations' details"
        );
        let kept = session.stored_user().unwrap();
        assert_eq!(kept.organizations.len(), 20, "every membership is kept, by id");
        assert!(
            kept.organizations
                .iter()
                .all(|o| o.name.is_none() && o.roles.is_empty())
        );
        assert!(
            session
                .refresh_token()
                .is_some_and(|t| t.matches(&RefreshToken::new("r".repeat(43))))
        );
    }

    /// A session with an ID token cookie over a cookie store, holding `tokens`.
    fn apart_session_with(tokens: &SessionTokens) -> (LogtoSession<Memory>, Rc<RefCell<Option<String>>>) {
        let cookie = Rc::new(RefCell::new(None));
        let memory = Memory(Rc::default(), Some(cookie.clone()));
        let session = LogtoSession::new(memory).unwrap().with_id_token_cookie(true);
        session.entries.insert(TOKENS, tokens).unwrap();
        (session, cookie)
    }

    fn tokens_with_id_token(id_token: Option<&str>) -> SessionTokens {
        SessionTokens {
            refresh: Some(RefreshToken::new("r".repeat(43))),
            access: vec![access_token("", 1)],
            id_token: id_token.map(IdToken::new),
            generation: 1,
        }
    }

    fn id_token_in_entries(session: &LogtoSession<Memory>) -> bool {
        session.entries.0.borrow()[TOKENS].get("id_token").is_some()
    }

    #[test]
    fn with_an_id_token_cookie_the_id_token_leaves_the_entries() {
        let (session, cookie) = apart_session_with(&tokens_with_id_token(None));
        let mut tokens = session.tokens();
        tokens.id_token = Some(IdToken::new("i".repeat(580)));
        session.put_tokens(tokens).unwrap();
        assert!(!id_token_in_entries(&session));
        assert_eq!(cookie.borrow().as_deref(), Some("i".repeat(580).as_str()));
        assert_eq!(session.id_token().unwrap().secret(), "i".repeat(580));

        session.purge();
        assert_eq!(*cookie.borrow(), None, "the session's end removes the cookie");
    }

    #[test]
    fn a_session_written_before_the_id_token_cookie_keeps_its_hint_and_moves_it_on_the_next_write() {
        let (session, cookie) = apart_session_with(&tokens_with_id_token(Some("old-id-token")));
        assert_eq!(session.id_token().unwrap().secret(), "old-id-token");
        assert_eq!(*cookie.borrow(), None);

        session.forget_access_token(&Audience::Userinfo).unwrap();
        assert!(!id_token_in_entries(&session));
        assert_eq!(cookie.borrow().as_deref(), Some("old-id-token"));
        assert_eq!(session.id_token().unwrap().secret(), "old-id-token");
    }

    #[test]
    fn an_id_token_too_large_for_its_cookie_is_not_kept() {
        let (session, cookie) = apart_session_with(&tokens_with_id_token(None));
        *cookie.borrow_mut() = Some("an-older-id-token".to_owned());
        let mut tokens = session.tokens();
        tokens.id_token = Some(IdToken::new("i".repeat(ID_TOKEN_COOKIE_BUDGET + 1)));
        session.put_tokens(tokens).unwrap();
        assert!(!id_token_in_entries(&session));
        assert_eq!(*cookie.borrow(), None);
        assert!(session.id_token().is_none());
    }

    #[test]
    fn without_a_cookie_store_the_id_token_stays_in_the_entries() {
        let cookie = Rc::new(RefCell::new(Some("stale".to_owned())));
        let memory = Memory(Rc::default(), Some(cookie.clone()));
        let session = LogtoSession::new(memory).unwrap().with_id_token_cookie(false);
        session.put_tokens(tokens_with_id_token(Some("kept"))).unwrap();
        assert!(id_token_in_entries(&session));
        assert_eq!(session.id_token().unwrap().secret(), "kept");
        session.entries.remove(TOKENS);
        assert!(
            session.id_token().is_none(),
            "a server-side store never reads the cookie"
        );
        session.purge();
        assert_eq!(cookie.borrow().as_deref(), Some("stale"), "and never writes it");
    }
}
