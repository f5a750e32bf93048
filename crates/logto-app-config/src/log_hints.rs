//! Hints for the operator, added to the logged line of a failure (never to the page): which of
//! the app's variables is most likely at fault. The library names the URL it tried and Logto's
//! own `error_description`; only the app knows its variables.

use logto_client::{CallbackError, Endpoint, LogtoError};
use logto_web::AuthError;

/// The hint for a failure, if one helps.
pub fn hint(error: &AuthError) -> Option<String> {
    match error {
        // Both values come from the request (a forged callback carries anything): the hint says
        // what to check if it came from Logto.
        AuthError::Callback(CallbackError::Denied { error, .. }) => denied(error),
        AuthError::Logto(e) | AuthError::LogoutToken(e) => logto(e),
        _ => None,
    }
    .map(str::to_owned)
}

fn denied(error: &str) -> Option<&'static str> {
    match error {
        "invalid_target" => Some(
            "a resource of LOGTO_RESOURCES is not an API resource registered in Logto; its indicator must match \
             exactly, trailing `/` included",
        ),
        "invalid_scope" => Some("check LOGTO_SCOPES: Logto does not know one of the scopes"),
        "invalid_client" | "unauthorized_client" => {
            Some("check LOGTO_APP_ID: it must be the App ID of a Traditional web application in Logto")
        }
        "invalid_request" | "invalid_redirect_uri" => {
            Some("check that {APP_BASE_URL}/callback is registered as a redirect URI of the application in Logto")
        }
        _ => None,
    }
}

fn logto(error: &LogtoError) -> Option<&'static str> {
    match error {
        LogtoError::Rejected { code, .. } if code == "invalid_client" => Some(
            "Logto did not accept the app's credentials: check LOGTO_APP_ID and LOGTO_APP_SECRET (App ID and App \
             secret of the application in Logto's console)",
        ),
        LogtoError::Rejected { code, .. } if code == "invalid_target" => Some(
            "check LOGTO_RESOURCES: each must be an API resource registered in Logto, spelled exactly (trailing `/` \
             included)",
        ),
        LogtoError::Rejected { code, .. } if code == "invalid_scope" => {
            Some("check LOGTO_SCOPES: Logto does not grant one of the scopes")
        }
        LogtoError::Unreachable {
            endpoint: Endpoint::Discovery,
            ..
        } => Some(
            "check LOGTO_ENDPOINT (Logto's endpoint, e.g. https://abc123.logto.app, without /oidc) and that its host \
             is reachable from this machine",
        ),
        LogtoError::HttpStatus {
            endpoint: Endpoint::Discovery,
            ..
        }
        | LogtoError::InvalidResponse {
            endpoint: Endpoint::Discovery,
            ..
        } => Some(
            "check LOGTO_ENDPOINT: it must be Logto's endpoint (e.g. https://abc123.logto.app), whose \
             /oidc/.well-known/openid-configuration is Logto's discovery document",
        ),
        LogtoError::Unreachable { .. } => Some("Logto's host is not reachable from this machine (DNS, network, TLS)"),
        _ => None,
    }
}
