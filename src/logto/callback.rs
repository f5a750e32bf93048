//! The authorization response (the query of `GET /callback`), parsed strictly.

use super::error::CallbackError;

/// Longest query a genuine callback has; anything larger is refused unread.
pub const MAX_CALLBACK_QUERY: usize = 8 * 1024;

/// The parameters of an authorization response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CallbackParams {
    /// The authorization code.
    pub code: Option<String>,
    /// The state this client sent.
    pub state: Option<String>,
    /// The issuer that answered (RFC 9207).
    pub iss: Option<String>,
    /// An OAuth error code, e.g. `access_denied`.
    pub error: Option<String>,
    /// A human-readable description of `error`.
    pub error_description: Option<String>,
}

impl CallbackParams {
    /// Parses a raw query string. Repeated known parameters are refused: a genuine
    /// response never repeats one, and picking either copy could be exploited.
    pub fn parse(query: &str) -> Result<Self, CallbackError> {
        if query.len() > MAX_CALLBACK_QUERY {
            return Err(CallbackError::TooLarge);
        }
        let mut params = CallbackParams::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut params.code,
                "state" => &mut params.state,
                "iss" => &mut params.iss,
                "error" => &mut params.error,
                "error_description" => &mut params.error_description,
                _ => continue,
            };
            if slot.is_some() {
                return Err(CallbackError::Malformed("a parameter is repeated"));
            }
            *slot = Some(value.into_owned());
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_known_parameters() {
        let p = CallbackParams::parse("code=abc&state=xyz&iss=https%3A%2F%2Ft%2Foidc&extra=1").unwrap();
        assert_eq!(p.code.as_deref(), Some("abc"));
        assert_eq!(p.state.as_deref(), Some("xyz"));
        assert_eq!(p.iss.as_deref(), Some("https://t/oidc"));
    }

    #[test]
    fn refuses_repeats_and_huge_queries() {
        assert_eq!(
            CallbackParams::parse("state=a&state=b"),
            Err(CallbackError::Malformed("a parameter is repeated"))
        );
        let huge = format!("code={}", "a".repeat(MAX_CALLBACK_QUERY));
        assert_eq!(CallbackParams::parse(&huge), Err(CallbackError::TooLarge));
    }
}
