//! OpenID Provider metadata, as discovery gives it, checked against the expected issuer (the
//! client fetches it on first use and keeps it: [`LogtoClient::metadata`](crate::LogtoClient::metadata)).

use serde::Deserialize;

/// The parts of Logto's discovery document this client uses.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// Must equal `{endpoint}/oidc`.
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Code exchange, refresh.
    pub token_endpoint: String,
    /// Userinfo (`/oidc/me`).
    pub userinfo_endpoint: String,
    /// Signing keys of ID tokens.
    pub jwks_uri: String,
    /// RP-initiated logout.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    /// Token revocation (RFC 7009).
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// Algorithms Logto may sign ID tokens with.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: whether callbacks always carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl ProviderMetadata {
    /// Parses a discovery document and checks that it describes `expected_issuer` and that its
    /// endpoints are absolute http(s) URLs. The error says what is wrong, for the operator.
    pub(crate) fn parse(body: &[u8], expected_issuer: &str) -> Result<Self, String> {
        let metadata: ProviderMetadata =
            serde_json::from_slice(body).map_err(|e| format!("not a discovery document: {e}"))?;
        // Exactly: the issuer is compared as a string everywhere else (`iss` of tokens and
        // callbacks), so a discovery document that spells it otherwise is not Logto's.
        if metadata.issuer != expected_issuer {
            return Err(format!(
                "the issuer is `{}`, expected `{expected_issuer}`",
                metadata.issuer.escape_debug()
            ));
        }
        let mut endpoints = vec![
            &metadata.authorization_endpoint,
            &metadata.token_endpoint,
            &metadata.userinfo_endpoint,
            &metadata.jwks_uri,
        ];
        endpoints.extend(metadata.end_session_endpoint.as_ref());
        endpoints.extend(metadata.revocation_endpoint.as_ref());
        for endpoint in endpoints {
            match url::Url::parse(endpoint) {
                Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {}
                _ => return Err(format!("endpoint `{}` is not an http(s) URL", endpoint.escape_debug())),
            }
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"issuer":"https://t.logto.app/oidc","authorization_endpoint":"https://t.logto.app/oidc/auth",
        "token_endpoint":"https://t.logto.app/oidc/token","userinfo_endpoint":"https://t.logto.app/oidc/me",
        "jwks_uri":"https://t.logto.app/oidc/jwks"}"#;

    #[test]
    fn accepts_the_expected_issuer_only() {
        assert!(ProviderMetadata::parse(DOC.as_bytes(), "https://t.logto.app/oidc").is_ok());
        let err = ProviderMetadata::parse(DOC.as_bytes(), "https://other.logto.app/oidc").unwrap_err();
        assert!(err.contains("expected `https://other.logto.app/oidc`"), "{err}");
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        let doc = DOC.replace("\"https://t.logto.app/oidc\"", "\"https://t.logto.app/oidc/\"");
        assert!(doc.contains("oidc/\""));
        let err = ProviderMetadata::parse(doc.as_bytes(), "https://t.logto.app/oidc").unwrap_err();
        assert!(err.contains("the issuer is"), "{err}");
    }

    #[test]
    fn refuses_non_http_endpoints() {
        let doc = DOC.replace("https://t.logto.app/oidc/token", "javascript:alert(1)");
        assert!(ProviderMetadata::parse(doc.as_bytes(), "https://t.logto.app/oidc").is_err());
    }
}
