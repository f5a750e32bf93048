//! The flows of sign-in: start it, finish the callback, sign out, receive a back-channel logout.
//! Each reads plain request data (a query string, a form body), keeps its result in the session,
//! and returns a plain decision — a [`Redirect`] (answered `303 See Other`) or an
//! [`AuthError`] (with its status) — for the adapter to turn into its framework's response.

use logto_client::{CallbackError, CallbackParams, LogtoError, SignInError, SignInOptions, TokenError, TokenKind};

use crate::error::AuthError;
use crate::return_to::{first_param, safe_return_to};
use crate::session::{LogtoSession, SessionEntries};
use crate::user::SessionUser;
use crate::web::LogtoWeb;

/// Where to send the browser: answered `303 See Other` with this `Location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The `Location`: a same-site path or Logto's URL.
    pub location: String,
}

impl Redirect {
    /// A redirect to `location` (a same-site path or an absolute URL).
    pub fn to(location: impl Into<String>) -> Self {
        Redirect {
            location: location.into(),
        }
    }
}

impl LogtoWeb {
    /// Starts a sign-in with `options` and sends the browser to Logto; `return_to` from the query
    /// (a same-site path, else `/`) is where the callback will send it afterwards. `way_in` is the
    /// route's path, for the counters; `ui_locales` the languages of Logto's pages, if the app
    /// knows them.
    pub async fn start_sign_in<S: SessionEntries>(
        &self,
        entries: S,
        query: &str,
        mut options: SignInOptions,
        way_in: &str,
        ui_locales: Option<String>,
    ) -> Result<Redirect, AuthError> {
        let return_to = safe_return_to(first_param(query.as_bytes(), "return_to").as_deref());
        if ui_locales.is_some() {
            options.ui_locales = ui_locales;
        }
        let mut request = self.client().sign_in(&options).await?;
        request.pending.set_return_to(return_to);
        request.pending.set_way_in(way_in);
        let session = self.session(entries)?;
        let mut pending = session.pending();
        pending.push(request.pending);
        session.set_pending(&pending)?;
        crate::telemetry::sign_in_started(way_in);
        Ok(Redirect::to(request.url.as_str()))
    }

    /// Finishes a sign-in from the callback's query, then sends the browser where the sign-in
    /// said. A person who cancelled at Logto goes to the configured page instead, still signed
    /// out; a callback of a sign-in another tab already finished, while signed in, goes home.
    pub async fn finish_sign_in<S: SessionEntries>(&self, entries: S, query: &str) -> Result<Redirect, AuthError> {
        let params = CallbackParams::parse(query)?;
        let session = self.session(entries)?;
        // Taken out before anything else: whatever happens next, this callback cannot be replayed.
        let mut pending = session.pending();
        let attempt = match pending.take(&params) {
            Ok(attempt) => attempt,
            // Another tab's sign-in finished first and spent this one: the person is signed in,
            // and this callback redeems nothing, so it goes home rather than to an error page.
            Err(CallbackError::UnknownState) if self.current_user(&session).is_some() => {
                log::info!("callback of a sign-in already spent while signed in: sent home");
                return Ok(Redirect::to("/"));
            }
            Err(e) => return Err(e.into()),
        };
        session.set_pending(&pending)?;
        let client = self.client();
        let signed_in = match client.finish_sign_in(&params, &attempt).await {
            Ok(signed_in) => signed_in,
            // Cancelling is a choice, not a failure.
            Err(SignInError::Callback(e)) if e.is_cancelled() => {
                log::info!("sign-in cancelled at Logto");
                return Ok(Redirect::to(self.0.cancelled_redirect.as_str()));
            }
            Err(e) => return Err(e.into()),
        };
        let user = SessionUser::from_sign_in(&signed_in, client.now());
        session.sign_in(&user, &signed_in)?;
        log::info!("signed in: user {}", crate::log_safe(&user.sub));
        // Only a configured route is used as a label: the way in comes back from the session.
        let way_in = attempt
            .way_in()
            .filter(|way| self.is_sign_in_route(way))
            .unwrap_or("unknown");
        crate::telemetry::sign_in_finished(way_in);
        Ok(Redirect::to(attempt.return_to().unwrap_or("/")))
    }

    /// Ends the session (the form must carry the session's CSRF token), revokes the refresh
    /// token, and sends the browser to Logto's end-session endpoint, which returns it to the post
    /// sign-out URI. `form` is the request's `application/x-www-form-urlencoded` body.
    pub async fn sign_out<S: SessionEntries>(&self, entries: S, form: &[u8]) -> Result<Redirect, AuthError> {
        let session = self.session(entries)?;
        if self.current_user(&session).is_none() {
            return Ok(Redirect::to("/"));
        }
        if !has_csrf_token(&session, form) {
            // Most often a tab older than this session (signed out and in again elsewhere).
            // Asking again with a fresh form changes nothing, so a cross-site form still signs
            // no one out.
            if self.0.sign_out_page {
                log::info!("sign-out form without this session's CSRF token: asked again");
                return Ok(Redirect::to(self.0.sign_out_path.as_str()));
            }
            return Err(AuthError::Csrf);
        }
        let refresh_token = session.refresh_token();
        let id_token = session.id_token();
        session.purge();
        // The local session is gone whatever Logto says; its failures are logged, not shown.
        let client = self.client();
        let mut reached = true;
        if let Some(refresh_token) = refresh_token
            && let Err(e) = client.revoke(&refresh_token).await
        {
            log::warn!(
                "sign-out: the refresh token was not revoked: {}",
                crate::error::chain(&e)
            );
            reached = !unreachable(&e);
        }
        // Sending the browser to an end-session page that does not answer would end its visit on
        // the browser's own error page: home, with the app's word that Logto's session may be open.
        let unreachable_target = self.0.unreachable_sign_out_redirect.as_str();
        let target = if !reached {
            unreachable_target.to_owned()
        } else {
            // With the ID token as `id_token_hint`, Logto ends this user's session without asking;
            // a session that had to drop it to fit its cookie, or whose ID token cookie did not
            // come (sent to this path only), goes without. The URL carries the token: it goes to
            // the browser only, never to a log.
            let url = match &id_token {
                Some(id_token) => client.end_session_url_for(id_token).await,
                None => client.end_session_url().await,
            };
            match url {
                Ok(Some(url)) => url.to_string(),
                Ok(None) => "/".to_owned(),
                Err(e) => {
                    log::warn!("sign-out: cannot end the Logto session: {}", crate::error::chain(&e));
                    unreachable_target.to_owned()
                }
            }
        };
        Ok(Redirect::to(target))
    }

    /// Makes one of the signed-in user's organizations the active one and sends the browser
    /// back. `form` is the request's `application/x-www-form-urlencoded` body: `csrf_token` (the
    /// session's, as for sign-out), `organization_id`, and optional `return_to` (a same-site
    /// path, else `/`). An organization the user is not a member of is
    /// [`AuthError::NotAMember`] (400) and changes nothing; a form without the session's CSRF
    /// token is [`AuthError::Csrf`] (403).
    pub async fn choose_organization<S: SessionEntries>(&self, entries: S, form: &[u8]) -> Result<Redirect, AuthError> {
        let return_to = safe_return_to(first_param(form, "return_to").as_deref());
        let session = self.session(entries)?;
        let Some(mut user) = self.current_user(&session) else {
            return Err(self.sign_in_required(&return_to));
        };
        if !has_csrf_token(&session, form) {
            return Err(AuthError::Csrf);
        }
        let chosen = first_param(form, "organization_id").unwrap_or_default();
        if user.organization(&chosen).is_none() {
            return Err(AuthError::NotAMember);
        }
        user.active_organization = Some(chosen);
        session.set_user(&user)?;
        Ok(Redirect::to(return_to))
    }

    /// Logto's back-channel logout: a signed logout token (form field `logout_token`) naming who
    /// signed out. `Ok` is answered 200.
    pub async fn backchannel_logout(&self, form: &[u8]) -> Result<(), AuthError> {
        let token = first_param(form, "logout_token").ok_or(AuthError::LogoutToken(LogtoError::InvalidToken {
            kind: TokenKind::LogoutToken,
            reason: TokenError::Malformed,
        }))?;
        let logout = self
            .client()
            .verify_logout_token(&token)
            .await
            .map_err(AuthError::LogoutToken)?;
        crate::telemetry::backchannel_logout();
        if self.record_logout(&logout).await? {
            log::info!(
                "back-channel logout for user {}",
                crate::log_safe(logout.sub.as_deref().unwrap_or("(by session id)"))
            );
        }
        Ok(())
    }
}

/// Whether `form` carries the signed-in session's CSRF token.
fn has_csrf_token<S: SessionEntries>(session: &LogtoSession<S>, form: &[u8]) -> bool {
    matches!(
        (session.csrf_token(), first_param(form, "csrf_token")),
        (Some(expected), Some(provided)) if logto_client::util::constant_time_eq(&expected, &provided)
    )
}

/// Whether Logto did not answer (or answered with a server error), as opposed to refusing.
fn unreachable(error: &LogtoError) -> bool {
    match error {
        LogtoError::Unreachable { .. } => true,
        LogtoError::HttpStatus { status, .. } => *status >= 500,
        _ => false,
    }
}
