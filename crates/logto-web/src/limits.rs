//! The limits every part of sign-in agrees on, in one place.

use std::time::Duration;

pub use crate::error::FAILURE_LOG_INTERVAL;

/// How long a session lasts from sign-in, unless configured otherwise: 14 days, the lifetime of
/// Logto's refresh tokens.
pub const DEFAULT_SESSION_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// How old what the session holds of the user may get before it is read from userinfo again,
/// unless configured otherwise.
pub const DEFAULT_USERINFO_MAX_AGE: Duration = Duration::from_secs(60);

/// Largest serialized session state. Encryption and base64 make a cookie about 1.39× larger;
/// browsers drop cookies over 4096 bytes, so the plain state must stay near 2.9 KB.
pub const SESSION_BUDGET: usize = 2800;

/// Largest ID token kept in the ID token cookie (sign-out's `id_token_hint`). Encrypted and
/// base64-encoded it is about 1.34× larger plus 40 bytes, so the cookie stays under the
/// browsers' 4096 bytes; a larger one is not kept, and sign-out goes without the hint.
pub const ID_TOKEN_COOKIE_BUDGET: usize = 2900;
