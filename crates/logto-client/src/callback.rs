//! Finishing a sign-in: the authorization response (the query of `GET /callback`), parsed
//! strictly and matched to the sign-in it answers ([`PendingSignIns`]), then the code
//! exchanged, the ID token verified and userinfo read.

use std::time::Instant;

use oauth2::{AuthorizationCode, PkceCodeVerifier, TokenResponse};
use serde::{Deserialize, Serialize};

use crate::authorize::PendingSignIn;
use crate::client::LogtoClient;
use crate::error::{CallbackError, Endpoint, LogtoError, SignInError, TokenError, TokenKind};
use crate::http::BoundedHttp;
use crate::id_token::IdTokenClaims;
use crate::jwt;
use crate::secret::{IdToken, RefreshToken};
use crate::token_endpoint::token_answer;
use crate::tokens::IssuedAccessToken;
use crate::userinfo::UserInfo;

/// Longest query a genuine callback has; anything larger is refused unread.
pub const MAX_CALLBACK_QUERY: usize = 8 * 1024;

/// The parameters of an authorization response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state this client sent.
    pub state: Option<String>,
    /// The issuer that answered (RFC 9207).
    pub iss: Option<String>,
    /// An OAuth error code, e.g. `access_denied`.
    pub error: Option<String>,
    /// A human-readable description of `error`.
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Parses a raw query string. Repeated known parameters are refused: a genuine
    /// response never repeats one, and picking either copy could be exploited.
    pub fn parse(query: &str) -> Result<Self, CallbackError> {
        if query.len() > MAX_CALLBACK_QUERY {
            return Err(CallbackError::TooLarge);
        }
        let mut params = CallbackParams::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "iss" => &mut params.iss,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            if slot.is_some() {
                return Err(CallbackError::RepeatedParameter);
            }
            *slot = Some(value.into_owned());
        }
        Ok(params)
    }
}

/// The sign-ins one browser started and has not finished: several tabs may each start one.
/// Only the newest [`PendingSignIns::MAX`] are kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PendingSignIns(Vec<PendingSignIn>);

impl PendingSignIns {
    /// Most sign-ins kept at once; the oldest is forgotten beyond this.
    pub const MAX: usize = 3;

    /// Adds a started sign-in.
    pub fn push(&mut self, pending: PendingSignIn) {
        self.0.push(pending);
        let excess = self.0.len().saturating_sub(Self::MAX);
        self.0.drain(..excess);
    }

    /// Takes out the sign-in a callback answers, by its `state` (compared in constant time), so
    /// that the callback works once. Done before anything else: whatever happens next, the
    /// callback cannot be replayed.
    pub fn take(&mut self, params: &CallbackParams) -> Result<PendingSignIn, CallbackError> {
        let state = params.state.as_deref().ok_or(CallbackError::MissingState)?;
        let index = self
            .0
            .iter()
            .position(|p| p.state.matches_str(state))
            .ok_or(CallbackError::UnknownState)?;
        Ok(self.0.remove(index))
    }

    /// Whether no sign-in is waiting.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many sign-ins are waiting.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// Tokens and verified identity from a finished sign-in.
#[non_exhaustive]
pub struct SignedIn {
    /// The verified ID token claims.
    pub id_token: IdTokenClaims,
    /// The ID token as Logto signed it, for the session to keep: sign-out sends it as
    /// `id_token_hint` ([`LogtoClient::end_session_url_for`]) so that Logto ends the right session
    /// without asking.
    pub raw_id_token: IdToken,
    /// Userinfo, whose `sub` equals the ID token's.
    pub userinfo: UserInfo,
    /// The access token for userinfo.
    pub access_token: IssuedAccessToken,
    /// Refresh token (present with `offline_access` and `prompt=consent`).
    pub refresh_token: Option<RefreshToken>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("sub", &self.id_token.sub)
            .finish_non_exhaustive()
    }
}

impl LogtoClient {
    /// Finishes a sign-in from its callback: the `state` must be this pending sign-in's, the
    /// sign-in not older than [`PendingSignIn::TTL`], `iss` Logto's (RFC 9207 mix-up defence),
    /// and no OAuth error; then the code is exchanged (client_secret_basic, PKCE), the ID token
    /// verified (nonce included; `auth_time` against `max_age` when the sign-in asked for one:
    /// [`TokenError::AuthenticationTooOld`], or [`TokenError::MissingClaim`]) and userinfo read,
    /// whose `sub` must match.
    pub async fn finish_sign_in(
        &self,
        params: &CallbackParams,
        pending: &PendingSignIn,
    ) -> Result<SignedIn, SignInError> {
        let code = self.check_callback(params, pending).await?;
        Ok(self.exchange_code(code, pending).await?)
    }

    /// The checks made before anything is sent to Logto; returns the code.
    async fn check_callback<'p>(
        &self,
        params: &'p CallbackParams,
        pending: &PendingSignIn,
    ) -> Result<&'p str, SignInError> {
        let state = params.state.as_deref().ok_or(CallbackError::MissingState)?;
        if !pending.state.matches_str(state) {
            return Err(CallbackError::UnknownState.into());
        }
        if self.now().saturating_sub(pending.started_at) > PendingSignIn::TTL.as_secs() {
            return Err(CallbackError::Expired.into());
        }
        match &params.iss {
            Some(iss) if iss != &self.issuer => return Err(CallbackError::IssuerMismatch.into()),
            Some(_) => {}
            // Without `iss`, trust the response only if Logto does not promise to send it.
            None => {
                if self.metadata().await?.authorization_response_iss_parameter_supported {
                    return Err(CallbackError::IssuerMismatch.into());
                }
            }
        }
        if let Some(error) = &params.error {
            return Err(CallbackError::Denied {
                error: error.clone(),
                description: params.error_description.clone(),
            }
            .into());
        }
        Ok(params.code.as_deref().ok_or(CallbackError::MissingCode)?)
    }

    async fn exchange_code(&self, code: &str, pending: &PendingSignIn) -> Result<SignedIn, LogtoError> {
        let metadata = self.metadata().await?;
        let client = self.oauth_client(&metadata)?;
        let started = Instant::now();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.secret().to_owned()))
            .request_async(&BoundedHttp(&self.http))
            .await;
        let response = token_answer(&metadata.token_endpoint, started, response)?;
        let id_token = response
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or_else(|| LogtoError::InvalidResponse {
                endpoint: Endpoint::Token,
                detail: "no ID token in the code exchange's answer".into(),
            })?;
        let claims = self
            .verify_id_token_with(&metadata, id_token, Some(pending.nonce.secret()))
            .await?;
        if let Some(max_age) = pending.max_age {
            check_auth_time(&claims, max_age, self.now())?;
        }
        let access_token = self.issued_access_token(&response);
        let userinfo = self.fetch_userinfo(&access_token.token, &claims.sub).await?;
        Ok(SignedIn {
            raw_id_token: IdToken::new(id_token),
            id_token: claims,
            userinfo,
            access_token,
            refresh_token: response.refresh_token().map(|t| RefreshToken::new(t.secret().clone())),
        })
    }
}

/// Refuses an ID token whose `auth_time` is missing, or older than `max_age` (and the clock
/// leeway) at `now`: the sign-in asked for a recent authentication.
fn check_auth_time(claims: &IdTokenClaims, max_age: u64, now: u64) -> Result<(), LogtoError> {
    let kind = TokenKind::IdToken;
    let auth_time = claims
        .auth_time
        .ok_or(LogtoError::invalid_token(kind, TokenError::MissingClaim("auth_time")))?;
    if auth_time.saturating_add(max_age).saturating_add(jwt::CLOCK_LEEWAY_SECS) < now {
        return Err(LogtoError::invalid_token(kind, TokenError::AuthenticationTooOld));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Nonce, PkceVerifier, State};

    fn pending(state: &str) -> PendingSignIn {
        PendingSignIn {
            state: State::new(state),
            pkce_verifier: PkceVerifier::new("v"),
            nonce: Nonce::new("n"),
            started_at: 0,
            return_to: None,
            way_in: None,
            max_age: None,
        }
    }

    fn callback(state: Option<&str>) -> CallbackParams {
        CallbackParams {
            state: state.map(str::to_owned),
            ..CallbackParams::default()
        }
    }

    #[test]
    fn a_callback_takes_its_own_sign_in_once() {
        let mut all = PendingSignIns::default();
        all.push(pending("a"));
        all.push(pending("b"));
        assert_eq!(all.take(&callback(Some("b"))).unwrap().state.secret(), "b");
        assert_eq!(all.take(&callback(Some("b"))).unwrap_err(), CallbackError::UnknownState);
        assert_eq!(all.take(&callback(None)).unwrap_err(), CallbackError::MissingState);
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn only_the_newest_three_sign_ins_are_kept() {
        let mut all = PendingSignIns::default();
        for state in ["1", "2", "3", "4"] {
            all.push(pending(state));
        }
        assert_eq!(all.len(), PendingSignIns::MAX);
        assert_eq!(all.take(&callback(Some("1"))).unwrap_err(), CallbackError::UnknownState);
        assert!(all.take(&callback(Some("4"))).is_ok());
    }

    #[test]
    fn reads_the_known_parameters() {
        let p = CallbackParams::parse("code=abc&state=xyz&iss=https%3A%2F%2Ft%2Foidc&extra=1").unwrap();
        assert_eq!(p.code.as_deref(), Some("abc"));
        assert_eq!(p.state.as_deref(), Some("xyz"));
        assert_eq!(p.iss.as_deref(), Some("https://t/oidc"));
    }

    #[test]
    fn refuses_repeats_and_huge_queries() {
        assert_eq!(
            CallbackParams::parse("state=a&state=b"),
            Err(CallbackError::RepeatedParameter)
        );
        let huge = format!("code={}", "a".repeat(MAX_CALLBACK_QUERY));
        assert_eq!(CallbackParams::parse(&huge), Err(CallbackError::TooLarge));
    }

    #[test]
    fn malformed_encoding_is_read_without_failing() {
        // Invalid percent-escapes and bytes that are not UTF-8 are kept or replaced, never a panic.
        let p = CallbackParams::parse("code=%ZZ%&state=%FF%FE&iss=%").unwrap();
        assert_eq!(p.code.as_deref(), Some("%ZZ%"));
        assert_eq!(p.state.as_deref(), Some("\u{FFFD}\u{FFFD}"));
        assert!(CallbackParams::parse("&&==&=&code").is_ok());
    }

    use proptest::prelude::*;

    fn encode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_query_is_parsed_or_refused_without_panic(query in any::<String>()) {
            let _ = CallbackParams::parse(&query);
        }

        #[test]
        fn query_shaped_input_is_parsed_or_refused_without_panic(
            query in "((code|state|iss|error|error_description|x)(=[a-zA-Z0-9%+&=._~-]{0,12})?&?){0,8}"
        ) {
            let _ = CallbackParams::parse(&query);
        }

        #[test]
        fn what_logto_sends_is_read_back_exactly(
            code in any::<String>(),
            state in any::<String>(),
            iss in proptest::option::of(any::<String>()),
        ) {
            let mut query = format!("code={}&state={}", encode(&code), encode(&state));
            if let Some(iss) = &iss {
                query.push_str(&format!("&iss={}", encode(iss)));
            }
            prop_assume!(query.len() <= MAX_CALLBACK_QUERY);
            let params = CallbackParams::parse(&query).unwrap();
            prop_assert_eq!(params.code, Some(code));
            prop_assert_eq!(params.state, Some(state));
            prop_assert_eq!(params.iss, iss);
        }

        #[test]
        fn a_repeated_parameter_is_always_refused(name in "(code|state|iss|error|error_description)", a in ".{0,8}", b in ".{0,8}") {
            let query = format!("{name}={}&{name}={}", encode(&a), encode(&b));
            prop_assert_eq!(CallbackParams::parse(&query), Err(CallbackError::RepeatedParameter));
        }
    }
}
