//! Times ES384 signature verification of an ID-token-sized JWT, as the callback does it:
//! `jsonwebtoken::decode` with a key from the JWKS (x, y), claims checked.
//!
//! Usage: es384-verify PRIVATE_KEY_PKCS8_PEM [ROUNDS]

use std::time::Instant;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

fn main() {
    let mut args = std::env::args().skip(1);
    let pem = std::fs::read(args.next().expect("private key PEM")).expect("read key");
    let rounds: u32 = args.next().map(|r| r.parse().expect("rounds")).unwrap_or(2000);

    #[cfg(feature = "ring")]
    ring_provider::install();

    let signing = EncodingKey::from_ec_pem(&pem).expect("EC key");
    // The public point as a JWKS gives it: x and y, base64url.
    let (x, y) = public_components(&pem);
    let verifying = DecodingKey::from_ec_components(&x, &y).expect("EC public key");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // Claims shaped like the provider's ID token for the demo user.
    let claims = serde_json::json!({
        "iss": "http://127.0.0.1:3001/oidc", "sub": "user-demo", "aud": "app-id-0123456789",
        "exp": now + 3600, "iat": now, "nonce": "n-0123456789abcdefghijk", "at_hash": "abcdefghijklmnopqrstuv",
        "sid": "sid-0123456789abcdefghijklmnop", "name": "Demo User", "picture": null,
        "username": "demo", "email": "demo@example.com", "email_verified": true,
        "created_at": 1_700_000_000_000u64, "updated_at": 1_700_000_000_000u64,
    });
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some("key-1".into());
    let token = jsonwebtoken::encode(&header, &claims, &signing).expect("sign");

    let mut validation = Validation::new(Algorithm::ES384);
    validation.set_issuer(&["http://127.0.0.1:3001/oidc"]);
    validation.set_audience(&["app-id-0123456789"]);

    let verify = || {
        jsonwebtoken::decode::<serde_json::Value>(&token, &verifying, &validation).expect("valid token");
    };
    for _ in 0..rounds / 10 {
        verify();
    }
    let started = Instant::now();
    for _ in 0..rounds {
        verify();
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    let backend = if cfg!(feature = "ring") {
        "ring (CryptoProvider)"
    } else if cfg!(feature = "aws_lc_rs") {
        "aws_lc_rs"
    } else {
        "rust_crypto"
    };
    println!("{backend}: {per:.1} us per ES384 decode+verify ({rounds} rounds, token {} bytes)", token.len());

    // A tampered signature must still be refused.
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 5;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&bad, &verifying, &validation).is_err());
}

/// x and y of the public key, base64url, from the PKCS#8 PEM (the last 97 bytes of its DER
/// are the uncompressed point for P-384 keys written by OpenSSL with the public key included).
fn public_components(pem: &[u8]) -> (String, String) {
    let text = std::str::from_utf8(pem).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64_decode(&b64);
    let point = &der[der.len() - 97..];
    assert_eq!(point[0], 4, "uncompressed point");
    (base64url(&point[1..49]), base64url(&point[49..]))
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("base64"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(value(c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// ES256/ES384 verified by ring; everything else (and all signing) by the RustCrypto provider.
#[cfg(feature = "ring")]
mod ring_provider {
    use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
    use jsonwebtoken::{Algorithm, DecodingKey};
    use ring::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, EcdsaVerificationAlgorithm};

    /// Installs the provider for the process.
    pub fn install() {
        let provider = Box::leak(Box::new(CryptoProvider {
            verifier_factory: new_verifier,
            ..jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.clone()
        }));
        provider.install_default().expect("one provider");
    }

    struct Ecdsa {
        algorithm: Algorithm,
        ring: &'static EcdsaVerificationAlgorithm,
        key: Vec<u8>,
    }

    impl signature::Verifier<Vec<u8>> for Ecdsa {
        fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
            ring::signature::UnparsedPublicKey::new(self.ring, &self.key)
                .verify(msg, sig)
                .map_err(|_| signature::Error::new())
        }
    }

    impl JwtVerifier for Ecdsa {
        fn algorithm(&self) -> Algorithm {
            self.algorithm
        }
    }

    fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        let ring = match algorithm {
            Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &ECDSA_P384_SHA384_FIXED,
            _ => return (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
        };
        Ok(Box::new(Ecdsa {
            algorithm: *algorithm,
            ring,
            key: key.try_get_as_bytes()?.to_vec(),
        }))
    }
}
