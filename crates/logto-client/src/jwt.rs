//! What every token signed by Logto shares: the algorithm allow-list, the header, the key that
//! must fit the algorithm, the signature (checked with aws-lc, which knows every algorithm Logto
//! announces, ES512 included; or with ring, feature `ring` alone, which has no P-521 and so
//! refuses ES512), the size bound, the `iss` and `aud` claims, and the required ones.

use std::sync::OnceLock;

// aws-lc-rs and ring share this API; aws-lc-rs wins when both features are on.
#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs::signature::{self, RsaParameters, RsaPublicKeyComponents, VerificationAlgorithm};
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!("logto-client needs a signature back-end: turn on feature `aws-lc-rs` (the default) or `ring`");
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::TokenError;

/// Allowed clock difference between Logto and this app.
pub(crate) const CLOCK_LEEWAY_SECS: u64 = 60;

/// Largest claims part accepted in a token, decoded (a genuine Logto token's is under 2 KiB):
/// the claims, custom ones included, are kept in sessions, so they are bounded before anything
/// else is done with them.
pub const MAX_CLAIMS_BYTES: usize = 16 * 1024;

/// An asymmetric signing algorithm a token from Logto may use. HMAC (which would make the client
/// secret a signing key) and `none` have no value here: they are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
}

/// Every algorithm that may be accepted when discovery announces it.
const ASYMMETRIC: [Alg; 9] = [
    Alg::ES256,
    Alg::ES384,
    Alg::ES512,
    Alg::RS256,
    Alg::RS384,
    Alg::RS512,
    Alg::PS256,
    Alg::PS384,
    Alg::PS512,
];

impl Alg {
    /// The JOSE name, e.g. `ES384`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        ASYMMETRIC
            .into_iter()
            .find(|alg| alg.name() == name && alg.has_backend())
    }

    /// Whether this build's signature back-end verifies the algorithm: ring has no P-521.
    fn has_backend(self) -> bool {
        cfg!(feature = "aws-lc-rs") || self != Alg::ES512
    }

    /// The curve an elliptic-curve algorithm needs (`crv` of the key), or `None` for RSA.
    fn curve(self) -> Option<&'static str> {
        match self {
            Alg::ES256 => Some("P-256"),
            Alg::ES384 => Some("P-384"),
            Alg::ES512 => Some("P-521"),
            _ => None,
        }
    }

    /// Bytes of one coordinate of a point on the algorithm's curve.
    fn coordinate_len(self) -> usize {
        match self {
            Alg::ES256 => 32,
            Alg::ES384 => 48,
            _ => 66,
        }
    }

    fn rsa_parameters(self) -> &'static RsaParameters {
        match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            _ => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }

    /// The ECDSA verifier, if this build has one for the algorithm.
    fn ecdsa(self) -> Option<&'static dyn VerificationAlgorithm> {
        match self {
            Alg::ES256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
            Alg::ES384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
            #[cfg(feature = "aws-lc-rs")]
            _ => Some(&signature::ECDSA_P521_SHA512_FIXED),
            #[cfg(not(feature = "aws-lc-rs"))]
            _ => None,
        }
    }
}

/// The algorithms to accept: Logto's ES384 and RS256, plus the asymmetric ones discovery
/// announces.
pub(crate) fn allowed_algorithms(announced: &[String]) -> Vec<Alg> {
    let mut allowed = vec![Alg::ES384, Alg::RS256];
    for alg in ASYMMETRIC {
        if announced.iter().any(|name| name == alg.name()) && !allowed.contains(&alg) {
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
    pub alg: Alg,
    /// Key id, if any.
    pub kid: Option<String>,
    /// Media type, if any (checked for logout and access tokens).
    pub typ: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// Extensions the signer says must be understood (RFC 7515 4.1.11): this client knows none,
    /// so a token naming any is refused. Logto's never do.
    #[serde(default)]
    crit: Option<Value>,
}

/// The three parts of a compact JWS, bounded in size.
struct Parts<'a> {
    header: &'a str,
    claims: &'a str,
    signature: &'a str,
    /// `header.claims`, what the signature covers.
    signed: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, claims) = signed.split_once('.').ok_or(TokenError::Malformed)?;
    if claims.contains('.') {
        return Err(TokenError::Malformed);
    }
    // Base64 makes 3 bytes of 4 characters: refused before anything is decoded or verified. The
    // largest signature (RSA 8192) is 1,024 bytes.
    if claims.len() > MAX_CLAIMS_BYTES / 3 * 4 + 4 || header.len() > 4096 || signature.len() > 2048 {
        return Err(TokenError::TooLarge);
    }
    Ok(Parts {
        header,
        claims,
        signature,
        signed,
    })
}

fn decode_part(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)
}

/// Reads the header and checks the algorithm before any key is looked up.
pub(crate) fn read_header(token: &str, algorithms: &[Alg]) -> Result<TokenHeader, TokenError> {
    let parts = split(token)?;
    let raw: RawHeader = serde_json::from_slice(&decode_part(parts.header)?).map_err(|_| TokenError::Malformed)?;
    if raw.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    let alg = Alg::from_name(&raw.alg)
        .filter(|alg| algorithms.contains(alg))
        .ok_or_else(|| TokenError::AlgorithmNotAllowed(raw.alg.escape_debug().to_string()))?;
    Ok(TokenHeader {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// Whether `key` may verify a signature made with `alg`: a signing key (`use`, when given, is
/// `sig`) published for that algorithm (`alg`, when given) of the type and curve it needs
/// (P-256 for ES256, P-384 for ES384, P-521 for ES512, RSA for RS* and PS*). A P-384 key could
/// otherwise be offered for ES256, or an RSA key for ES384.
pub(crate) fn key_fits(key: &Jwk, alg: Alg) -> bool {
    let type_fits = match alg.curve() {
        Some(curve) => key.kty == "EC" && key.crv.as_deref() == Some(curve),
        None => key.kty == "RSA",
    };
    type_fits
        && key.alg.as_deref().is_none_or(|key_alg| key_alg == alg.name())
        && key.use_.as_deref().is_none_or(|use_| use_ == "sig")
}

/// One key of Logto's JWKS, as far as verification reads it. Every field but `kty` is optional so
/// that a key of a kind this client does not use (e.g. `OKP`) never spoils the set.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Jwk {
    /// Key type: `EC` or `RSA` are usable.
    pub kty: String,
    /// Key id, which a token's header names.
    #[serde(default)]
    pub kid: Option<String>,
    /// The algorithm the key is published for, if said.
    #[serde(default)]
    pub alg: Option<String>,
    /// `sig` for a signing key, if said.
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    /// Curve of an EC key: `P-256`, `P-384`, `P-521`.
    #[serde(default)]
    pub crv: Option<String>,
    /// EC point, x coordinate (base64url).
    #[serde(default)]
    pub x: Option<String>,
    /// EC point, y coordinate (base64url).
    #[serde(default)]
    pub y: Option<String>,
    /// RSA modulus (base64url).
    #[serde(default)]
    pub n: Option<String>,
    /// RSA exponent (base64url).
    #[serde(default)]
    pub e: Option<String>,
    /// An EC key made ready to verify with, at its first use ([`verify_signature`]).
    #[serde(skip)]
    pub ec_key: OnceLock<Result<EcKey, TokenError>>,
}

/// An EC key of Logto's key set, ready to verify signatures of one algorithm: its point decoded
/// from the JWK's `x` and `y` and parsed (and checked to be on the curve) once.
#[derive(Debug, Clone)]
pub(crate) struct EcKey {
    alg: Alg,
    #[cfg(feature = "aws-lc-rs")]
    key: signature::ParsedPublicKey,
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    key: UnparsedPublicKey<Vec<u8>>,
}

impl EcKey {
    /// `key`'s point for `alg`: [`TokenError::UnusableKey`] when its coordinates are missing, of
    /// another size than the curve's, or not a point of the curve.
    fn new(key: &Jwk, alg: Alg) -> Result<Self, TokenError> {
        let coordinate = |value: &Option<String>| -> Result<Vec<u8>, TokenError> {
            let text = value.as_deref().ok_or(TokenError::UnusableKey)?;
            URL_SAFE_NO_PAD.decode(text).map_err(|_| TokenError::UnusableKey)
        };
        let (x, y) = (coordinate(&key.x)?, coordinate(&key.y)?);
        let len = alg.coordinate_len();
        if x.len() != len || y.len() != len {
            return Err(TokenError::UnusableKey);
        }
        // The uncompressed point: 0x04, then x and y.
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let algorithm = alg.ecdsa().ok_or(TokenError::KeyAlgorithmMismatch)?;
        #[cfg(feature = "aws-lc-rs")]
        let key = signature::ParsedPublicKey::new(algorithm, point).map_err(|_| TokenError::UnusableKey)?;
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        let key = UnparsedPublicKey::new(algorithm, point);
        Ok(EcKey { alg, key })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        #[cfg(feature = "aws-lc-rs")]
        let verified = self.key.verify_sig(message, signature);
        #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
        let verified = self.key.verify(message, signature);
        verified.map_err(|_| TokenError::BadSignature)
    }
}

/// Checks the signature with `key` and returns the claims, an object of at most
/// [`MAX_CLAIMS_BYTES`].
pub(crate) fn verify_signature(token: &str, header: &TokenHeader, key: &Jwk) -> Result<Map<String, Value>, TokenError> {
    if !key_fits(key, header.alg) {
        return Err(TokenError::KeyAlgorithmMismatch);
    }
    let parts = split(token)?;
    let signature = decode_part(parts.signature)?;
    let message = parts.signed.as_bytes();
    let verified = if header.alg.curve().is_some() {
        // Decoded and parsed at the key's first use, then kept with the key: per request that
        // was two base64 decodes and aws-lc's parse of the point (~30,000 instructions).
        let ec_key = key.ec_key.get_or_init(|| EcKey::new(key, header.alg));
        match ec_key {
            // `key_fits` ties an EC key's curve to one algorithm, so the key is always parsed for
            // the header's; checked all the same.
            Ok(ec_key) if ec_key.alg == header.alg => ec_key.verify(message, &signature),
            Ok(_) => return Err(TokenError::KeyAlgorithmMismatch),
            Err(reason) => return Err(reason.clone()),
        }
    } else {
        let component = |value: &Option<String>| -> Result<Vec<u8>, TokenError> {
            let text = value.as_deref().ok_or(TokenError::UnusableKey)?;
            URL_SAFE_NO_PAD.decode(text).map_err(|_| TokenError::UnusableKey)
        };
        let (n, e) = (component(&key.n)?, component(&key.e)?);
        // The components are big-endian numbers, which aws-lc wants without leading zeros.
        let strip = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|b| *b != 0)
                .map_or(Vec::new(), |i| bytes[i..].to_vec())
        };
        RsaPublicKeyComponents {
            n: strip(&n),
            e: strip(&e),
        }
        .verify(header.alg.rsa_parameters(), message, &signature)
        .map_err(|_| TokenError::BadSignature)
    };
    verified?;
    match serde_json::from_slice(&decode_part(parts.claims)?) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ => Err(TokenError::Malformed),
    }
}

/// The claims of a compact JWT, read WITHOUT checking its signature: only for a token that came
/// straight from Logto's token endpoint. `None` when it is not a JWT (an opaque token).
pub(crate) fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let parts = split(token).ok()?;
    match serde_json::from_slice(&decode_part(parts.claims).ok()?) {
        Ok(Value::Object(claims)) => Some(claims),
        _ => None,
    }
}

/// Checks that every claim of `required` is present, then that `iss` is `issuer`.
pub(crate) fn check_issuer(
    claims: &Map<String, Value>,
    issuer: &str,
    required: &[&'static str],
) -> Result<(), TokenError> {
    if let Some(missing) = required
        .iter()
        .find(|name| claims.get(**name).is_none_or(Value::is_null))
    {
        return Err(TokenError::MissingClaim(missing));
    }
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer => Ok(()),
        _ => Err(TokenError::WrongIssuer),
    }
}

/// Checks that `aud` (a string or an array of strings) names `audience`.
pub(crate) fn check_audience(claims: &Map<String, Value>, audience: &str) -> Result<(), TokenError> {
    let aud: AudClaim = claims
        .get("aud")
        .cloned()
        .and_then(|aud| serde_json::from_value(aud).ok())
        .ok_or(TokenError::WrongAudience)?;
    if aud.as_slice().iter().any(|aud| aud == audience) {
        Ok(())
    } else {
        Err(TokenError::WrongAudience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_allows_hmac_even_when_announced() {
        let allowed = allowed_algorithms(&["HS256".into(), "none".into(), "PS256".into(), "ES512".into()]);
        assert_eq!(allowed, vec![Alg::ES384, Alg::RS256, Alg::ES512, Alg::PS256]);
    }

    #[test]
    fn refuses_alg_none_and_hmac_headers() {
        // {"alg":"none"} . {} .
        assert_eq!(
            read_header("eyJhbGciOiJub25lIn0.e30.", &[Alg::ES384]).err(),
            Some(TokenError::AlgorithmNotAllowed("none".into()))
        );
        // {"alg":"HS256"} . {} . sig
        assert_eq!(
            read_header("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", &[Alg::ES384, Alg::RS256]).err(),
            Some(TokenError::AlgorithmNotAllowed("HS256".into()))
        );
        assert_eq!(
            read_header("eyJhbGciOiJIUzI1NiJ9.e30", &[Alg::ES384]).err(),
            Some(TokenError::Malformed)
        );
        assert_eq!(read_header("a.b.c.d", &[Alg::ES384]).err(), Some(TokenError::Malformed));
        // {"alg":"ES384","crit":["b64"]} . {} . sig
        let crit = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES384","crit":["b64"],"b64":false}"#);
        assert_eq!(
            read_header(&format!("{crit}.e30.c2ln"), &[Alg::ES384]).err(),
            Some(TokenError::Malformed)
        );
        let plain = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES384"}"#);
        assert!(read_header(&format!("{plain}.e30.c2ln"), &[Alg::ES384]).is_ok());
    }

    fn key(kty: &str, crv: Option<&str>, alg: Option<&str>) -> Jwk {
        serde_json::from_value(serde_json::json!({ "kty": kty, "crv": crv, "alg": alg })).unwrap()
    }

    #[test]
    fn the_key_type_and_curve_must_fit_the_algorithm() {
        assert!(key_fits(&key("EC", Some("P-256"), None), Alg::ES256));
        assert!(key_fits(&key("EC", Some("P-384"), Some("ES384")), Alg::ES384));
        assert!(key_fits(&key("EC", Some("P-521"), None), Alg::ES512));
        assert!(key_fits(&key("RSA", None, None), Alg::PS256));
        assert!(key_fits(&key("RSA", None, Some("RS256")), Alg::RS256));
        assert!(!key_fits(&key("EC", Some("P-384"), None), Alg::ES256));
        assert!(!key_fits(&key("EC", Some("P-384"), None), Alg::ES512));
        assert!(!key_fits(&key("EC", Some("P-521"), None), Alg::ES384));
        assert!(!key_fits(&key("RSA", None, None), Alg::ES384));
        assert!(!key_fits(&key("EC", Some("P-256"), None), Alg::RS256));
        assert!(!key_fits(&key("RSA", None, Some("RS256")), Alg::PS256));
        assert!(!key_fits(&key("oct", None, None), Alg::RS256));
    }

    /// A P-384 key pair, its public half as a JWK, and `sign(claims)`: an ES384 token.
    #[cfg(feature = "aws-lc-rs")]
    fn es384_key() -> (Jwk, impl Fn(&str) -> String) {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-384", "kid": "k",
            "x": URL_SAFE_NO_PAD.encode(&point[1..49]), "y": URL_SAFE_NO_PAD.encode(&point[49..]),
        }))
        .unwrap();
        let sign = move |claims: &str| {
            let signed = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"ES384","kid":"k"}"#),
                URL_SAFE_NO_PAD.encode(claims)
            );
            let signature = pair.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
        };
        (jwk, sign)
    }

    #[cfg(feature = "aws-lc-rs")]
    #[test]
    fn an_ec_key_is_parsed_at_its_first_use_and_still_refuses_bad_signatures() {
        let (jwk, sign) = es384_key();
        let token = sign(r#"{"sub":"a"}"#);
        let header = read_header(&token, &[Alg::ES384]).unwrap();
        assert!(jwk.ec_key.get().is_none());
        assert_eq!(verify_signature(&token, &header, &jwk).unwrap()["sub"], "a");
        assert!(matches!(jwk.ec_key.get(), Some(Ok(_))), "kept with the key");
        assert!(verify_signature(&token, &header, &jwk).is_ok(), "and verifies again");
        // Other claims under that signature, and a token of another key, are refused by it.
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let other_claims = signed.replace(
            &URL_SAFE_NO_PAD.encode(r#"{"sub":"a"}"#),
            &URL_SAFE_NO_PAD.encode(r#"{"sub":"b"}"#),
        );
        let forged = format!("{other_claims}.{signature}");
        assert_eq!(
            verify_signature(&forged, &header, &jwk).err(),
            Some(TokenError::BadSignature)
        );
        let (_, other_key) = es384_key();
        assert_eq!(
            verify_signature(&other_key(r#"{"sub":"a"}"#), &header, &jwk).err(),
            Some(TokenError::BadSignature)
        );
    }

    #[cfg(feature = "aws-lc-rs")]
    #[test]
    fn an_ec_key_off_its_curve_or_of_the_wrong_size_is_unusable_at_every_use() {
        let (_, sign) = es384_key();
        let token = sign(r#"{"sub":"a"}"#);
        let header = read_header(&token, &[Alg::ES384]).unwrap();
        let off_curve: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-384", "x": URL_SAFE_NO_PAD.encode([1; 48]), "y": URL_SAFE_NO_PAD.encode([1; 48]),
        }))
        .unwrap();
        let short: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC", "crv": "P-384", "x": URL_SAFE_NO_PAD.encode([1; 32]), "y": URL_SAFE_NO_PAD.encode([1; 32]),
        }))
        .unwrap();
        for key in [off_curve, short] {
            for _ in 0..2 {
                assert_eq!(
                    verify_signature(&token, &header, &key).err(),
                    Some(TokenError::UnusableKey)
                );
            }
        }
    }

    #[test]
    fn oversized_claims_are_refused_before_they_are_read() {
        let claims = "a".repeat(MAX_CLAIMS_BYTES * 2);
        assert_eq!(
            read_header(&format!("eyJhbGciOiJFUzM4NCJ9.{claims}.sig"), &[Alg::ES384]).err(),
            Some(TokenError::TooLarge)
        );
        let signature = "A".repeat(4096);
        assert_eq!(
            read_header(&format!("eyJhbGciOiJFUzM4NCJ9.e30.{signature}"), &[Alg::ES384]).err(),
            Some(TokenError::TooLarge)
        );
    }
}
