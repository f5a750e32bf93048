//! Extractors: the signed-in user, required ([`SignedInUser`]) or optional ([`OptionalUser`]).

use std::future::{Ready, ready};
use std::ops::{Deref, DerefMut};

use actix_web::{FromRequest, HttpRequest, dev::Payload};

use crate::auth::LogtoAuth;
use crate::error::AuthErrorResponse;
use crate::session::ActixSession;

/// A signed-in user. Extracting it on a signed-out request answers with a redirect to the
/// sign-in route, carrying this page as `return_to`, so handlers never check by hand. A session
/// that Logto ended (back-channel logout) or that is past its maximum age counts as signed out,
/// and is ended here. Derefs to the web core's [`logto_web::SignedInUser`]: `.user`,
/// `.csrf_token`, `.access_token(..)`, `.fresh_userinfo()`, `.revalidate_user()`.
pub struct SignedInUser(logto_web::SignedInUser<ActixSession>);

/// The signed-in user if there is one, else `None`. It refuses a request only when the session
/// store could not be read (503): a Redis outage is never shown as "signed out".
pub struct OptionalUser(pub Option<SignedInUser>);

impl Deref for SignedInUser {
    type Target = logto_web::SignedInUser<ActixSession>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for SignedInUser {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl SignedInUser {
    /// The signed-in user of a request, or `None`.
    fn of(req: &HttpRequest) -> Result<Option<Self>, AuthErrorResponse> {
        let auth = LogtoAuth::of(req)?;
        let here = req.uri().path_and_query().map(|pq| pq.as_str());
        Ok(auth
            .web()
            .signed_in_user(ActixSession::of(req), here)?
            .map(SignedInUser))
    }
}

impl FromRequest for SignedInUser {
    type Error = AuthErrorResponse;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match SignedInUser::of(req) {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(LogtoAuth::of(req)
                .map(|auth| {
                    let here = logto_web::util::safe_return_to(req.uri().path_and_query().map(|pq| pq.as_str()));
                    auth.web().sign_in_required(&here).into()
                })
                .unwrap_or_else(|e| e)),
            Err(e) => Err(e),
        })
    }
}

impl FromRequest for OptionalUser {
    type Error = AuthErrorResponse;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(SignedInUser::of(req).map(OptionalUser))
    }
}
