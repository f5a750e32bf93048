//! APIs protected by Logto access tokens on axum: add the [`ProtectedApi`] to the API's routes
//! (`.layer(Extension(api))`), optionally a [`RequireScopes`] (`.route_layer(Extension(..))`),
//! and take [`BearerToken`] in the handlers. No session layer is needed.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use logto_client::VerifiedAccessToken;
use logto_web::{ApiError, ApiRefusal, NoScopes, ProtectedApi, RequireScopes, ScopeSet};

use crate::error::ApiRejection;

/// A verified access token for the route's [`ProtectedApi`], carrying every scope `S` and the
/// route's [`RequireScopes`] ask for. Extracting it refuses the request otherwise, as RFC 6750
/// says: 401 without a token or with a bad one, 403 when a scope is missing.
pub struct BearerToken<S: ScopeSet = NoScopes> {
    /// What the token says.
    pub token: VerifiedAccessToken,
    scopes: PhantomData<S>,
}

impl<S: ScopeSet> std::ops::Deref for BearerToken<S> {
    type Target = VerifiedAccessToken;

    fn deref(&self) -> &VerifiedAccessToken {
        &self.token
    }
}

impl<T: Send + Sync, S: ScopeSet> FromRequestParts<T> for BearerToken<S> {
    type Rejection = ApiRejection;

    async fn from_request_parts(parts: &mut Parts, _: &T) -> Result<Self, Self::Rejection> {
        let route = parts.extensions.get::<RequireScopes>().cloned().unwrap_or_default();
        let Some(api) = parts.extensions.get::<ProtectedApi>().cloned() else {
            let scopes = S::SCOPES.iter().map(|s| (*s).to_owned()).collect();
            return Err(ApiError::new(ApiRefusal::NotConfigured, "api", scopes).into());
        };
        let headers: Vec<&[u8]> = parts
            .headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .map(|value| value.as_bytes())
            .collect();
        let token = api.verify::<S>(&headers, &route).await?;
        Ok(BearerToken {
            token,
            scopes: PhantomData,
        })
    }
}
