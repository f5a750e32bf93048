//! Reading variables: each value parsed and checked, each problem recorded, none of them fatal,
//! so that one run reports them all.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use super::ConfigError;
use super::base_url;

/// Reads variables through a lookup and records every problem.
pub(super) struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    /// A reader of the variables `lookup` returns.
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            errors: Vec::new(),
        }
    }

    /// Every problem recorded, in the order found.
    pub(super) fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }

    /// Whether no problem has been recorded.
    pub(super) fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// A variable's value, trimmed; blank counts as unset (`.env` files often carry `NAME=`).
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Records a problem with `variable`; `None`, for the value that could not be read.
    pub(super) fn fail<T>(&mut self, variable: &'static str, problem: impl Into<String>) -> Option<T> {
        self.errors.push(ConfigError {
            variable,
            problem: problem.into(),
        });
        None
    }

    /// A variable that must be set; `how` tells where its value comes from.
    pub(super) fn required(&mut self, name: &'static str, how: &str) -> Option<String> {
        match self.get(name) {
            Some(value) => Some(value),
            None => self.fail(name, format!("is not set; {how}")),
        }
    }

    /// A value parsed as `T`, or `default` when unset.
    pub(super) fn parsed<T: FromStr>(&mut self, name: &'static str, default: T, expected: &str) -> Option<T> {
        match self.get(name) {
            None => Some(default),
            Some(raw) => match raw.parse() {
                Ok(value) => Some(value),
                Err(_) => self.fail(name, format!("`{}` is not {expected}", raw.escape_debug())),
            },
        }
    }

    /// A number of seconds within `range`, or `default` when unset.
    pub(super) fn seconds(
        &mut self,
        name: &'static str,
        default: Duration,
        range: RangeInclusive<u64>,
    ) -> Option<Duration> {
        match self.get(name) {
            None => Some(default),
            Some(raw) => match raw.parse::<u64>() {
                Ok(secs) if range.contains(&secs) => Some(Duration::from_secs(secs)),
                _ => self.fail(
                    name,
                    format!(
                        "`{}` is not a number of seconds from {} to {}; leave it unset for {}",
                        raw.escape_debug(),
                        range.start(),
                        range.end(),
                        default.as_secs()
                    ),
                ),
            },
        }
    }

    /// An http(s) URL as [`base_url::parse`] accepts it; `example` shows a good value.
    pub(super) fn base_url(&mut self, name: &'static str, raw: &str, example: &str) -> Option<Url> {
        match base_url::parse(raw) {
            Ok(url) => Some(url),
            Err(why) => self.fail(name, format!("{why}; e.g. {example}")),
        }
    }
}

/// Whether `raw` is an absolute URI, as API resource indicators are.
pub(super) fn is_absolute_uri(raw: &str) -> bool {
    Url::parse(raw).is_ok()
}

/// The problem with a resource indicator that is not an absolute URI.
pub(super) fn not_an_absolute_uri(raw: &str) -> String {
    format!(
        "`{}` is not an absolute URI; use the API identifier from the Logto Console, e.g. https://api.example.com",
        raw.escape_debug()
    )
}

/// Words separated by spaces. For scopes, commas separate too (`a,b` is a common slip).
pub(super) fn split_scopes(raw: &str) -> Vec<String> {
    split_words(&raw.replace(',', " "))
}

/// Words separated by spaces.
pub(super) fn split_words(raw: &str) -> Vec<String> {
    raw.split_whitespace().map(str::to_owned).collect()
}

/// The items in their first order, each once.
pub(super) fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}
