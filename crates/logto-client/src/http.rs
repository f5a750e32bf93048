//! Every body read from Logto is bounded: a huge (or endless) answer is refused once it passes
//! [`MAX_BODY_BYTES`], before it fills memory. The token calls go through oauth2, which is given
//! [`BoundedHttp`] instead of the plain reqwest client for that reason; the other GETs go through
//! [`LogtoClient::get_json`], which maps every failure to a [`LogtoError`] free of secrets.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use oauth2::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

use crate::client::LogtoClient;
use crate::error::{Endpoint, LogtoError};
use crate::secret::AccessToken;
use crate::telemetry;

/// Largest body accepted from Logto; its genuine answers are a few kilobytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// The transport failed while reading.
    Transport(reqwest::Error),
    /// The body is larger than [`MAX_BODY_BYTES`].
    TooLarge,
}

/// What a refused oversized body is called in errors.
pub(crate) const TOO_LARGE: &str = "the answer is larger than 256 KiB";

/// Reads a response's body, refusing it as soon as it grows past [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The client's reqwest client, as oauth2's HTTP client, with bounded bodies.
pub(crate) struct BoundedHttp<'a>(pub(crate) &'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for BoundedHttp<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = oauth2::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = match read_body(response).await {
                Ok(body) => body,
                Err(BodyError::Transport(e)) => return Err(Box::new(e).into()),
                Err(BodyError::TooLarge) => return Err(HttpClientError::Other(TOO_LARGE.to_owned())),
            };
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

impl LogtoClient {
    /// GETs a JSON document, mapping every failure to a [`LogtoError`] free of secrets.
    pub(crate) async fn get_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, LogtoError> {
        let started = Instant::now();
        let result = self.send_get_json(endpoint, url, bearer).await;
        telemetry::record_call(endpoint, started, &result);
        result
    }

    async fn send_get_json(
        &self,
        endpoint: Endpoint,
        url: &str,
        bearer: Option<&AccessToken>,
    ) -> Result<Vec<u8>, LogtoError> {
        let mut request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token.secret());
        }
        let response = request.send().await.map_err(|e| unreachable(endpoint, url, e))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED && bearer.is_some() {
            return Err(LogtoError::Rejected {
                endpoint,
                code: "invalid_token".into(),
                description: None,
            });
        }
        if !status.is_success() {
            return Err(LogtoError::HttpStatus {
                endpoint,
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        match read_body(response).await {
            Ok(body) => Ok(body),
            Err(BodyError::Transport(e)) => Err(unreachable(endpoint, url, e)),
            Err(BodyError::TooLarge) => Err(LogtoError::InvalidResponse {
                endpoint,
                detail: format!("{} (from {url})", TOO_LARGE),
            }),
        }
    }
}

pub(crate) fn unreachable(endpoint: Endpoint, url: &str, error: reqwest::Error) -> LogtoError {
    LogtoError::Unreachable {
        endpoint,
        url: url.to_owned(),
        source: Arc::new(error.without_url()),
    }
}
