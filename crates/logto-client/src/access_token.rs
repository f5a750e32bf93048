//! Access tokens presented to an API (a resource server): JWTs that Logto issues for an API
//! resource or an organization (RFC 9068), verified against Logto's keys, with the scopes they
//! grant.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::audience::ORGANIZATION_AUDIENCE_PREFIX;
use crate::client::LogtoClient;
use crate::error::{LogtoError, TokenError, TokenKind};
use crate::jwt::{self, CLOCK_LEEWAY_SECS, Jwk, TokenHeader};
use crate::signed_claims::SignedClaims;
use crate::telemetry::{self, SignatureSource};
use crate::verified_cache;

/// Which organization tokens a route accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrganizationRequirement<'a> {
    /// None: only tokens for the resource itself, outside any organization. An organization's
    /// scopes come from the user's organization roles, not from their roles for the API.
    #[default]
    NotAccepted,
    /// A token for any organization (the handler checks which, by
    /// [`VerifiedAccessToken::organization_id`]).
    Any,
    /// A token for this organization only.
    Id(&'a str),
    /// Either: a token for the resource outside any organization, or one for the resource within
    /// any organization (the handler tells them apart by [`VerifiedAccessToken::organization_id`]).
    /// An organization token (audience `urn:logto:organization:<id>`) is refused: it was issued for
    /// the organization, with the organization's permissions, not for this resource.
    AnyOrNone,
}

/// What an access token must be for, and grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenRequirements<'a> {
    /// The API resource indicator (the `aud` of the token), as created in Logto's console.
    pub resource: &'a str,
    /// Scopes the token must carry, every one of them.
    pub scopes: &'a [&'a str],
    /// Whether (and which) organization tokens are accepted.
    pub organization: OrganizationRequirement<'a>,
}

impl<'a> AccessTokenRequirements<'a> {
    /// A token for `resource` carrying `scopes`, outside any organization.
    pub fn new(resource: &'a str, scopes: &'a [&'a str]) -> Self {
        AccessTokenRequirements {
            resource,
            scopes,
            organization: OrganizationRequirement::NotAccepted,
        }
    }
}

/// What a verified access token says: who, through which app, may do what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifiedAccessToken {
    /// The user (or, for a machine-to-machine token, the app) the token was issued to.
    pub sub: String,
    /// The app that obtained the token.
    pub client_id: String,
    /// The scopes granted, in the token's order.
    pub scopes: Vec<String>,
    /// The organization, for an organization token.
    pub organization_id: Option<String>,
    /// The token's audiences.
    pub audience: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// Issue time, seconds since the epoch.
    pub issued_at: u64,
    /// Every claim not read into the fields above (`iss` and `jti` are left out too): a
    /// tenant's custom JWT claims among them. Read them as a type of the app's with
    /// [`VerifiedAccessToken::custom`]. Bounded with the whole token ([`LogtoClient::MAX_CLAIMS_BYTES`](crate::LogtoClient::MAX_CLAIMS_BYTES)).
    #[serde(default)]
    pub extra_claims: Map<String, Value>,
}

impl VerifiedAccessToken {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }

    /// The token's other claims ([`VerifiedAccessToken::extra_claims`], e.g. a tenant's custom
    /// JWT claims) read as `T`, a struct of the claims the API expects.
    pub fn custom<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(self.extra_claims.clone()))
    }

    /// The scopes of `required` that the token does not grant.
    pub fn missing_scopes(&self, required: &[&str]) -> Vec<String> {
        required
            .iter()
            .filter(|scope| !self.has_scope(scope))
            .map(|scope| (*scope).to_owned())
            .collect()
    }
}

/// The bearer token of an `Authorization` header value (RFC 6750 2.1: the scheme is
/// case-insensitive, the token is `b64token` characters). `None` when the header is of another
/// scheme or the token is empty or holds other characters.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_matches(' ');
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    (!token.is_empty() && token.chars().all(b64token)).then_some(token)
}

/// Checks the signature with `key`, the header's `typ`, the issuer and that the claims are there
/// and well formed. The times, audience and scopes are left to [`check`].
pub(crate) fn verify_signature(
    token: &str,
    header: &TokenHeader,
    key: &Jwk,
    issuer: &str,
) -> Result<SignedClaims, TokenError> {
    // RFC 9068 2.1: `at+jwt` (or its long form); an ID or logout token carries another or none.
    if let Some(typ) = &header.typ
        && !typ.eq_ignore_ascii_case("at+jwt")
        && !typ.eq_ignore_ascii_case("application/at+jwt")
    {
        return Err(TokenError::WrongType);
    }
    let claims = jwt::verify_signature(token, header, key)?;
    // Audience and times are checked by `check`: the audience has two shapes, and the clock is
    // the client's (tests move it) and read on every request.
    jwt::check_issuer(&claims, issuer, &["exp", "iat", "iss", "aud", "sub", "client_id"])?;
    SignedClaims::read(claims)
}

/// The checks that do not depend on the signature, run on every request: `exp`, `nbf` and `iat`
/// against `now`, the audience and organization against what the route accepts, and every
/// required scope.
pub(crate) fn check(
    claims: &SignedClaims,
    required: &AccessTokenRequirements<'_>,
    now: u64,
) -> Result<VerifiedAccessToken, TokenError> {
    if claims.exp + CLOCK_LEEWAY_SECS < now {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now + CLOCK_LEEWAY_SECS) {
        return Err(TokenError::NotYetValid);
    }
    if claims.iat > now + CLOCK_LEEWAY_SECS {
        return Err(TokenError::UnlikelyIssueTime);
    }
    let organization_id = organization(&claims.audience, claims.organization_id.clone(), required)?;
    let scopes: Vec<String> = claims.scope.split_whitespace().map(str::to_owned).collect();
    let verified = VerifiedAccessToken {
        sub: claims.sub.clone(),
        client_id: claims.client_id.clone(),
        scopes,
        organization_id,
        audience: claims.audience.clone(),
        expires_at: claims.exp,
        issued_at: claims.iat,
        extra_claims: claims.extra.clone(),
    };
    let missing = verified.missing_scopes(required.scopes);
    if !missing.is_empty() {
        return Err(TokenError::InsufficientScope(missing));
    }
    Ok(verified)
}

/// Checks `aud` and `organization_id` against what the route accepts; returns the organization.
///
/// Logto issues two shapes: a token for the resource (`aud` the resource indicator, with
/// `organization_id` when it is for the resource within an organization), and an organization
/// token (`aud` `urn:logto:organization:<id>`).
fn organization(
    audience: &[String],
    claimed: Option<String>,
    required: &AccessTokenRequirements<'_>,
) -> Result<Option<String>, TokenError> {
    let organization = if audience.iter().any(|aud| aud == required.resource) {
        claimed
    } else if required.organization == OrganizationRequirement::AnyOrNone {
        // An API taking its own tokens, within an organization or not, never takes a token issued
        // for another audience (RFC 9068): an organization permission may share a name with one
        // of the API's.
        return Err(TokenError::WrongAudience);
    } else {
        let from_aud = audience
            .iter()
            .find_map(|aud| aud.strip_prefix(ORGANIZATION_AUDIENCE_PREFIX))
            .filter(|id| !id.is_empty())
            .ok_or(TokenError::WrongAudience)?;
        if claimed.as_deref().is_some_and(|claimed| claimed != from_aud) {
            return Err(TokenError::WrongOrganization);
        }
        Some(from_aud.to_owned())
    };
    match (required.organization, organization.as_deref()) {
        (OrganizationRequirement::NotAccepted, None) => Ok(None),
        (OrganizationRequirement::NotAccepted, Some(_)) => Err(TokenError::OrganizationNotAccepted),
        (OrganizationRequirement::AnyOrNone, _) => Ok(organization),
        (_, None) => Err(TokenError::MissingClaim("organization_id")),
        (OrganizationRequirement::Any, Some(_)) => Ok(organization),
        (OrganizationRequirement::Id(wanted), Some(id)) if wanted == id => Ok(organization),
        (OrganizationRequirement::Id(_), Some(_)) => Err(TokenError::WrongOrganization),
    }
}

impl LogtoClient {
    /// Verifies an access token presented to an API (a JWT, RFC 9068), for code outside any web
    /// framework: allowed algorithm and the key from the JWKS (the same cache as ID tokens),
    /// signature, `typ` `at+jwt` when present, `iss`, `aud` the required resource (or an
    /// organization, where `required` accepts one), `exp`, `nbf`, `iat`, `client_id`, `sub`,
    /// and every required scope. A token lacking a scope is refused with
    /// [`TokenError::InsufficientScope`] (see [`LogtoError::is_insufficient_scope`]).
    ///
    /// A token whose signature checked out is remembered (by its SHA-256, in a bounded cache, see
    /// [`LogtoClient::with_access_token_cache`]) until it expires or its key leaves Logto's key
    /// set, so the same token presented again skips the signature; every other check above runs
    /// on every call. A token with a bad signature is never remembered.
    pub async fn verify_access_token(
        &self,
        token: &str,
        required: &AccessTokenRequirements<'_>,
    ) -> Result<VerifiedAccessToken, LogtoError> {
        let kind = TokenKind::AccessToken;
        let refused = |reason| LogtoError::invalid_token(kind, reason);
        let now = self.now();
        let hash = self.verified.enabled().then(|| verified_cache::token_hash(token));
        if let Some(hash) = &hash
            && let Some(claims) = self.verified.get(hash, now, |kid| self.jwks.trusts_key(kid))
        {
            telemetry::record_access_token_signature(SignatureSource::Cache);
            return check(&claims, required, now).map_err(refused);
        }
        let metadata = self.metadata().await?;
        let (header, key) = self.signing_key(&metadata, token, kind).await?;
        let signed = verify_signature(token, &header, &key, &self.issuer);
        telemetry::record_access_token_signature(SignatureSource::Checked);
        let claims = Arc::new(signed.map_err(refused)?);
        // A token without `kid` was checked against the set's only key: there is no name to
        // find that key by later, so it is not kept.
        if let (Some(hash), Some(_)) = (hash, &header.kid) {
            self.verified.insert(hash, key, claims.clone(), now);
        }
        check(&claims, required, now).map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_bearer_tokens_of_token_characters() {
        assert_eq!(bearer_token("Bearer abc.def-_~+/="), Some("abc.def-_~+/="));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
        assert_eq!(bearer_token("Bearer a\"b"), None);
    }

    fn requirements(organization: OrganizationRequirement<'static>) -> AccessTokenRequirements<'static> {
        AccessTokenRequirements {
            resource: "https://api.example.com",
            scopes: &[],
            organization,
        }
    }

    #[test]
    fn organization_tokens_pass_only_where_an_organization_is_asked_for() {
        let resource = vec!["https://api.example.com".to_owned()];
        let org = vec!["urn:logto:organization:org-a".to_owned()];
        let other = vec!["https://other.example.com".to_owned()];
        let none = requirements(OrganizationRequirement::NotAccepted);
        let any = requirements(OrganizationRequirement::Any);
        let org_a = requirements(OrganizationRequirement::Id("org-a"));
        let org_b = requirements(OrganizationRequirement::Id("org-b"));

        assert_eq!(organization(&resource, None, &none), Ok(None));
        assert_eq!(organization(&other, None, &none), Err(TokenError::WrongAudience));
        assert_eq!(
            organization(&org, None, &none),
            Err(TokenError::OrganizationNotAccepted)
        );
        assert_eq!(
            organization(&resource, Some("org-a".into()), &none),
            Err(TokenError::OrganizationNotAccepted)
        );
        assert_eq!(organization(&org, None, &any), Ok(Some("org-a".into())));
        assert_eq!(organization(&org, None, &org_a), Ok(Some("org-a".into())));
        assert_eq!(organization(&org, None, &org_b), Err(TokenError::WrongOrganization));
        assert_eq!(
            organization(&org, Some("org-b".into()), &any),
            Err(TokenError::WrongOrganization)
        );
        assert_eq!(
            organization(&resource, Some("org-a".into()), &org_a),
            Ok(Some("org-a".into()))
        );
        assert_eq!(
            organization(&resource, None, &any),
            Err(TokenError::MissingClaim("organization_id"))
        );
        let either = requirements(OrganizationRequirement::AnyOrNone);
        assert_eq!(organization(&resource, None, &either), Ok(None));
        assert_eq!(
            organization(&org, None, &either),
            Err(TokenError::WrongAudience),
            "an organization token is not for the resource"
        );
        assert_eq!(
            organization(&resource, Some("org-a".into()), &either),
            Ok(Some("org-a".into()))
        );
        assert_eq!(organization(&other, None, &either), Err(TokenError::WrongAudience));
    }
}
