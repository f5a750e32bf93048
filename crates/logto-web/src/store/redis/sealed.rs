//! What Redis holds is sealed: session values and refresh results are encrypted and
//! authenticated (AES-256-GCM) under a key derived from the session secret by HKDF with its own
//! label (not the cookie's key), bound to the key name they are stored under; index keys name
//! Logto's `sid`/`sub` only by a keyed hash. A dump of Redis shows no token, email or name, and a
//! value changed (or moved to another key) does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use sha2::{Digest, Sha256};

use super::hex;

/// Salt of the derivation: this store's keys, nothing else's.
const SALT: &[u8] = b"logto-web redis store";
/// Label of the key that seals values.
const SEAL_LABEL: &[u8] = b"session values at rest v1";
/// Label of the key that hashes index names.
const INDEX_LABEL: &[u8] = b"index names v1";

/// The keys derived from the session secret.
pub(super) struct Sealer {
    key: LessSafeKey,
    index_key: [u8; 32],
}

impl Sealer {
    /// Keys derived from `secret` (all of it).
    pub(super) fn new(secret: &[u8]) -> Sealer {
        let prk = Salt::new(HKDF_SHA256, SALT).extract(secret);
        // Expanding 32 or 64 bytes from SHA-256 cannot fail.
        let okm = prk
            .expand(&[SEAL_LABEL], &AES_256_GCM)
            .expect("HKDF expands an AES-256 key");
        let key = LessSafeKey::new(UnboundKey::from(okm));
        let mut index_key = [0u8; 32];
        prk.expand(&[INDEX_LABEL], HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut index_key))
            .expect("HKDF expands 32 bytes");
        Sealer { key, index_key }
    }

    /// A random key for this process: what a random cookie key (no session secret) pairs with.
    pub(super) fn random() -> Sealer {
        Sealer::new(&rand::random::<[u8; 32]>())
    }

    /// `plain` encrypted for the Redis key `name`: nonce, then ciphertext and tag.
    pub(super) fn seal(&self, name: &str, plain: &[u8]) -> Vec<u8> {
        let nonce_bytes = rand::random::<[u8; NONCE_LEN]>();
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(name.as_bytes()),
                &mut sealed,
            )
            .expect("AES-GCM seals any session-sized value");
        let mut out = nonce_bytes.to_vec();
        out.append(&mut sealed);
        out
    }

    /// The plain text of a value sealed for `name`; `None` when it was changed, moved or sealed
    /// with another secret.
    pub(super) fn open(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buffer = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut buffer)
            .ok()?;
        Some(plain.to_vec())
    }

    /// A name for `id` in index keys: a keyed hash, so that Redis never holds Logto's ids.
    pub(super) fn index_name(&self, id: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(self.index_key);
        hash.update(id.as_bytes());
        hex(&hash.finalize()[..20])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_unchanged_under_its_name_and_secret() {
        let sealer = Sealer::new(b"a secret of the app");
        let sealed = sealer.seal("logto:session:a", b"{\"email\":\"x@example.com\"}");
        assert!(!String::from_utf8_lossy(&sealed).contains("example.com"));
        assert_eq!(
            sealer.open("logto:session:a", &sealed).as_deref(),
            Some(&b"{\"email\":\"x@example.com\"}"[..])
        );
        assert_eq!(sealer.open("logto:session:b", &sealed), None, "moved to another key");
        let mut changed = sealed.clone();
        *changed.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open("logto:session:a", &changed), None, "changed");
        assert_eq!(Sealer::new(b"another secret").open("logto:session:a", &sealed), None);
        assert_ne!(sealer.index_name("sid-1"), Sealer::new(b"another").index_name("sid-1"));
    }
}
