//! What a Portcullis access token says: the claims as signed, and what a
//! service asks of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An administrator's string attributes on a user (`team_id`, …).
pub type Attributes = BTreeMap<String, String>;

/// The `typ` claim of access tokens.
pub const ACCESS_TOKEN_TYPE: &str = "access";
/// The header's `typ` for access tokens (RFC 9068), so that no other JWT
/// signed with the same keys passes for one.
pub const ACCESS_TOKEN_MEDIA_TYPE: &str = "at+jwt";

/// `kind` of a person's token (and of every token without a `kind`).
pub const KIND_USER: &str = "user";
/// `kind` of a service account's token (client credentials).
pub const KIND_SERVICE: &str = "service";
/// `kind` of an AI agent's token, its own or delegated by a user.
pub const KIND_AGENT: &str = "agent";

/// The claims of an access token, exactly as Portcullis signs them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user's id; a service's or agent's own id in its token; the
    /// user's id again in a delegated token (the agent is in `act`).
    pub sub: String,
    /// [`KIND_USER`], [`KIND_SERVICE`] or [`KIND_AGENT`]. Absent means a
    /// user, so people's tokens look as they always have.
    #[serde(default = "user_kind", skip_serializing_if = "is_user_kind")]
    pub kind: String,
    /// The OAuth client the token was issued to (RFC 9068).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Who acts for `sub` in a delegated token (RFC 8693 §4.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The scopes granted, space-separated (RFC 9068); see
    /// [`AccessClaims::scopes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's email; empty in a machine's own token.
    #[serde(default)]
    pub email: String,
    /// `admin` for administrators, else `user`: for services that read
    /// only this claim; `roles` says all.
    pub role: String,
    /// Every role held, `user` included. A machine holds none.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The union of the roles' permissions, e.g. `users:read`; for a
    /// machine, what its scope grants.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Attributes an administrator set, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Attributes>,
    /// The user's authorization version when the token was made.
    #[serde(default = "first_version")]
    pub ver: i64,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    /// The session this token belongs to; for a machine's own token, the
    /// credential it was issued for.
    #[serde(default)]
    pub sid: String,
    /// Token type, so a token minted for another purpose never passes.
    pub typ: String,
}

/// The party acting in a delegated token (RFC 8693 `act`). Further
/// members, a nested `act` among them, are ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Actor {
    /// The agent's id.
    pub sub: String,
}

fn first_version() -> i64 {
    1
}

fn user_kind() -> String {
    KIND_USER.to_owned()
}

fn is_user_kind(kind: &str) -> bool {
    kind == KIND_USER
}

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// A person who signed in; the user's id.
    User(&'a str),
    /// A service account; its id.
    Service(&'a str),
    /// An AI agent: its id, and the user's id when a user delegated to it.
    Agent {
        id: &'a str,
        on_behalf_of: Option<&'a str>,
    },
    /// A `kind` this crate does not know, or an `act` on a token that is
    /// not an agent's. [`Verifier::verify`](crate::Verifier::verify)
    /// refuses such tokens, so only claims that skipped it are this.
    Unknown,
}

impl AccessClaims {
    /// Who the token speaks for. Never a user unless `kind` says so.
    pub fn subject(&self) -> Subject<'_> {
        match (self.kind.as_str(), &self.act) {
            (KIND_USER, None) => Subject::User(&self.sub),
            (KIND_SERVICE, None) => Subject::Service(&self.sub),
            (KIND_AGENT, None) => Subject::Agent {
                id: &self.sub,
                on_behalf_of: None,
            },
            // In a delegated token `sub` is the user and `act` the agent.
            (KIND_AGENT, Some(actor)) if !actor.sub.is_empty() => Subject::Agent {
                id: &actor.sub,
                on_behalf_of: Some(&self.sub),
            },
            _ => Subject::Unknown,
        }
    }

    /// Whether the token is anything but a person's own.
    pub fn is_machine(&self) -> bool {
        self.kind != KIND_USER || self.act.is_some()
    }

    /// The scopes granted, if the token carries `scope`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|scope| !scope.is_empty())
    }

    /// Whether a person holds `role`. A machine never does, whatever its
    /// `roles` say: roles are for people.
    pub fn has_role(&self, role: &str) -> bool {
        !self.is_machine() && self.roles.iter().any(|held| held == role)
    }

    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|held| held == permission)
    }

    /// An attribute's value, if the user has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attrs.as_ref()?.get(key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        testing::{at, delegated, human, machine, signed, verifier, AGENT_ID, SERVICE_ID, USER_ID},
        VerifyError,
    };

    const NOW: i64 = 1_000_000;

    fn verified(claims: &serde_json::Value) -> Result<AccessClaims, VerifyError> {
        verifier().verify(&signed(claims), at(NOW))
    }

    #[test]
    fn a_person_s_token_as_issued_today_is_a_user_s_and_keeps_its_shape() {
        let issued = human(NOW);
        let c = verified(&issued).unwrap();
        assert_eq!(c.subject(), Subject::User(USER_ID));
        assert_eq!(c.kind, KIND_USER);
        assert!(!c.is_machine() && c.has_role("user"));
        assert_eq!((c.client_id.as_deref(), c.act.as_ref()), (None, None));
        assert_eq!(c.scopes().count(), 0);
        // Signed again, it has the very members it had: no `kind` and co.
        assert_eq!(serde_json::to_value(&c).unwrap(), issued);
    }

    #[test]
    fn a_service_s_token_is_a_service_s_and_holds_no_role() {
        let mut issued = machine(KIND_SERVICE, SERVICE_ID, NOW);
        // Roles in a machine's token count for nothing.
        issued["roles"] = json!(["admin"]);
        let c = verified(&issued).unwrap();
        assert_eq!(c.subject(), Subject::Service(SERVICE_ID));
        assert!(c.is_machine() && !c.has_role("admin"));
        assert!(c.has_permission("users:read") && !c.has_permission("users:write"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["users:read", "audit:read"]);
        assert_eq!(c.client_id.as_deref(), Some(SERVICE_ID));
        assert_eq!(serde_json::to_value(&c).unwrap(), issued);
        // Without an email or a sid it verifies all the same.
        let mut bare = machine(KIND_SERVICE, SERVICE_ID, NOW);
        bare.as_object_mut().unwrap().remove("email");
        bare.as_object_mut().unwrap().remove("sid");
        let c = verified(&bare).unwrap();
        assert_eq!((c.email.as_str(), c.sid.as_str()), ("", ""));
    }

    #[test]
    fn an_agent_s_own_token_is_an_agent_s_for_nobody() {
        let c = verified(&machine(KIND_AGENT, AGENT_ID, NOW)).unwrap();
        let agent = Subject::Agent {
            id: AGENT_ID,
            on_behalf_of: None,
        };
        assert_eq!(c.subject(), agent);
        assert!(c.is_machine() && !c.has_role("agent"));
    }

    #[test]
    fn a_delegated_token_is_the_agent_acting_for_the_user() {
        let mut issued = delegated(NOW);
        // Members of `act` beyond `sub`, a nested chain among them, are ignored.
        issued["act"]["act"] = json!({"sub": "an-earlier-actor"});
        let c = verified(&issued).unwrap();
        let agent = Subject::Agent {
            id: AGENT_ID,
            on_behalf_of: Some(USER_ID),
        };
        assert_eq!(c.subject(), agent);
        assert_eq!(c.client_id.as_deref(), Some(AGENT_ID));
        assert_eq!(c.email, "ada@example.com");
        assert!(c.is_machine() && !c.has_role("user") && c.has_permission("users:read"));
    }

    #[test]
    fn an_unknown_kind_or_a_misplaced_actor_is_refused() {
        let refused = |claims: &serde_json::Value| match verified(claims) {
            Err(VerifyError::Principal(why)) => why,
            other => panic!("{claims}: {other:?}"),
        };
        for kind in ["robot", "", "User"] {
            let claims = machine(kind, SERVICE_ID, NOW);
            assert_eq!(refused(&claims), format!("unknown kind {kind:?}"));
        }
        // An actor belongs only in an agent's token; `kind` absent is a user.
        let mut as_user = human(NOW);
        as_user["act"] = json!({"sub": AGENT_ID});
        assert_eq!(
            refused(&as_user),
            r#"an actor (act) on a token of kind "user""#
        );
        let mut as_service = machine(KIND_SERVICE, SERVICE_ID, NOW);
        as_service["act"] = json!({"sub": AGENT_ID});
        refused(&as_service);
        let mut nameless = delegated(NOW);
        nameless["act"] = json!({"sub": ""});
        refused(&nameless);
        let mut null_kind = human(NOW);
        null_kind["kind"] = json!(null);
        assert!(verified(&null_kind).is_err());
        let shown = VerifyError::Principal(r#"unknown kind "robot""#.into()).to_string();
        assert_eq!(shown, r#"token principal refused: unknown kind "robot""#);
    }

    #[test]
    fn claims_that_skipped_the_verifier_are_never_taken_for_a_user() {
        let mut robot = human(NOW);
        robot["kind"] = json!("robot");
        let c: AccessClaims = serde_json::from_value(robot).unwrap();
        assert_eq!(c.subject(), Subject::Unknown);
        assert!(c.is_machine() && !c.has_role("user"));
    }
}
