//! The authorization response (the query of `GET /callback`), parsed strictly.

use crate::error::CallbackError;

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
                return Err(CallbackError::RepeatedParameter);
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
            Err(CallbackError::RepeatedParameter)
        );
        let huge = format!("code={}", "a".repeat(MAX_CALLBACK_QUERY));
        assert_eq!(CallbackParams::parse(&huge), Err(CallbackError::TooLarge));
    }

    #[test]
    fn malformed_encoding_is_read_without_failing() {
        // Invalid percent-escapes and bytes that are not UTF-8 are kept or replaced, never a panic.
        let p = CallbackParams::parse("code=%ZZ%&state=%FF%FE&iss=%").unwrap();
        assert_eq!(p.code.as_deref(), Some("%ZZ%"));
        assert_eq!(p.state.as_deref(), Some("\u{FFFD}\u{FFFD}"));
        assert!(CallbackParams::parse("&&==&=&code").is_ok());
    }

    use proptest::prelude::*;

    fn encode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_query_is_parsed_or_refused_without_panic(query in any::<String>()) {
            let _ = CallbackParams::parse(&query);
        }

        #[test]
        fn query_shaped_input_is_parsed_or_refused_without_panic(
            query in "((code|state|iss|error|error_description|x)(=[a-zA-Z0-9%+&=._~-]{0,12})?&?){0,8}"
        ) {
            let _ = CallbackParams::parse(&query);
        }

        #[test]
        fn what_logto_sends_is_read_back_exactly(
            code in any::<String>(),
            state in any::<String>(),
            iss in proptest::option::of(any::<String>()),
        ) {
            let mut query = format!("code={}&state={}", encode(&code), encode(&state));
            if let Some(iss) = &iss {
                query.push_str(&format!("&iss={}", encode(iss)));
            }
            prop_assume!(query.len() <= MAX_CALLBACK_QUERY);
            let params = CallbackParams::parse(&query).unwrap();
            prop_assert_eq!(params.code, Some(code));
            prop_assert_eq!(params.state, Some(state));
            prop_assert_eq!(params.iss, iss);
        }

        #[test]
        fn a_repeated_parameter_is_always_refused(name in "(code|state|iss|error|error_description)", a in ".{0,8}", b in ".{0,8}") {
            let query = format!("{name}={}&{name}={}", encode(&a), encode(&b));
            prop_assert_eq!(CallbackParams::parse(&query), Err(CallbackError::RepeatedParameter));
        }
    }
}
