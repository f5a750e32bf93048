//! Counters and timings for the operator, through the `metrics` facade: nothing is recorded
//! unless the app installs a recorder (e.g. a Prometheus exporter). Every label value comes from
//! a fixed set, never from a response or a request.

use std::time::Instant;

use crate::error::{Endpoint, LogtoError};

/// Calls to Logto, by endpoint and outcome (`ok`, `rejected`, `error`).
pub const LOGTO_REQUESTS: &str = "logto_client_requests_total";
/// Latency of calls to Logto, by endpoint, in seconds.
pub const LOGTO_REQUEST_DURATION: &str = "logto_client_request_duration_seconds";
/// Refresh grants sent, by outcome (`ok`, `invalid_grant`, `error`).
pub const REFRESH_GRANTS: &str = "logto_client_refresh_grants_total";

/// Access tokens verified, by where the signature's verdict came from: `checked` (the signature
/// was checked now, whatever the verdict) or `cache` (it checked out before, answered from the
/// verified-token cache).
pub const ACCESS_TOKEN_SIGNATURES: &str = "logto_client_access_token_signatures_total";

/// Where an access token's signature verdict came from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignatureSource {
    /// Verified now, with Logto's key.
    Checked,
    /// Verified before, answered from the cache.
    Cache,
}

/// Records one access token whose signature was verified now or taken from the cache.
pub(crate) fn record_access_token_signature(source: SignatureSource) {
    let source = match source {
        SignatureSource::Checked => "checked",
        SignatureSource::Cache => "cache",
    };
    metrics::counter!(ACCESS_TOKEN_SIGNATURES, "source" => source).increment(1);
}

/// Records one call to Logto that started at `started`.
pub(crate) fn record_call<T>(endpoint: Endpoint, started: Instant, result: &Result<T, LogtoError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(LogtoError::Rejected { .. }) => "rejected",
        Err(_) => "error",
    };
    metrics::histogram!(LOGTO_REQUEST_DURATION, "endpoint" => endpoint.name()).record(started.elapsed().as_secs_f64());
    metrics::counter!(LOGTO_REQUESTS, "endpoint" => endpoint.name(), "outcome" => outcome).increment(1);
}

/// Records the outcome of one refresh grant.
pub(crate) fn record_refresh<T>(result: &Result<T, LogtoError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(LogtoError::Rejected { code, .. }) if code == "invalid_grant" => "invalid_grant",
        Err(_) => "error",
    };
    metrics::counter!(REFRESH_GRANTS, "outcome" => outcome).increment(1);
}
