//! Organizations as Logto users build with them: names and roles from userinfo, organization
//! tokens with the user's organization permissions, organization-scoped API resource tokens, and
//! membership changed at Logto after sign-in.

use logto_client::{
    AccessTokenRequirements, Audience, LogtoError, OrganizationMembership, OrganizationRequirement, OrganizationRole,
    RefreshToken, SignedIn,
};
use logto_test_provider::{ForgedIdToken, Login, ProviderOptions};
use serde_json::json;

use crate::support::Fixture;

const API: &str = "https://api.example.com";
const ORG_ROLES_SCOPE: &str = "urn:logto:scope:organization_roles";
const MEMBER: Login<'static> = Login::Password {
    username: "grace",
    password: "grace-password",
};

async fn fixture() -> Fixture {
    let options = ProviderOptions {
        resources: vec![(API.into(), vec!["read:items".into(), "write:items".into()])],
        organizations: vec![
            json!({
                "id": "org-acme", "name": "Acme", "description": "Rockets and more",
                "roles": {
                    "admin": {
                        "scopes": ["invite:member", "manage:billing"],
                        "resource_scopes": { API: ["read:items", "write:items"] },
                    },
                    "member": { "scopes": ["invite:member"], "resource_scopes": { API: ["read:items"] } },
                },
            }),
            json!({
                "id": "org-beta", "name": "Beta Labs",
                "roles": { "viewer": { "scopes": ["read:reports"] } },
            }),
        ],
        users: vec![json!({
            "sub": "user-grace", "username": "grace", "password": "grace-password", "name": "Grace",
            "organizations": ["org-acme", "org-beta"],
            "organization_roles": ["org-acme:admin", "org-beta:viewer"],
            // Her user roles give nothing on the API (her organization roles do).
            "permissions": { API: [] },
        })],
        ..Default::default()
    };
    Fixture::start_with(options, |config| {
        config.resources([API]).scopes([
            logto_client::protocol::ORGANIZATIONS_SCOPE,
            ORG_ROLES_SCOPE,
            "invite:member",
            "manage:billing",
            "read:reports",
            "read:items",
            "write:items",
        ])
    })
    .await
}

async fn signed_in(fixture: &Fixture) -> (SignedIn, RefreshToken) {
    let signed_in = fixture.sign_in_as(MEMBER).await.expect("signed in");
    let refresh_token = signed_in.refresh_token.clone().expect("a refresh token");
    (signed_in, refresh_token)
}

fn membership(id: &str, name: &str, description: Option<&str>, roles: &[&str]) -> OrganizationMembership {
    OrganizationMembership {
        id: id.into(),
        name: Some(name.into()),
        description: description.map(String::from),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

#[tokio::test]
async fn userinfo_names_each_organization_with_the_users_roles() {
    let fixture = fixture().await;
    let (params, pending) = fixture.authorize_as(MEMBER).await;
    // Organizations in the ID token too (a new Logto 1.37.1 tenant puts `roles`, `organizations`
    // and `organization_roles` there; the test provider leaves them out unless asked).
    fixture
        .provider
        .forge_next_id_token(&ForgedIdToken::with_claims(json!({
            "organizations": ["org-acme", "org-beta"],
            "organization_roles": ["org-acme:admin", "org-beta:viewer"],
        })))
        .await;
    let signed_in = fixture.client.finish_sign_in(&params, &pending).await.unwrap();
    assert_eq!(signed_in.id_token.organizations, ["org-acme", "org-beta"]);
    assert_eq!(
        signed_in.id_token.organization_roles(),
        [
            OrganizationRole::parse("org-acme:admin").unwrap(),
            OrganizationRole::parse("org-beta:viewer").unwrap()
        ]
    );
    assert_eq!(
        signed_in.userinfo.organization_memberships(),
        vec![
            membership("org-acme", "Acme", Some("Rockets and more"), &["admin"]),
            membership("org-beta", "Beta Labs", None, &["viewer"]),
        ]
    );
    assert_eq!(signed_in.userinfo.organization_roles().len(), 2);
}

#[tokio::test]
async fn organization_tokens_carry_the_users_organization_permissions() {
    let fixture = fixture().await;
    let (_, refresh_token) = signed_in(&fixture).await;
    for (org, scopes) in [
        ("org-acme", vec!["invite:member", "manage:billing"]),
        ("org-beta", vec!["read:reports"]),
    ] {
        let refreshed = fixture
            .client
            .refresh(&refresh_token, &Audience::Organization(org.into()), "user-grace")
            .await
            .unwrap_or_else(|e| panic!("{org}: {e}"));
        let required = AccessTokenRequirements {
            resource: API,
            scopes: &[],
            organization: OrganizationRequirement::Id(org),
        };
        let verified = fixture
            .client
            .verify_access_token(refreshed.access_token.token.secret(), &required)
            .await
            .unwrap_or_else(|e| panic!("{org}: {e}"));
        assert_eq!(verified.audience, [format!("urn:logto:organization:{org}")]);
        assert_eq!(verified.scopes, scopes, "{org}");
        assert_eq!(verified.organization_id.as_deref(), Some(org));
    }
}

#[tokio::test]
async fn an_organization_scoped_resource_token_is_for_the_resource_within_the_organization() {
    let fixture = fixture().await;
    let (_, refresh_token) = signed_in(&fixture).await;
    let audience = Audience::organization_resource(API, "org-acme");
    let refreshed = fixture
        .client
        .refresh(&refresh_token, &audience, "user-grace")
        .await
        .expect("an organization-scoped resource token");
    let token = refreshed.access_token.token.secret();
    let required = AccessTokenRequirements {
        resource: API,
        scopes: &["read:items", "write:items"],
        organization: OrganizationRequirement::Id("org-acme"),
    };
    let verified = fixture.client.verify_access_token(token, &required).await.unwrap();
    assert_eq!(verified.audience, [API]);
    assert_eq!(verified.organization_id.as_deref(), Some("org-acme"));
    assert_eq!(verified.scopes, ["read:items", "write:items"]);
    // An API that takes no organization tokens refuses it.
    let error = fixture
        .client
        .verify_access_token(token, &AccessTokenRequirements::new(API, &[]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("organization"), "{error}");

    // The plain token for the API: no organization, and (as Logto 1.37.1 does) the API permissions
    // of her roles in every organization, Acme's admin among them.
    let plain = fixture
        .client
        .refresh(&refresh_token, &Audience::Resource(API.into()), "user-grace")
        .await
        .unwrap();
    let verified = fixture
        .client
        .verify_access_token(
            plain.access_token.token.secret(),
            &AccessTokenRequirements::new(API, &[]),
        )
        .await
        .unwrap();
    assert_eq!(verified.organization_id, None);
    assert_eq!(verified.scopes, ["read:items", "write:items"]);
}

#[tokio::test]
async fn membership_changed_at_logto_shows_in_userinfo_and_tokens() {
    let fixture = fixture().await;
    let (signed_in, refresh_token) = signed_in(&fixture).await;
    // An admin takes Grace out of Beta Labs and makes her a plain member of Acme.
    fixture
        .provider
        .set_user_organizations("user-grace", &["org-acme"], &["org-acme:member"])
        .await;

    let userinfo = fixture
        .client
        .fetch_userinfo(&signed_in.access_token.token, "user-grace")
        .await
        .unwrap();
    assert_eq!(
        userinfo.organization_memberships(),
        vec![membership("org-acme", "Acme", Some("Rockets and more"), &["member"])]
    );

    // `refresh_grant` asks Logto each time (no result shared from a moment ago).
    let error = fixture
        .client
        .refresh_grant(&refresh_token, &Audience::Organization("org-beta".into()), "user-grace")
        .await
        .unwrap_err();
    assert!(error.is_organization_denied(), "{error}");
    assert!(!error.is_invalid_grant(), "the user stays signed in");
    let error = fixture
        .client
        .refresh_grant(
            &refresh_token,
            &Audience::organization_resource(API, "org-beta"),
            "user-grace",
        )
        .await
        .unwrap_err();
    assert!(error.is_organization_denied(), "{error}");

    let acme = fixture
        .client
        .refresh_grant(&refresh_token, &Audience::Organization("org-acme".into()), "user-grace")
        .await
        .expect("still a member of Acme");
    let required = AccessTokenRequirements {
        resource: API,
        scopes: &[],
        organization: OrganizationRequirement::Any,
    };
    let verified = fixture
        .client
        .verify_access_token(acme.access_token.token.secret(), &required)
        .await
        .unwrap();
    assert_eq!(verified.scopes, ["invite:member"], "the member role's permissions only");

    let api = fixture
        .client
        .refresh_grant(
            &refresh_token,
            &Audience::organization_resource(API, "org-acme"),
            "user-grace",
        )
        .await
        .unwrap();
    let verified = fixture
        .client
        .verify_access_token(api.access_token.token.secret(), &required)
        .await
        .unwrap();
    assert_eq!(verified.scopes, ["read:items"]);

    // Added to a new organization after sign-in: its token comes at once, no new sign-in.
    fixture
        .provider
        .add_organization(json!({
            "id": "org-gamma", "name": "Gamma",
            "roles": { "admin": { "scopes": ["manage:billing"] } },
        }))
        .await;
    fixture
        .provider
        .set_user_organizations(
            "user-grace",
            &["org-acme", "org-gamma"],
            &["org-acme:member", "org-gamma:admin"],
        )
        .await;
    let gamma = fixture
        .client
        .refresh_grant(
            &refresh_token,
            &Audience::Organization("org-gamma".into()),
            "user-grace",
        )
        .await
        .expect("a member of Gamma now");
    let verified = fixture
        .client
        .verify_access_token(gamma.access_token.token.secret(), &required)
        .await
        .unwrap();
    assert_eq!(verified.organization_id.as_deref(), Some("org-gamma"));
    assert_eq!(verified.scopes, ["manage:billing"]);
    let userinfo = fixture
        .client
        .fetch_userinfo(&signed_in.access_token.token, "user-grace")
        .await
        .unwrap();
    assert_eq!(
        userinfo.organization_memberships()[1],
        membership("org-gamma", "Gamma", None, &["admin"])
    );

    // Still signed in: the userinfo token refreshes.
    fixture
        .client
        .refresh_grant(&refresh_token, &Audience::Userinfo, "user-grace")
        .await
        .expect("the session lives on");
}

#[tokio::test]
async fn an_organization_scoped_resource_not_requested_at_sign_in_is_refused_before_any_request() {
    let fixture = fixture().await;
    let refresh_token = RefreshToken::new("any");
    let error = fixture
        .client
        .refresh(
            &refresh_token,
            &Audience::organization_resource("https://other.example.com", "org-acme"),
            "user-grace",
        )
        .await
        .unwrap_err();
    assert!(matches!(error, LogtoError::NotRequested(_)), "{error}");
    assert_eq!(fixture.provider.stats().await.requests.get("/oidc/token"), None);
}
