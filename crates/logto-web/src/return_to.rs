//! `return_to`: where to go after sign-in. Only paths of this site are kept; anything
//! that could leave the site (`//evil`, `/\evil`, `https:`, `javascript:`) becomes `/`.

use url::Url;

/// Longest `return_to` kept.
const MAX_LEN: usize = 2048;

/// The same-site path to return to, or `/`.
pub fn safe_return_to(raw: Option<&str>) -> String {
    raw.and_then(same_site_path).unwrap_or_else(|| "/".to_owned())
}

/// The first value of a parameter in a query string or form body.
pub fn first_param(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn same_site_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_LEN || !raw.starts_with('/') || raw.starts_with("//") {
        return None;
    }
    // Most pages ask for their own plain path (`/`, `/profile`). Letters, digits, `/`, `-` and
    // `_` hold no dot segment, escape, query or backslash, so resolving them below would give
    // them back unchanged: skip the URL parser, which is most of this function's cost.
    if is_plain_path(raw) {
        return Some(raw.to_owned());
    }
    // Browsers read `\` as `/` and drop tabs and newlines, so `/\evil` or `/\t/evil` would leave the site.
    if raw.chars().any(|c| c == '\\' || c.is_control()) {
        return None;
    }
    // Encoded slashes and backslashes right after the first slash invite a double decode elsewhere.
    let lower = raw.to_ascii_lowercase();
    if lower.starts_with("/%2f") || lower.starts_with("/%5c") {
        return None;
    }
    // Resolve against a placeholder origin: whatever leaves it is refused, and what stays is normalised.
    let base = Url::parse("http://app.invalid/").ok()?;
    let resolved = base.join(raw).ok()?;
    if resolved.origin() != base.origin() {
        return None;
    }
    let mut path = resolved.path().to_owned();
    // Dot segments can collapse into a leading `//` (`/.//evil` becomes `//evil`), which a
    // browser reads as another host: check the normalised path, not only the raw one.
    if path.starts_with("//") {
        return None;
    }
    if let Some(query) = resolved.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

fn is_plain_path(raw: &str) -> bool {
    raw.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_same_site_paths() {
        assert_eq!(safe_return_to(Some("/profile")), "/profile");
        assert_eq!(safe_return_to(Some("/profile?tab=hf")), "/profile?tab=hf");
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn refuses_everything_that_leaves_the_site() {
        for evil in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "/\t/evil.example",
            "http:evil.example",
            "evil",
            "",
        ] {
            assert_eq!(safe_return_to(Some(evil)), "/", "{evil:?} must fall back to /");
        }
    }

    #[test]
    fn refuses_encoded_and_disguised_ways_off_the_site() {
        for evil in [
            "%2F%2Fevil.example",
            "%2f%2fevil.example",
            "/%2f%2fevil.example",
            "/%5c%5cevil.example",
            "https:%2F%2Fevil.example",
            "%68ttps://evil.example",
            "JaVaScRiPt:alert(1)",
            "javascript%3Aalert(1)",
            " //evil.example",
            "/\n/evil.example",
            "/\r\n//evil.example",
            "/\u{0}//evil.example",
        ] {
            assert_eq!(safe_return_to(Some(evil)), "/", "{evil:?} must fall back to /");
        }
    }

    #[test]
    fn dot_segments_cannot_turn_a_path_into_another_host() {
        // Normalising `/.//evil` gives `//evil`: a protocol-relative URL to another site.
        for evil in [
            "/.//evil.example",
            "/..//evil.example",
            "/a/..//evil.example",
            "/%2e//evil.example",
        ] {
            let kept = safe_return_to(Some(evil));
            assert!(!kept.starts_with("//"), "{evil:?} became {kept:?}");
        }
    }

    /// The URL parser's answer, without the shortcut for plain paths.
    fn resolved(raw: &str) -> String {
        let base = Url::parse("http://app.invalid/").unwrap();
        let resolved = base.join(raw).unwrap();
        let mut path = resolved.path().to_owned();
        if let Some(query) = resolved.query() {
            path.push('?');
            path.push_str(query);
        }
        path
    }

    #[test]
    fn plain_paths_come_back_as_the_url_parser_gives_them() {
        for plain in ["/", "/profile", "/a/b-c_d/", "/a//b", "/Z9"] {
            assert!(is_plain_path(plain));
            assert_eq!(safe_return_to(Some(plain)), resolved(plain), "{plain:?}");
        }
        for other in ["/./a", "/%2e", "/a?b", "/a#b", "/a b", "/\\a", "/é"] {
            assert!(!is_plain_path(other), "{other:?}");
        }
    }

    /// What every returned value must satisfy, whatever came in.
    fn assert_stays_on_the_site(raw: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let kept = safe_return_to(Some(raw));
        prop_assert!(kept.starts_with('/'), "{raw:?} -> {kept:?}");
        prop_assert!(
            !kept.starts_with("//") && !kept.starts_with("/\\"),
            "{raw:?} -> {kept:?}"
        );
        // Browsers read `\` as `/` and drop tabs and newlines: none may reach the Location header.
        prop_assert!(
            !kept.chars().any(|c| c == '\\' || c.is_control()),
            "{raw:?} -> {kept:?}"
        );
        let site = Url::parse("https://app.example/").unwrap();
        let target = site.join(&kept).unwrap();
        prop_assert_eq!(target.origin(), site.origin(), "{:?} -> {:?}", raw, kept);
        Ok(())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_input_gives_a_path_of_this_site(raw in any::<String>()) {
            assert_stays_on_the_site(&raw)?;
        }

        #[test]
        fn the_plain_path_shortcut_agrees_with_the_url_parser(raw in "/[A-Za-z0-9/_-]{0,40}") {
            prop_assume!(!raw.starts_with("//"));
            prop_assert_eq!(safe_return_to(Some(&raw)), resolved(&raw));
        }

        #[test]
        fn pieces_of_paths_urls_and_escapes_give_a_path_of_this_site(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "/", "//", "/.", "/..", "\\", ".", "..", "%2e", "%2f", "%2F", "%5c", "%09", "\t", "\n", ":", "@", "?", "#",
                    "https:", "javascript:", "evil.example", "profile", " ",
                ]),
                0..8,
            )
        ) {
            assert_stays_on_the_site(&pieces.concat())?;
        }
    }
}
