//! What every token signed by Logto shares: the algorithm allow-list, the header, the `aud`
//! claim's two shapes, and the mapping of jsonwebtoken's errors to [`TokenError`].

use jsonwebtoken::{Algorithm, decode_header};
use serde::{Deserialize, Serialize};

use crate::error::TokenError;

/// Allowed clock difference between Logto and this app.
pub(crate) const CLOCK_LEEWAY_SECS: u64 = 60;

/// Asymmetric algorithms that may be accepted when discovery announces them. HMAC (which would
/// make the client secret a signing key) and `none` are never accepted.
const ASYMMETRIC: [Algorithm; 8] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The algorithms to accept: Logto's ES384 and RS256, plus what discovery announces, restricted
/// to asymmetric ones.
pub(crate) fn allowed_algorithms(announced: &[String]) -> Vec<Algorithm> {
    let mut allowed = vec![Algorithm::ES384, Algorithm::RS256];
    for alg in ASYMMETRIC {
        let name = format!("{alg:?}");
        if announced.contains(&name) && !allowed.contains(&alg) {
            allowed.push(alg);
        }
    }
    allowed
}

/// `aud` is a string or an array of strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum AudClaim {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl AudClaim {
    pub(crate) fn as_slice(&self) -> &[String] {
        match self {
            AudClaim::One(one) => std::slice::from_ref(one),
            AudClaim::Many(many) => many,
        }
    }
}

/// The parts of the header that select and check the key.
pub(crate) struct TokenHeader {
    /// Signing algorithm, already checked against the allow-list.
    pub alg: Algorithm,
    /// Key id, if any.
    pub kid: Option<String>,
    /// Media type, if any (checked for logout and access tokens).
    pub typ: Option<String>,
}

/// Reads the header and checks the algorithm before any key is looked up.
pub(crate) fn read_header(token: &str, algorithms: &[Algorithm]) -> Result<TokenHeader, TokenError> {
    let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
    if !algorithms.contains(&header.alg) {
        return Err(TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
    }
    Ok(TokenHeader {
        alg: header.alg,
        kid: header.kid,
        typ: header.typ,
    })
}

/// A decoding key for `header` from a JWKS key, refusing a key published for another algorithm.
pub(crate) fn decoding_key(
    key: &jsonwebtoken::jwk::Jwk,
    header: &TokenHeader,
) -> Result<jsonwebtoken::DecodingKey, TokenError> {
    if let Some(key_alg) = key.common.key_algorithm
        && format!("{key_alg:?}") != format!("{:?}", header.alg)
    {
        return Err(TokenError::KeyAlgorithmMismatch);
    }
    jsonwebtoken::DecodingKey::from_jwk(key).map_err(|_| TokenError::UnusableKey)
}

/// What jsonwebtoken's refusal means.
pub(crate) fn token_error(error: &jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(match claim.as_str() {
            "exp" => "exp",
            "iat" => "iat",
            "iss" => "iss",
            "aud" => "aud",
            "sub" => "sub",
            "nbf" => "nbf",
            _ => "a required claim",
        }),
        ErrorKind::InvalidAlgorithm => TokenError::KeyAlgorithmMismatch,
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_allows_hmac_even_when_announced() {
        let allowed = allowed_algorithms(&["HS256".into(), "none".into(), "PS256".into()]);
        assert_eq!(allowed, vec![Algorithm::ES384, Algorithm::RS256, Algorithm::PS256]);
    }

    #[test]
    fn refuses_alg_none_and_hmac_headers() {
        // {"alg":"none"} . {} .
        assert!(read_header("eyJhbGciOiJub25lIn0.e30.", &[Algorithm::ES384]).is_err());
        // {"alg":"HS256"} . {} . sig
        assert_eq!(
            read_header("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", &[Algorithm::ES384, Algorithm::RS256]).err(),
            Some(TokenError::AlgorithmNotAllowed("HS256".into()))
        );
    }
}
