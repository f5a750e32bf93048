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
//! are trusted as the uncached path trusts them), or when its set is full and it is the set's
//! oldest.
//!
//! The cache is set-associative, as a CPU's caches are: the hash picks one set of [`WAYS`] slots,
//! and a token can only be kept there; a full set makes room by replacing its oldest entry (first
//! in, first out within the set). Every set is made once, at the first insert, and has its own
//! lock, so the cache never grows, rehashes or sweeps after that, whatever arrives, and requests on
//! different workers rarely wait for each other. The first design, a hash table with a queue of
//! insertion order, took ~2.4 MB for 10,000 tokens besides their claims (these sets: ~0.5 MB): the
//! queue, and a table that doubled under the churn of a flood of new tokens (removed slots come
//! back only through a rehash, and a table more than half full grows instead), then rehashed in
//! full every ~1.8 million inserts.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use sha2::{Digest, Sha256};

use crate::jwt::{CLOCK_LEEWAY_SECS, Jwk};
use crate::signed_claims::SignedClaims;

/// Entries kept by default. About 350 bytes each for a typical Logto token (its claims and the
/// slot), so a full cache stays under 4 MB however many distinct tokens arrive. Custom claims are
/// kept too (for [`crate::VerifiedAccessToken::custom`]); a token's claims are bounded by
/// [`crate::MAX_CLAIMS_BYTES`], so tokens carrying large ones cost more per entry.
pub const DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// Slots a set has: a token competes for room only with the tokens whose hash picks the same set.
/// With sixteen, tokens reused at random from a working set of half the capacity are answered
/// from the cache 99.8 % of the time, from three quarters of it 98 % (a fully associative cache:
/// 100 %; eight ways: 99.2 % and 95 %), for a lookup of at most sixteen comparisons.
const WAYS: usize = 16;

/// A token's SHA-256: what the cache knows it by.
pub(crate) type TokenHash = [u8; 32];

/// The SHA-256 of `token`.
pub(crate) fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// A verified token's claims and the key that verified them.
struct Entry {
    hash: TokenHash,
    /// The key whose signature checked out, shared with the key set it came from (and with every
    /// other entry it verified): only its `kid` is read.
    key: Arc<Jwk>,
    claims: Arc<SignedClaims>,
}

impl Entry {
    fn kid(&self) -> &str {
        self.key.kid.as_deref().unwrap_or_default()
    }
}

/// One set: up to [`WAYS`] entries, replaced oldest first once all are taken.
#[derive(Default)]
struct Set {
    slots: [Option<Entry>; WAYS],
    /// The slot the next insert replaces when none is free: slots are taken in turn, so this is
    /// the oldest.
    next: usize,
}

/// A bounded cache of verified access tokens, shared by every request of a client.
pub(crate) struct VerifiedCache {
    /// Slots used in each set: [`WAYS`], or fewer for a capacity under it.
    ways: usize,
    /// How many sets: `ways * set_count` never exceeds the capacity asked for.
    set_count: usize,
    /// The sets, made at the first insert (a client that never sees an access token pays
    /// nothing). Each lock is held only to look up, insert or remove, never across an await.
    sets: OnceLock<Box<[Mutex<Set>]>>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens; 0 keeps none.
    pub(crate) fn new(capacity: usize) -> Self {
        let ways = capacity.min(WAYS);
        Self {
            ways,
            set_count: capacity.checked_div(ways).unwrap_or(0),
            sets: OnceLock::new(),
        }
    }

    /// Whether the cache keeps anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.set_count > 0
    }

    /// The set of `sets` that `hash` belongs to, locked. The hash is SHA-256, so its first bytes
    /// spread tokens evenly over the sets.
    fn set<'a>(&self, sets: &'a [Mutex<Set>], hash: &TokenHash) -> MutexGuard<'a, Set> {
        let mut first = [0; 8];
        first.copy_from_slice(&hash[..8]);
        let index = u64::from_le_bytes(first) % sets.len() as u64;
        // A panic elsewhere while holding the lock leaves a set that is still consistent.
        sets[index as usize].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The claims of a token verified before, if it has not expired at `now` and `key_published`
    /// says its key is still in Logto's (fresh) key set; an entry failing either is dropped.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        now: u64,
        key_published: impl FnOnce(&str) -> bool,
    ) -> Option<Arc<SignedClaims>> {
        let mut set = self.set(self.sets.get()?, hash);
        let slot = set.slots[..self.ways]
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|entry| entry.hash == *hash))?;
        let entry = slot.as_ref()?;
        if !expired(&entry.claims, now) && key_published(entry.kid()) {
            return Some(entry.claims.clone());
        }
        *slot = None;
        None
    }

    /// Keeps a token whose signature checked out with `key` (which has a `kid`: a key found
    /// without one cannot be found again), making room by replacing its set's oldest entry. An
    /// expired token is not kept.
    pub(crate) fn insert(&self, hash: TokenHash, key: Arc<Jwk>, claims: Arc<SignedClaims>, now: u64) {
        if !self.enabled() || key.kid.is_none() || expired(&claims, now) {
            return;
        }
        let sets = self
            .sets
            .get_or_init(|| (0..self.set_count).map(|_| Mutex::default()).collect());
        let entry = Entry { hash, key, claims };
        let mut set = self.set(sets, &hash);
        let set = &mut *set;
        let slots = &mut set.slots[..self.ways];
        // Verified concurrently by two requests: the first one's slot is refreshed in place.
        if let Some(existing) = slots.iter_mut().flatten().find(|existing| existing.hash == hash) {
            *existing = entry;
            return;
        }
        let slot = match slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                let oldest = set.next;
                set.next = (oldest + 1) % self.ways;
                oldest
            }
        };
        slots[slot] = Some(entry);
    }

    /// How many tokens are kept now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sets.get().map_or(0, |sets| {
            sets.iter()
                .map(|set| set.lock().unwrap().slots.iter().flatten().count())
                .sum()
        })
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

    fn key(kid: Option<&str>) -> Arc<Jwk> {
        Arc::new(serde_json::from_value(serde_json::json!({ "kty": "EC", "kid": kid })).unwrap())
    }

    fn hash(n: usize) -> TokenHash {
        token_hash(&format!("token-{n}"))
    }

    /// A made-up hash that falls in set `set` (of fewer than 256 sets), told apart by `n`.
    fn hash_in_set(set: u8, n: u8) -> TokenHash {
        let mut hash = [0; 32];
        hash[0] = set;
        hash[31] = n;
        hash
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
            cache.insert(hash(n), key(Some("k")), claims(NOW + 3600), NOW);
            assert!(cache.len() <= 3);
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
    fn a_flood_of_distinct_tokens_stays_within_the_capacity() {
        let cache = VerifiedCache::new(DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY);
        assert_eq!(cache.set_count * cache.ways, DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY);
        for n in 0..50_000 {
            cache.insert(hash(n), key(Some("k")), claims(NOW + 3600), NOW);
        }
        // Every set is full after five times its capacity of random hashes; none holds more.
        assert_eq!(cache.len(), DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY);
        // The newest token is always found; a capacity that is not a multiple of the ways is
        // rounded down, never up.
        assert!(cache.get(&hash(49_999), NOW, |_| true).is_some());
        let odd = VerifiedCache::new(20);
        for n in 0..1_000 {
            odd.insert(hash(n), key(Some("k")), claims(NOW + 3600), NOW);
        }
        assert!(odd.len() <= 20);
    }

    #[test]
    fn a_full_set_replaces_its_oldest_and_leaves_the_other_sets_alone() {
        let cache = VerifiedCache::new(2 * WAYS);
        let ways = WAYS as u8;
        cache.insert(hash_in_set(1, 0), key(Some("k")), claims(NOW + 3600), NOW);
        for n in 0..=ways {
            cache.insert(hash_in_set(0, n), key(Some("k")), claims(NOW + 3600), NOW);
        }
        assert!(
            cache.get(&hash_in_set(0, 0), NOW, |_| true).is_none(),
            "the oldest made room"
        );
        for n in 1..=ways {
            assert!(
                cache.get(&hash_in_set(0, n), NOW, |_| true).is_some(),
                "token {n} is kept"
            );
        }
        assert!(
            cache.get(&hash_in_set(1, 0), NOW, |_| true).is_some(),
            "the other set is untouched"
        );
        // The next one in set 0 replaces the next oldest.
        cache.insert(hash_in_set(0, ways + 1), key(Some("k")), claims(NOW + 3600), NOW);
        assert!(cache.get(&hash_in_set(0, 1), NOW, |_| true).is_none());
        assert!(cache.get(&hash_in_set(0, 2), NOW, |_| true).is_some());
        assert_eq!(cache.len(), WAYS + 1);
    }

    #[test]
    fn the_same_token_verified_twice_takes_one_slot() {
        let cache = VerifiedCache::new(WAYS);
        cache.insert(hash(1), key(Some("k")), claims(NOW + 3600), NOW);
        cache.insert(hash(1), key(Some("k2")), claims(NOW + 7200), NOW);
        assert_eq!(cache.len(), 1);
        let mut asked = None;
        let found = cache.get(&hash(1), NOW, |kid| {
            asked = Some(kid.to_owned());
            true
        });
        assert_eq!(
            found.map(|claims| claims.exp),
            Some(NOW + 7200),
            "the later verify stands"
        );
        assert_eq!(asked.as_deref(), Some("k2"));
    }

    #[test]
    fn entries_end_at_expiry_plus_the_leeway() {
        let cache = VerifiedCache::new(3);
        cache.insert(hash(1), key(Some("k")), claims(NOW + 10), NOW);
        assert!(cache.get(&hash(1), NOW + 10 + CLOCK_LEEWAY_SECS, |_| true).is_some());
        assert!(cache.get(&hash(1), NOW + 11 + CLOCK_LEEWAY_SECS, |_| true).is_none());
        assert_eq!(cache.len(), 0, "an expired entry is dropped");
        // And one already expired is never kept.
        cache.insert(hash(2), key(Some("k")), claims(NOW - CLOCK_LEEWAY_SECS - 1), NOW);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn entries_end_when_their_key_is_no_longer_published() {
        let cache = VerifiedCache::new(3);
        cache.insert(hash(1), key(Some("old-key")), claims(NOW + 3600), NOW);
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
        cache.insert(hash(1), key(Some("k")), claims(NOW + 3600), NOW);
        cache.insert(hash(2), key(Some("k")), claims(NOW + 3600), NOW);
        assert!(cache.get(&hash(1), NOW, |_| false).is_none());
        cache.insert(hash(3), key(Some("k")), claims(NOW + 3600), NOW);
        assert_eq!(cache.len(), 2);
        assert!(
            cache.get(&hash(2), NOW, |_| true).is_some(),
            "the free slot was taken first"
        );
        assert!(cache.get(&hash(3), NOW, |_| true).is_some());
    }

    #[test]
    fn a_key_without_kid_is_not_kept() {
        let cache = VerifiedCache::new(3);
        cache.insert(hash(1), key(None), claims(NOW + 3600), NOW);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn nothing_is_allocated_before_the_first_insert() {
        let cache = VerifiedCache::new(DEFAULT_ACCESS_TOKEN_CACHE_CAPACITY);
        assert!(cache.get(&hash(1), NOW, |_| true).is_none());
        assert!(cache.sets.get().is_none());
        cache.insert(hash(1), key(Some("k")), claims(NOW + 3600), NOW);
        assert_eq!(cache.sets.get().map(|sets| sets.len()), Some(625));
    }

    /// Bytes allocated and not yet freed by this thread: what a test on one thread holds.
    mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        thread_local! {
            static LIVE: Cell<isize> = const { Cell::new(0) };
        }

        pub(super) struct Counting;

        // SAFETY: every call goes to the system allocator unchanged; only sizes are counted.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                LIVE.with(|live| live.set(live.get() + layout.size() as isize));
                unsafe { System.alloc(layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                LIVE.with(|live| live.set(live.get() - layout.size() as isize));
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        pub(super) fn live_bytes() -> isize {
            LIVE.with(Cell::get)
        }
    }

    #[global_allocator]
    static COUNTING: counting::Counting = counting::Counting;

    #[test]
    fn a_full_cache_of_typical_tokens_holds_under_400_bytes_a_token() {
        // The claims of a Logto access token for an API, as read after its signature checked out.
        let typical = |n: usize| {
            let claims = serde_json::json!({
                "jti": format!("K9vXb2YQyq4T0mZ3pW8sL{n:05}"),
                "sub": format!("u{n:011}"),
                "iat": NOW,
                "exp": NOW + 3600,
                "scope": "read:messages write:messages",
                "client_id": "m2m0a1b2c3d4e5f6g7h8i",
                "iss": "https://tenant.logto.app/oidc",
                "aud": "https://api.example.com",
            });
            let serde_json::Value::Object(claims) = claims else {
                unreachable!()
            };
            Arc::new(SignedClaims::read(claims).unwrap())
        };
        let key = key(Some("a-logto-key-id-43-characters-long-000000000"));
        let cache = VerifiedCache::new(1_024);
        let before = counting::live_bytes();
        for n in 0..5_000 {
            cache.insert(hash(n), key.clone(), typical(n), NOW);
        }
        assert_eq!(cache.len(), 1_024);
        let per_token = (counting::live_bytes() - before) / 1_024;
        // Slot 48 bytes, claims ~250 (the map of other claims left empty: a map emptied by
        // removing `iss` and `jti` kept a ~640-byte node a token).
        assert!(per_token < 400, "{per_token} bytes a cached token");
    }

    #[test]
    fn a_capacity_of_zero_keeps_nothing() {
        let cache = VerifiedCache::new(0);
        cache.insert(hash(1), key(Some("k")), claims(NOW + 3600), NOW);
        assert!(!cache.enabled());
        assert!(cache.get(&hash(1), NOW, |_| true).is_none());
        assert_eq!(cache.len(), 0);
    }
}
