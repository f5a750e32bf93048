//! Extractors: the signed-in user, required ([`SignedInUser`]) or optional ([`OptionalUser`],
//! or `Option<SignedInUser>`). They need the [session layer](crate::LogtoAxum::session_layer).

use std::ops::{Deref, DerefMut};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use logto_web::AuthError;
use logto_web::util::safe_return_to;

use crate::error::AuthRejection;
use crate::logto::LogtoAxum;
use crate::session::AxumSession;

/// A signed-in user. Extracting it on a signed-out request answers with a redirect to the
/// sign-in route, carrying this page as `return_to`. A session that Logto ended or that is past
/// its maximum age counts as signed out, and is ended here; a session the store could not read
/// is a 503. Derefs to the web core's [`logto_web::SignedInUser`]: `.user`, `.csrf_token`,
/// `.access_token(..)`, `.fresh_userinfo()`, `.revalidate_user()`.
pub struct SignedInUser(logto_web::SignedInUser<AxumSession>);

/// The signed-in user if there is one, else `None`. It refuses a request only when the session
/// store could not be read (503): a Redis outage is never shown as "signed out".
pub struct OptionalUser(pub Option<SignedInUser>);

impl Deref for SignedInUser {
    type Target = logto_web::SignedInUser<AxumSession>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for SignedInUser {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The request's sign-in and session, from the extensions the session layer put there.
fn of(parts: &Parts) -> Result<(LogtoAxum, AxumSession), AuthRejection> {
    let logto = parts.extensions.get::<LogtoAxum>().cloned();
    let session = parts.extensions.get::<AxumSession>().cloned();
    logto.zip(session).ok_or(AuthRejection(AuthError::NotConfigured))
}

fn signed_in(parts: &Parts) -> Result<Option<SignedInUser>, AuthRejection> {
    let (logto, session) = of(parts)?;
    let here = parts.uri.path_and_query().map(|pq| pq.as_str());
    Ok(logto.web().signed_in_user(session, here)?.map(SignedInUser))
}

impl<S: Send + Sync> FromRequestParts<S> for SignedInUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match signed_in(parts)? {
            Some(user) => Ok(user),
            None => {
                let (logto, _) = of(parts)?;
                let here = safe_return_to(parts.uri.path_and_query().map(|pq| pq.as_str()));
                Err(logto.web().sign_in_required(&here).into())
            }
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedInUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        signed_in(parts)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OptionalUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        signed_in(parts).map(OptionalUser)
    }
}
