//! ID token verification: signature, algorithm allow-list, and every claim check that
//! OpenID Connect Core 3.1.3.7 asks of a confidential client, `nonce` included.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use super::error::LogtoError;

/// Allowed clock difference between Logto and this app.
pub const CLOCK_LEEWAY_SECS: u64 = 60;

/// Asymmetric algorithms that may be accepted when discovery announces them.
/// HMAC (which would make the client secret a signing key) and `none` are never accepted.
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

/// The algorithms to accept: Logto's ES384 and RS256, plus what discovery announces,
/// restricted to asymmetric ones.
pub fn allowed_algorithms(announced: &[String]) -> Vec<Algorithm> {
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
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    fn as_slice(&self) -> &[String] {
        match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        }
    }
}

/// The claims of a verified ID token that this app uses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user's stable id at Logto.
    pub sub: String,
    /// Audience: this app's id.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// The nonce sent with the authorization request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(default)]
    pub azp: Option<String>,
    /// Logto session id, when the app requires one (back-channel logout).
    #[serde(default)]
    pub sid: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub picture: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Logto username (not the Hugging Face one).
    #[serde(default)]
    pub username: Option<String>,
}

/// What a valid ID token must say.
pub struct Expected<'a> {
    /// Logto's issuer.
    pub issuer: &'a str,
    /// This app's id.
    pub client_id: &'a str,
    /// The nonce of the sign-in attempt; `None` for ID tokens from a refresh grant, which
    /// OpenID Connect Core 12.2 lets carry the original nonce or none (it is not kept).
    pub nonce: Option<&'a str>,
    /// Now, seconds since the epoch.
    pub now: u64,
}

/// The parts of the header that select the key.
pub struct TokenHeader {
    /// Signing algorithm, already checked against the allow-list.
    pub alg: Algorithm,
    /// Key id, if any.
    pub kid: Option<String>,
}

/// Reads the header and checks the algorithm before any key is looked up.
pub fn read_header(token: &str, algorithms: &[Algorithm]) -> Result<TokenHeader, LogtoError> {
    let header = decode_header(token).map_err(|_| invalid("malformed header or unsupported algorithm"))?;
    if !algorithms.contains(&header.alg) {
        return Err(invalid(&format!("algorithm {:?} is not allowed", header.alg)));
    }
    Ok(TokenHeader {
        alg: header.alg,
        kid: header.kid,
    })
}

/// Verifies the signature with `key` and checks every claim.
pub fn verify(
    token: &str,
    header: &TokenHeader,
    key: &jsonwebtoken::jwk::Jwk,
    expected: &Expected<'_>,
) -> Result<IdTokenClaims, LogtoError> {
    if let Some(key_alg) = key.common.key_algorithm
        && format!("{key_alg:?}") != format!("{:?}", header.alg)
    {
        return Err(invalid("the key is not for this algorithm"));
    }
    let decoding_key = DecodingKey::from_jwk(key).map_err(|_| invalid("unusable signing key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = CLOCK_LEEWAY_SECS;
    let claims = decode::<IdTokenClaims>(token, &decoding_key, &validation)
        .map_err(|e| invalid(&describe(&e)))?
        .claims;

    if claims.iat > expected.now + CLOCK_LEEWAY_SECS {
        return Err(invalid("issued in the future"));
    }
    if let Some(nonce) = expected.nonce
        && claims.nonce.as_deref() != Some(nonce)
    {
        return Err(invalid("nonce missing or not the one sent"));
    }
    let several_audiences = claims.aud.as_slice().len() > 1;
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(invalid("azp is another client")),
        None if several_audiences => return Err(invalid("several audiences and no azp")),
        _ => {}
    }
    Ok(claims)
}

fn invalid(reason: &str) -> LogtoError {
    LogtoError::InvalidIdToken(reason.to_owned())
}

fn describe(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => "bad signature".into(),
        ErrorKind::ExpiredSignature => "expired".into(),
        ErrorKind::InvalidIssuer => "wrong issuer".into(),
        ErrorKind::InvalidAudience => "wrong audience".into(),
        ErrorKind::ImmatureSignature => "not valid yet".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim `{claim}`"),
        ErrorKind::InvalidAlgorithm => "algorithm does not fit the key".into(),
        other => format!("{other:?}"),
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
        assert!(read_header("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", &[Algorithm::ES384, Algorithm::RS256]).is_err());
    }
}
