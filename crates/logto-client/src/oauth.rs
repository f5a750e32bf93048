//! oauth2's client and token answer as Logto's endpoints use them: the answer carries the ID
//! token, and the client knows the authorization and token endpoints.

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{EndpointNotSet, EndpointSet, ExtraTokenFields, StandardRevocableToken, StandardTokenResponse};
use serde::{Deserialize, Serialize};

/// What the token endpoint's answer carries beyond the standard fields: the ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogtoTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}

impl ExtraTokenFields for LogtoTokenFields {}

/// The token endpoint's answer: the standard fields and [`LogtoTokenFields`].
pub(crate) type LogtoTokenResponse = StandardTokenResponse<LogtoTokenFields, BasicTokenType>;

/// The OAuth client: the authorization and token endpoints set, the others not.
pub(crate) type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    LogtoTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;
