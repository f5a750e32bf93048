//! Extractors for protected pages.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use super::error::AppError;
use super::return_to::safe_return_to;
use super::session::{AppSession, SessionUser};

/// A signed-in user. Extracting it on a signed-out request answers with a redirect to
/// `/sign-in?return_to=<this page>`, so handlers never check by hand.
pub struct SignedInUser {
    /// Who is signed in.
    pub user: SessionUser,
    /// The session's CSRF token, for the sign-out form.
    pub csrf_token: Option<String>,
    /// This page, to come back to after signing in again.
    pub return_to: String,
}

impl FromRequest for SignedInUser {
    type Error = AppError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let Ok(session) = AppSession::from_request(req, payload).into_inner();
        let here = safe_return_to(req.uri().path_and_query().map(|pq| pq.as_str()));
        ready(match session.user() {
            Some(user) => Ok(SignedInUser {
                user,
                csrf_token: session.csrf_token(),
                return_to: here,
            }),
            None => Err(AppError::SignInRequired { return_to: here }),
        })
    }
}
