//! APIs protected by Logto access tokens on actix: put a [`ProtectedApi`] on the app or the API's
//! scope (`.app_data(api.clone())`), and take [`BearerToken`] in its handlers.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use logto_client::VerifiedAccessToken;
use logto_web::{ApiError, ApiRefusal, NoScopes, ProtectedApi, RequireScopes, ScopeSet};

use crate::error::ApiErrorResponse;

/// A verified access token for the route's [`ProtectedApi`], carrying every scope `S` and the
/// route's [`RequireScopes`] (put on the route with `.app_data(..)`) ask for. Extracting it
/// refuses the request otherwise, as RFC 6750 says: 401 without a token or with a bad one, 403
/// when a scope is missing.
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

impl<S: ScopeSet> FromRequest for BearerToken<S> {
    type Error = ApiErrorResponse;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiErrorResponse>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let route = req.app_data::<RequireScopes>().cloned().unwrap_or_default();
        let Some(api) = req.app_data::<ProtectedApi>().cloned() else {
            let scopes = S::SCOPES.iter().map(|s| (*s).to_owned()).collect();
            return Box::pin(std::future::ready(Err(ApiError::new(
                ApiRefusal::NotConfigured,
                "api",
                scopes,
            )
            .into())));
        };
        let headers: Vec<Vec<u8>> = req
            .headers()
            .get_all(header::AUTHORIZATION)
            .map(|value| value.as_bytes().to_vec())
            .collect();
        Box::pin(async move {
            let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
            let token = api.verify::<S>(&headers, &route).await?;
            Ok(BearerToken {
                token,
                scopes: PhantomData,
            })
        })
    }
}
