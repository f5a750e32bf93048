//! [`DecodedSessions`]: sealed sessions already opened, so that the same value coming back (a
//! session cookie with every request of a signed-in browser, a session's value in Redis on every
//! read) is not decoded, decrypted and parsed again. For the cookie that was ~25k of the signed-in
//! home page's ~110k instructions (bench/README.md).
//!
//! What is kept is only what opening the value gives, a pure function of the value (and of the
//! key, fixed for the cache's life): the session's entries. Whether the session is still
//! signed in (its maximum age, a back-channel logout) is decided on every request from those
//! entries, as for a cookie opened anew; so is everything a handler reads or writes.
//!
//! Entries are keyed by a hash of the value, and each keeps the whole value, compared in full on
//! every lookup: two values with the same hash never share an entry's session. The hash is not
//! cryptographic (it is seeded per process): only values that opened, so whose seal was made with
//! the key, are ever kept, so no one can fill the cache with values of their choosing.
//!
//! The cache is set-associative (as `logto-client`'s verified-token cache): the hash picks one
//! set of [`WAYS`] slots, a full set replaces its oldest entry, each set has its own lock, and the
//! sets are made once, at the first insert. A value longer than
//! [`DecodedSessions::MAX_VALUE_BYTES`] is never kept, so the memory the cache can take is
//! bounded by its capacity.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::store::SessionState;

/// Slots a set has.
const WAYS: usize = 16;

/// One opened value.
struct Entry {
    hash: u64,
    /// The whole sealed value, as it came (the cookie's text as the browser sent it).
    sealed: Box<[u8]>,
    state: Arc<SessionState>,
}

/// One set: up to [`WAYS`] entries, replaced oldest first once all are taken.
#[derive(Default)]
struct Set {
    slots: [Option<Entry>; WAYS],
    /// The slot the next insert replaces when none is free (slots are taken in turn).
    next: usize,
}

/// A bounded cache of opened sessions, shared by every worker of an app: what opening a sealed
/// value (a session cookie, a session's value in Redis) gave, its entries, keyed by a hash of the
/// whole value, which each entry keeps and compares in full. Whether a session is still signed in
/// is not kept: it is decided on every request from the entries.
pub struct DecodedSessions {
    ways: usize,
    set_count: usize,
    /// Seeds the hash: other processes spread cookies over the sets differently.
    seed: u64,
    sets: OnceLock<Box<[Mutex<Set>]>>,
}

impl Default for DecodedSessions {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl DecodedSessions {
    /// Sessions kept by default: ~1.3 KB each for a typical session cookie (the value and its
    /// entries), ~1.4 MB when full; at most ~9 KB each for the largest value kept.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// Longest value kept, in bytes: browsers keep no cookie over 4096 bytes (name, value and
    /// attributes), so a longer one is not one the app wrote; a session's value in Redis is a
    /// cookie's state sealed the same way.
    pub const MAX_VALUE_BYTES: usize = 4096;

    /// A cache of at most `capacity` sessions; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        let ways = capacity.min(WAYS);
        Self {
            ways,
            set_count: capacity.checked_div(ways).unwrap_or(0),
            seed: rand::random(),
            sets: OnceLock::new(),
        }
    }

    /// The entries of the session whose sealed value is exactly `sealed` (a cookie's text), if it
    /// was opened before.
    pub fn get(&self, sealed: impl AsRef<[u8]>) -> Option<Arc<SessionState>> {
        let sealed = sealed.as_ref();
        self.get_hashed(self.hash(sealed), sealed)
    }

    fn get_hashed(&self, hash: u64, sealed: &[u8]) -> Option<Arc<SessionState>> {
        let set = self.set(self.sets.get()?, hash);
        set.slots[..self.ways]
            .iter()
            .flatten()
            .find(|entry| entry.hash == hash && *entry.sealed == *sealed)
            .map(|entry| entry.state.clone())
    }

    /// Keeps what the sealed value `sealed` opened to. Call it only with a value whose seal
    /// checked out, and with `state` as it was read from it.
    pub fn insert(&self, sealed: impl AsRef<[u8]>, state: SessionState) {
        let sealed = sealed.as_ref();
        if sealed.len() > Self::MAX_VALUE_BYTES {
            return;
        }
        self.insert_hashed(self.hash(sealed), sealed, state);
    }

    fn insert_hashed(&self, hash: u64, sealed: &[u8], state: SessionState) {
        if self.set_count == 0 {
            return;
        }
        let sets = self
            .sets
            .get_or_init(|| (0..self.set_count).map(|_| Mutex::default()).collect());
        let mut set = self.set(sets, hash);
        let ways = self.ways;
        let entry = Entry {
            hash,
            sealed: sealed.into(),
            state: Arc::new(state),
        };
        let slots = &mut set.slots[..ways];
        // The same value opened by two requests at once: one entry.
        if let Some(slot) = slots
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|e| e.hash == hash && *e.sealed == *sealed))
        {
            *slot = Some(entry);
            return;
        }
        if let Some(free) = slots.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(entry);
            return;
        }
        let next = set.next;
        set.slots[next] = Some(entry);
        set.next = (next + 1) % ways;
    }

    /// How many sessions are kept now.
    pub fn len(&self) -> usize {
        self.sets.get().map_or(0, |sets| {
            sets.iter()
                .map(|set| {
                    set.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .slots
                        .iter()
                        .flatten()
                        .count()
                })
                .sum()
        })
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set<'a>(&self, sets: &'a [Mutex<Set>], hash: u64) -> MutexGuard<'a, Set> {
        // A panic elsewhere while holding the lock leaves a set that is still consistent.
        sets[(hash % sets.len() as u64) as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A fast hash of the whole value, 8 bytes at a time (a seeded multiply-rotate, as FxHash):
    /// ~0.5 instructions a byte, where SipHash takes ~3.
    fn hash(&self, sealed: &[u8]) -> u64 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut hash = self.seed ^ sealed.len() as u64;
        let mut chunks = sealed.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            hash = (hash.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &byte in chunks.remainder() {
            hash = (hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(K);
        }
        // Mix the high bits (which the multiply fills best) into the low ones the set index uses.
        hash ^ (hash >> 32)
    }
}

/// Where a cookie is among a request's `Cookie` headers, read as sent (not percent-decoded, which
/// costs more than the cache's lookup): the value an adapter looks up in [`DecodedSessions`] must
/// be the very cookie its framework's jar would open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SentCookie {
    /// No cookie of that name.
    Absent,
    /// Exactly one: in the `header`-th `Cookie` header, its value (trimmed) at bytes `value`.
    One {
        /// Which `Cookie` header holds it (0 for the first).
        header: usize,
        /// The value's bytes in that header.
        value: Range<usize>,
    },
    /// Only the framework's own parsing can tell: the name more than once, a name that is
    /// percent-encoded (it may decode to this one), or a header the framework does not read.
    Unclear,
}

/// Finds the cookie `name` in `headers`, each `Cookie` header's text in order, or `None` for one
/// the framework's jar does not read (actix-web reads UTF-8, axum's `to_str` visible ASCII; each
/// adapter checks as its framework does), split as the `cookie` crate splits them for both: on
/// `;`, each part trimmed, `name=value` at the first `=`.
pub fn sent_cookie<'h>(headers: impl IntoIterator<Item = Option<&'h str>>, name: &str) -> SentCookie {
    let mut found = SentCookie::Absent;
    for (header, text) in headers.into_iter().enumerate() {
        let Some(text) = text else {
            return SentCookie::Unclear;
        };
        let mut offset = 0;
        for part in text.split(';') {
            let start = offset;
            offset += part.len() + 1;
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if key.contains('%') {
                return SentCookie::Unclear;
            }
            if key != name {
                continue;
            }
            if found != SentCookie::Absent {
                return SentCookie::Unclear;
            }
            let value_start = start + part.len() - value.len();
            let lead = value.len() - value.trim_start().len();
            let value = value_start + lead..value_start + lead + value.trim().len();
            found = SentCookie::One { header, value };
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(user: &str) -> SessionState {
        [("user".to_owned(), format!(r#"{{"sub":"{user}"}}"#))]
            .into_iter()
            .collect()
    }

    fn cookie(n: usize) -> String {
        format!("{n:08}{}", "Zm9vYmFy".repeat(70))
    }

    #[test]
    fn an_opened_cookie_is_found_again_and_no_other_value_finds_it() {
        let cache = DecodedSessions::new(64);
        let value = cookie(1);
        assert!(cache.get(&value).is_none());
        cache.insert(&value, state("a"));
        assert_eq!(cache.get(&value).as_deref(), Some(&state("a")));

        // Every byte changed, one at a time; the value cut or grown by one byte.
        for at in 0..value.len() {
            let mut changed = value.clone().into_bytes();
            changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
            let changed = String::from_utf8(changed).unwrap();
            assert!(
                cache.get(&changed).is_none(),
                "byte {at} changed still found the session"
            );
        }
        assert!(cache.get(&value[..value.len() - 1]).is_none());
        assert!(cache.get(format!("{value}x")).is_none());
        assert!(cache.get("").is_none());
    }

    #[test]
    fn two_values_with_the_same_hash_never_share_a_session() {
        let cache = DecodedSessions::new(64);
        cache.insert_hashed(7, b"first", state("a"));
        assert!(cache.get_hashed(7, b"second").is_none(), "same hash, another value");
        cache.insert_hashed(7, b"second", state("b"));
        assert_eq!(cache.get_hashed(7, b"first").as_deref(), Some(&state("a")));
        assert_eq!(cache.get_hashed(7, b"second").as_deref(), Some(&state("b")));
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity_nor_an_oversized_cookie() {
        let cache = DecodedSessions::new(64);
        for n in 0..10_000 {
            cache.insert(cookie(n), state("a"));
        }
        assert!(cache.len() <= 64, "{} kept", cache.len());
        assert!(cache.len() >= 32, "most slots used: {}", cache.len());
        // The newest are kept: a full set replaces its oldest.
        assert!(cache.get(cookie(9_999)).is_some());

        let oversized = "A".repeat(DecodedSessions::MAX_VALUE_BYTES + 1);
        cache.insert(&oversized, state("a"));
        assert!(cache.get(&oversized).is_none());

        let none = DecodedSessions::new(0);
        none.insert(cookie(1), state("a"));
        assert!(none.get(cookie(1)).is_none() && none.is_empty());
    }

    fn find(headers: &[&str], name: &str) -> SentCookie {
        sent_cookie(headers.iter().map(|h| Some(*h)), name)
    }

    #[test]
    fn a_sent_cookie_is_found_as_the_cookie_crate_splits_headers_and_anything_unclear_is_said() {
        let headers = ["a=1; logto-session= sealed+value ;b=2", "c=3"];
        let SentCookie::One { header, value } = find(&headers, "logto-session") else {
            panic!("one cookie");
        };
        assert_eq!((header, &headers[header][value]), (0, "sealed+value"));
        let SentCookie::One { header, value } = find(&headers, "c") else {
            panic!("in the second header");
        };
        assert_eq!((header, &headers[header][value]), (1, "3"));
        assert_eq!(find(&headers, "logto"), SentCookie::Absent, "names match whole");
        assert_eq!(
            find(&["x=1", "x=2"], "x"),
            SentCookie::Unclear,
            "twice, over two headers"
        );
        assert_eq!(find(&["x=1; x=2"], "x"), SentCookie::Unclear, "twice in one");
        assert_eq!(
            find(&["%78=1; y=2"], "y"),
            SentCookie::Unclear,
            "an encoded name may be any"
        );
        let unread = sent_cookie([Some("y=1"), None], "y");
        assert_eq!(unread, SentCookie::Unclear, "a header the framework does not read");
        assert_eq!(find(&[], "y"), SentCookie::Absent);
    }

    #[test]
    fn the_same_cookie_inserted_twice_takes_one_slot() {
        let cache = DecodedSessions::new(16);
        cache.insert(cookie(1), state("a"));
        cache.insert(cookie(1), state("a"));
        assert_eq!(cache.len(), 1);
    }
}
