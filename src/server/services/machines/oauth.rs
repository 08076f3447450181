//! Tokens for machines: OAuth 2.0 client credentials (RFC 6749 §4.4) with
//! an agent's key as the secret, and token exchange (RFC 8693) by which a
//! signed-in person lets one of their agents act for them. Tokens are
//! short-lived JWTs (RFC 9068) with no refresh token: the key gets another.

use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::super::{ServiceError, Services};
use crate::{
    model::Permission,
    server::{
        credentials::{
            api_keys::{KeyKind, PresentedKey},
            tokens::{MachineGrant, TokenError},
        },
        domain::{
            events::{EventType, Outcome},
            machines::{parse_scope, scope_string, AccountKind, MachinePrincipal},
        },
        platform::telemetry::metrics::{Grant, TokenOutcome},
    },
};

/// RFC 8693's name for an access token, the only kind exchanged here.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// Why a token request failed, as RFC 6749 §5.2 names it.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// The client or its secret is unknown, wrong, revoked or disabled.
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope")]
    InvalidScope,
    /// RFC 8707: a `resource` that is not an absolute URI without a fragment.
    #[error("invalid_target")]
    InvalidTarget,
    #[error("throttled for {0} s")]
    SlowDown(u64),
    #[error(transparent)]
    Internal(ServiceError),
}

impl From<ServiceError> for OAuthError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Throttled(secs) => Self::SlowDown(secs),
            other => Self::Internal(other),
        }
    }
}

impl From<sqlx::Error> for OAuthError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl From<TokenError> for OAuthError {
    fn from(err: TokenError) -> Self {
        Self::Internal(err.into())
    }
}

/// What a token request asks for, its parameters each given once.
#[derive(Debug, Default)]
pub struct TokenRequest<'a> {
    pub grant_type: &'a str,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
}

impl OAuthError {
    /// For the metrics.
    pub fn outcome(&self) -> TokenOutcome {
        match self {
            Self::SlowDown(_) => TokenOutcome::Throttled,
            Self::Internal(_) => TokenOutcome::Error,
            _ => TokenOutcome::Refused,
        }
    }
}

/// The grant a `grant_type` names, for the metrics.
pub fn grant_of(grant_type: &str) -> Grant {
    match grant_type {
        CLIENT_CREDENTIALS => Grant::ClientCredentials,
        TOKEN_EXCHANGE => Grant::TokenExchange,
        _ => Grant::Other,
    }
}

/// A token made.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    /// Set for a token exchange (RFC 8693 §2.2.1).
    pub issued_token_type: Option<&'static str>,
}

impl Services<'_> {
    /// `POST /oauth2/token`.
    pub async fn oauth_token(&self, request: &TokenRequest<'_>) -> Result<IssuedToken, OAuthError> {
        match request.grant_type {
            CLIENT_CREDENTIALS => {
                let (Some(client_id), Some(secret)) = (request.client_id, request.client_secret)
                else {
                    return Err(OAuthError::InvalidClient);
                };
                let key = PresentedKey::parse(secret).ok_or(OAuthError::InvalidClient)?;
                self.client_credentials(&key, Some(client_id), request.scope, request.resource)
                    .await
            }
            TOKEN_EXCHANGE => self.exchange(request).await,
            "" => Err(OAuthError::InvalidRequest("grant_type is required")),
            _ => Err(OAuthError::UnsupportedGrantType),
        }
    }

    /// A token for the service account or agent whose key this is (and
    /// which must be `client_id`, when given).
    pub async fn client_credentials(
        &self,
        key: &PresentedKey,
        client_id: Option<&str>,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<IssuedToken, OAuthError> {
        if let Some(client_id) = client_id {
            self.rate_limit_token(client_id).await?;
        }
        if key.kind != KeyKind::Service {
            return Err(OAuthError::InvalidClient);
        }
        let standing = match self.key_standing(key).await {
            Ok(standing) => standing,
            Err(ServiceError::Unauthenticated) => return Err(OAuthError::InvalidClient),
            Err(other) => return Err(other.into()),
        };
        let MachinePrincipal::Account { id, kind, .. } = standing.principal else {
            return Err(OAuthError::InvalidClient);
        };
        match client_id {
            Some(asked) if Uuid::parse_str(asked).ok() != Some(id) => {
                return Err(OAuthError::InvalidClient)
            }
            Some(_) => {}
            None => self.rate_limit_token(&id.to_string()).await?,
        }
        let key_use = standing.key.clone();
        if let Some(key_use) = &key_use {
            self.note_key_use(key_use.id).await;
        }
        let permissions = within(scope, &standing.permissions)?;
        let audience = audience(resource)?;
        let (access_token, expires_at) = self.tokens.issue_machine(
            &MachineGrant {
                subject: id,
                kind,
                client_id: id,
                email: "",
                permissions: &permissions,
                credential: key_use.as_ref().map_or(id, |k| k.id),
                actor: None,
                audience: audience.as_deref(),
                ttl: self.policies.machines.token_ttl,
                not_after: key_use.and_then(|k| k.expires_at),
            },
            self.now,
        )?;
        Ok(IssuedToken {
            access_token,
            expires_in: (expires_at - self.now).num_seconds().max(0),
            scope: scope_string(&permissions),
            issued_token_type: None,
        })
    }

    /// Token exchange: the person's access token in, a token for their
    /// agent acting for them out, its scope capped by both.
    async fn exchange(&self, request: &TokenRequest<'_>) -> Result<IssuedToken, OAuthError> {
        let (Some(subject_token), Some(token_type)) =
            (request.subject_token, request.subject_token_type)
        else {
            return Err(OAuthError::InvalidRequest(
                "subject_token and subject_token_type are required",
            ));
        };
        if token_type != ACCESS_TOKEN_TYPE {
            return Err(OAuthError::InvalidRequest(
                "subject_token_type must be an access token",
            ));
        }
        let Some(client_id) = request.client_id else {
            return Err(OAuthError::InvalidRequest("client_id names the agent"));
        };
        self.rate_limit_token(client_id).await?;
        let principal = self
            .tokens
            .verify(subject_token, self.now)
            .map_err(|_| OAuthError::InvalidGrant("the subject token is not valid"))?;
        let live = match self.authorize(&principal).await {
            Ok(live) => live,
            Err(ServiceError::Unauthenticated | ServiceError::StaleAuthorization) => {
                return Err(OAuthError::InvalidGrant("the subject token is not valid"))
            }
            Err(other) => return Err(other.into()),
        };
        let agent_id =
            Uuid::parse_str(client_id).map_err(|_| OAuthError::InvalidGrant("no such agent"))?;
        if let Some(secret) = request.client_secret {
            // A secret given must be the agent's own.
            let key = PresentedKey::parse(secret).ok_or(OAuthError::InvalidClient)?;
            let machine = self
                .machine(&super::MachineCredential::Key(key))
                .await
                .map_err(|_| OAuthError::InvalidClient)?;
            if machine.account_id() != Some(agent_id) {
                return Err(OAuthError::InvalidClient);
            }
        }
        let standing = match self.account_standing(agent_id).await {
            Ok(standing) => standing,
            Err(ServiceError::Unauthenticated) => {
                return Err(OAuthError::InvalidGrant("no such agent"))
            }
            Err(other) => return Err(other.into()),
        };
        let MachinePrincipal::Account {
            kind: AccountKind::Agent,
            owner_id,
            ..
        } = standing.principal
        else {
            return Err(OAuthError::InvalidGrant("no such agent"));
        };
        if owner_id != principal.user_id {
            return Err(OAuthError::InvalidGrant("no such agent"));
        }
        // The agent's standing is capped by its owner, who is this user.
        let permissions = within(request.scope, &standing.permissions)?;
        let audience = audience(request.resource)?;
        let (access_token, expires_at) = self.tokens.issue_machine(
            &MachineGrant {
                subject: principal.user_id,
                kind: AccountKind::Agent,
                client_id: agent_id,
                email: &live.user.email,
                permissions: &permissions,
                credential: principal.session_id,
                actor: Some(agent_id),
                audience: audience.as_deref(),
                ttl: self.policies.machines.token_ttl,
                not_after: Some(live.session_expires_at),
            },
            self.now,
        )?;
        let scope = scope_string(&permissions);
        self.audit(
            EventType::AgentDelegation,
            Outcome::Success,
            Some(principal.user_id),
            json!({ "agent": agent_id, "scope": scope, "expires_in": (expires_at - self.now).num_seconds() }),
        )
        .await;
        Ok(IssuedToken {
            access_token,
            expires_in: (expires_at - self.now).num_seconds().max(0),
            scope,
            issued_token_type: Some(ACCESS_TOKEN_TYPE),
        })
    }

    /// The machine's own token, for `POST /api/agents/token`.
    pub async fn agent_token(
        &self,
        key: &PresentedKey,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> Result<IssuedToken, OAuthError> {
        self.client_credentials(key, None, scope, resource).await
    }
}

/// The scope asked for (all that is held, unless asked), if it is held.
fn within(scope: Option<&str>, held: &[Permission]) -> Result<Vec<Permission>, OAuthError> {
    let Some(scope) = scope else {
        return Ok(held.to_vec());
    };
    let asked = parse_scope(scope).map_err(|_| OAuthError::InvalidScope)?;
    if asked.iter().all(|p| held.contains(p)) {
        Ok(asked)
    } else {
        Err(OAuthError::InvalidScope)
    }
}

/// RFC 8707: the resource as the token's audience.
fn audience(resource: Option<&str>) -> Result<Option<String>, OAuthError> {
    let Some(resource) = resource else {
        return Ok(None);
    };
    match Url::parse(resource) {
        Ok(url)
            if url.fragment().is_none() && !url.cannot_be_a_base() && resource.len() <= 2048 =>
        {
            Ok(Some(resource.to_owned()))
        }
        _ => Err(OAuthError::InvalidTarget),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_must_be_held_and_defaults_to_everything_held() {
        let held = [Permission::UsersRead, Permission::AuditRead];
        assert_eq!(within(None, &held).unwrap(), held.to_vec());
        assert_eq!(
            within(Some("users:read"), &held).unwrap(),
            vec![Permission::UsersRead]
        );
        assert!(matches!(
            within(Some("roles:write"), &held),
            Err(OAuthError::InvalidScope)
        ));
        assert!(matches!(
            within(Some("nonsense"), &held),
            Err(OAuthError::InvalidScope)
        ));
    }

    #[test]
    fn a_resource_is_an_absolute_uri_without_a_fragment() {
        assert_eq!(
            audience(Some("https://api.example.com/v1"))
                .unwrap()
                .as_deref(),
            Some("https://api.example.com/v1")
        );
        for bad in [
            "/relative",
            "https://api.example.com/#x",
            "mailto:a@b",
            "not a uri",
        ] {
            assert!(
                matches!(audience(Some(bad)), Err(OAuthError::InvalidTarget)),
                "{bad}"
            );
        }
    }
}
