//! Secrets and protocol values as types. Each one hides its value from `Debug`, has no
//! `Display`, and gives it up only through `secret()`, so a token cannot reach a log line or a
//! page by accident. They serialize as plain strings, for sessions that keep them. None has
//! `PartialEq`: `==` on strings stops at the first differing byte, which tells an attacker how
//! much of a guess was right; they compare only through `matches`, in constant time.

use serde::{Deserialize, Serialize};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value itself, for the one place that must send it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// Whether `other` holds the same value, compared in constant time.
            pub fn matches(&self, other: &Self) -> bool {
                constant_time_eq(&self.0, &other.0)
            }

            /// Whether `other` is this value as text (e.g. from a query string), compared in
            /// constant time.
            pub fn matches_str(&self, other: &str) -> bool {
                constant_time_eq(&self.0, other)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// The app secret of a Logto application.
    ClientSecret
);
secret_type!(
    /// The PKCE code verifier of one sign-in.
    PkceVerifier
);
secret_type!(
    /// The `nonce` of one sign-in, which its ID token must carry.
    Nonce
);
secret_type!(
    /// The `state` of one sign-in, which its callback must carry.
    State
);
secret_type!(
    /// An access token, opaque (for userinfo) or a JWT (for an API resource or organization).
    AccessToken
);
secret_type!(
    /// A refresh token.
    RefreshToken
);
secret_type!(
    /// A signed ID token, as Logto sent it.
    IdToken
);

/// Compares two strings without leaking their common prefix through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value_and_serde_keeps_it() {
        let token = RefreshToken::new("rt-very-secret");
        assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
        assert_eq!(serde_json::to_string(&token).unwrap(), "\"rt-very-secret\"");
        let back: RefreshToken = serde_json::from_str("\"rt-very-secret\"").unwrap();
        assert!(back.matches(&token));
        assert!(!back.matches(&RefreshToken::new("rt-very-secreT")));
        assert!(token.matches_str("rt-very-secret") && !token.matches_str("rt-very-secreT"));
    }
}
