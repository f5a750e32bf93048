//! What request data may do to a log: nothing. [`log_safe`] escapes control characters, so no
//! value from a request starts a new line; [`LogLimiter`] keeps a flood of refused requests to a
//! few lines: one line per kind of event per interval, carrying the count of those left out.
//! Counting every event (metrics) is not its business: count before asking it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `text` with every control character (line breaks of every kind included: `\n`, `\r`, NEL,
/// U+2028, U+2029) written as an escape, so it stays on one log line and cannot forge another.
pub fn log_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// At most one log line per kind of event per interval. Kinds must come from a fixed set (never
/// from request data), so the limiter's memory stays bounded.
#[derive(Debug)]
pub struct LogLimiter {
    interval: Duration,
    kinds: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug)]
struct Window {
    logged_at: Instant,
    suppressed: u64,
}

/// Whether to write a line for an event, from [`LogLimiter::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write it, and say that this many events of its kind were left out since the last line.
    Log {
        /// Events of this kind not logged since the previous line.
        suppressed: u64,
    },
    /// Leave it out: a line for its kind was written less than an interval ago.
    Suppress,
}

impl LogLimiter {
    /// A limiter letting one line per kind through per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an event of `kind` gets a line now.
    pub fn admit(&self, kind: &'static str) -> Admit {
        let mut kinds = self.kinds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match kinds.get_mut(kind) {
            Some(window) if now.duration_since(window.logged_at) < self.interval => {
                window.suppressed += 1;
                Admit::Suppress
            }
            Some(window) => {
                let suppressed = std::mem::take(&mut window.suppressed);
                window.logged_at = now;
                Admit::Log { suppressed }
            }
            None => {
                kinds.insert(
                    kind,
                    Window {
                        logged_at: now,
                        suppressed: 0,
                    },
                );
                Admit::Log { suppressed: 0 }
            }
        }
    }
}

/// The words appended to a line after `suppressed` events were left out.
pub fn suppressed_note(suppressed: u64, interval: Duration) -> String {
    match suppressed {
        0 => String::new(),
        n => format!(
            " ({n} more like it in the last {} s not logged)",
            interval.as_secs().max(1)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(log_safe("plain text"), "plain text");
        assert_eq!(log_safe("x\nforged-line"), "x\\nforged-line");
        assert_eq!(
            log_safe("a\r\u{85}\u{2028}\u{1b}[31m"),
            "a\\r\\u{85}\\u{2028}\\u{1b}[31m"
        );
    }

    #[test]
    fn one_line_per_kind_per_interval_with_the_count_left_out() {
        let limiter = LogLimiter::new(Duration::from_secs(60));
        assert_eq!(limiter.admit("a"), Admit::Log { suppressed: 0 });
        assert_eq!(limiter.admit("b"), Admit::Log { suppressed: 0 }, "another kind");
        for _ in 0..5 {
            assert_eq!(limiter.admit("a"), Admit::Suppress);
        }
        let limiter_now = LogLimiter::new(Duration::ZERO);
        assert_eq!(limiter_now.admit("a"), Admit::Log { suppressed: 0 });
        assert_eq!(limiter_now.admit("a"), Admit::Log { suppressed: 0 });
        // The count is handed over when the interval has passed.
        let mut kinds = limiter.kinds.lock().unwrap();
        kinds.get_mut("a").unwrap().logged_at -= Duration::from_secs(61);
        drop(kinds);
        assert_eq!(limiter.admit("a"), Admit::Log { suppressed: 5 });
    }
}
