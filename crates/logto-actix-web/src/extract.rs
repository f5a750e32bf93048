//! Extractors: the signed-in user, required ([`SignedInUser`]) or optional ([`OptionalUser`]).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::auth::LogtoAuth;
use crate::error::AuthError;
use crate::return_to::safe_return_to;
use crate::session::LogtoSession;
use crate::user::SessionUser;

/// A signed-in user. Extracting it on a signed-out request answers with a redirect to the
/// sign-in route, carrying this page as `return_to`, so handlers never check by hand. A session
/// that Logto ended (back-channel logout) counts as signed out, and is ended here.
pub struct SignedInUser {
    /// Who is signed in.
    pub user: SessionUser,
    /// The session's CSRF token, for the sign-out form.
    pub csrf_token: String,
    /// This page's path and query, to come back to after signing in again.
    pub here: String,
    pub(crate) session: LogtoSession,
    pub(crate) auth: LogtoAuth,
}

/// The signed-in user if there is one; never refuses a request.
pub struct OptionalUser(pub Option<SignedInUser>);

impl SignedInUser {
    /// The signed-in user of a request, or `None` (after ending a session Logto ended).
    fn of(req: &HttpRequest) -> Result<Option<Self>, AuthError> {
        let auth = LogtoAuth::of(req)?;
        let session = LogtoSession::of_available(req)?;
        let Some(user) = auth.current_user(&session) else {
            return Ok(None);
        };
        Ok(Some(SignedInUser {
            user,
            csrf_token: session.csrf_token().unwrap_or_default(),
            here: this_page(req),
            session,
            auth,
        }))
    }

    /// The Logto client, for calls of the app's own.
    pub fn client(&self) -> &logto_client::LogtoClient {
        self.auth.client()
    }

    /// The error that sends the browser to sign in and back to this page.
    pub(crate) fn sign_in_required(&self) -> AuthError {
        self.auth.sign_in_required(&self.here)
    }
}

fn this_page(req: &HttpRequest) -> String {
    safe_return_to(req.uri().path_and_query().map(|pq| pq.as_str()))
}

impl FromRequest for SignedInUser {
    type Error = AuthError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match SignedInUser::of(req) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(LogtoAuth::of(req)
                .map(|auth| auth.sign_in_required(&this_page(req)))
                .unwrap_or_else(|e| e)),
            Err(e) => Err(e),
        })
    }
}

impl FromRequest for OptionalUser {
    type Error = AuthError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(SignedInUser::of(req).map(OptionalUser))
    }
}
