//! Access tokens whose signature already checked out, so that an API seeing the same token again
//! (as it does for the token's whole lifetime) skips the signature: an ES384 verify costs ~200 µs,
//! the whole request otherwise a few.
//!
//! Only what depends on the signature is remembered: the token was signed by Logto's key `kid`,
//! by the expected issuer, and carries these claims. Every other check (expiry and clock, audience,
//! organization, scopes) runs again on each request against the claims kept here.
//!
//! Entries are keyed by the token's SHA-256, never the token itself. An entry ends at the token's
//! expiry (plus the clock leeway), when its key is no longer in a fresh JWKS (keys past their
//! maximum age send the token through a refetch; while Logto cannot be reached, the stale keys
//! are trusted as the uncached path trusts them), or when the cache is full and it is the oldest
//! (first in, first out: one queue pop an insert, no scan).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha2::{Digest, Sha256};

use crate::access_token::SignedClaims;
use crate::jwt::CLOCK_LEEWAY_SECS;

/// Entries kept by default. About 400 bytes each (the claims of a typical Logto token, the key
/// and the table's share), so a full cache stays near 4 MB however many distinct tokens arrive.
/// Custom claims are kept too (for [`crate::VerifiedAccessToken::custom`]); a token's claims are
/// bounded by [`crate::MAX_CLAIMS_BYTES`], so tokens carrying large ones cost more per entry.
pub const DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// A token's SHA-256: what the cache knows it by.
pub(crate) type TokenHash = [u8; 32];

/// The SHA-256 of `token`.
pub(crate) fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// A verified token's claims and the key that verified them.
struct Entry {
    /// The `kid` of the key whose signature checked out.
    kid: Box<str>,
    claims: Arc<SignedClaims>,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<TokenHash, Entry>,
    /// Insertion order, oldest first; never longer than the capacity. It may still name entries
    /// that ended early (expired, key gone): popping one of those removes nothing, or the same
    /// token's later entry a little early.
    order: VecDeque<TokenHash>,
}

/// A bounded cache of verified access tokens, shared by every request of a client.
pub(crate) struct VerifiedCache {
    capacity: usize,
    /// Held only to look up, insert or remove, never across an await.
    entries: Mutex<Entries>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens; 0 keeps none.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Whether the cache keeps anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The claims of a token verified before, if it has not expired at `now` and `key_published`
    /// says its key is still in Logto's (fresh) key set; an entry failing either is dropped.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        now: u64,
        key_published: impl FnOnce(&str) -> bool,
    ) -> Option<Arc<SignedClaims>> {
        let mut entries = self.entries();
        let entry = entries.by_hash.get(hash)?;
        if !expired(&entry.claims, now) && key_published(&entry.kid) {
            return Some(entry.claims.clone());
        }
        entries.by_hash.remove(hash);
        None
    }

    /// Keeps a token whose signature checked out with the key `kid`, evicting the oldest entry
    /// when full. An expired token is not kept.
    pub(crate) fn insert(&self, hash: TokenHash, kid: &str, claims: Arc<SignedClaims>, now: u64) {
        if self.capacity == 0 || expired(&claims, now) {
            return;
        }
        let entry = Entry {
            kid: kid.into(),
            claims,
        };
        let mut entries = self.entries();
        // Verified concurrently by two requests: the first one's place in the queue stands.
        if let Some(existing) = entries.by_hash.get_mut(&hash) {
            *existing = entry;
            return;
        }
        while entries.order.len() >= self.capacity {
            if let Some(oldest) = entries.order.pop_front() {
                entries.by_hash.remove(&oldest);
            }
        }
        entries.order.push_back(hash);
        entries.by_hash.insert(hash, entry);
    }

    /// How many tokens are kept now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries().by_hash.len()
    }
}

/// Past the token's expiry and the clock leeway, as the per-request check judges it.
fn expired(claims: &SignedClaims, now: u64) -> bool {
    claims.exp.saturating_add(CLOCK_LEEWAY_SECS) < now
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn claims(exp: u64) -> Arc<SignedClaims> {
        Arc::new(SignedClaims {
            sub: "user".into(),
            client_id: "app".into(),
            scope: "read".into(),
            organization_id: None,
            audience: vec!["https://api.example.com".into()],
            exp,
            iat: NOW,
            nbf: None,
            extra: serde_json::Map::new(),
        })
    }

    fn hash(n: usize) -> TokenHash {
        token_hash(&format!("token-{n}"))
    }

    #[test]
    fn keys_by_the_tokens_sha256() {
        assert_eq!(token_hash("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_ne!(token_hash("abc"), token_hash("abd"));
    }

    #[test]
    fn never_holds_more_than_its_capacity_and_evicts_the_oldest() {
        let cache = VerifiedCache::new(3);
        for n in 0..10 {
            cache.insert(hash(n), "k", claims(NOW + 3600), NOW);
            assert!(cache.len() <= 3);
            assert!(cache.entries().order.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        for n in 0..7 {
            assert!(cache.get(&hash(n), NOW, |_| true).is_none(), "token {n} was evicted");
        }
        for n in 7..10 {
            assert!(cache.get(&hash(n), NOW, |_| true).is_some(), "token {n} is kept");
        }
    }

    #[test]
    fn entries_end_at_expiry_plus_the_leeway() {
        let cache = VerifiedCache::new(3);
        cache.insert(hash(1), "k", claims(NOW + 10), NOW);
        assert!(cache.get(&hash(1), NOW + 10 + CLOCK_LEEWAY_SECS, |_| true).is_some());
        assert!(cache.get(&hash(1), NOW + 11 + CLOCK_LEEWAY_SECS, |_| true).is_none());
        assert_eq!(cache.len(), 0, "an expired entry is dropped");
        // And one already expired is never kept.
        cache.insert(hash(2), "k", claims(NOW - CLOCK_LEEWAY_SECS - 1), NOW);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn entries_end_when_their_key_is_no_longer_published() {
        let cache = VerifiedCache::new(3);
        cache.insert(hash(1), "old-key", claims(NOW + 3600), NOW);
        let mut asked = None;
        assert!(
            cache
                .get(&hash(1), NOW, |kid| {
                    asked = Some(kid.to_owned());
                    false
                })
                .is_none()
        );
        assert_eq!(asked.as_deref(), Some("old-key"));
        assert!(cache.get(&hash(1), NOW, |_| true).is_none(), "the entry was dropped");
    }

    #[test]
    fn entries_ended_early_leave_room_for_new_ones() {
        let cache = VerifiedCache::new(2);
        cache.insert(hash(1), "k", claims(NOW + 3600), NOW);
        assert!(cache.get(&hash(1), NOW, |_| false).is_none());
        cache.insert(hash(1), "k", claims(NOW + 3600), NOW);
        cache.insert(hash(2), "k", claims(NOW + 3600), NOW);
        cache.insert(hash(3), "k", claims(NOW + 3600), NOW);
        assert!(cache.len() <= 2);
        assert!(cache.entries().order.len() <= 2);
        assert!(cache.get(&hash(3), NOW, |_| true).is_some());
    }

    #[test]
    fn a_capacity_of_zero_keeps_nothing() {
        let cache = VerifiedCache::new(0);
        cache.insert(hash(1), "k", claims(NOW + 3600), NOW);
        assert!(!cache.enabled());
        assert!(cache.get(&hash(1), NOW, |_| true).is_none());
    }
}
