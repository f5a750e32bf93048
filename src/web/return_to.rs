//! `return_to`: where to go after sign-in. Only paths of this site are kept; anything
//! that could leave the site (`//evil`, `/\evil`, `https:`, `javascript:`) becomes `/`.

use url::Url;

/// Longest `return_to` kept.
const MAX_LEN: usize = 2048;

/// The same-site path to return to, or `/`.
pub fn safe_return_to(raw: Option<&str>) -> String {
    raw.and_then(same_site_path).unwrap_or_else(|| "/".to_owned())
}

fn same_site_path(raw: &str) -> Option<String> {
    if raw.len() > MAX_LEN || !raw.starts_with('/') || raw.starts_with("//") {
        return None;
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
    if let Some(query) = resolved.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
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
}
