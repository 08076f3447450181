//! Forward-auth: the one decision behind every proxy contract (nginx
//! `auth_request`, Traefik and Caddy, Envoy). Given the request a proxy is
//! holding and the caller's access token, may it pass, must the visitor
//! sign in first, or is it refused? In the steady state it reads no
//! database: the session check goes through the replica's view.

use std::sync::Arc;

use http::Method;
use url::Url;

use super::{
    machines::{Machine, MachineCredential},
    ServiceError, Services,
};
use crate::server::{
    credentials::tokens::Principal,
    domain::{
        access_rules::{plain_path, AccessRules, Requirement},
        return_to::ReturnHosts,
    },
    platform::env::{invalid, ConfigError, Env},
    store::users::UserRecord,
};

/// Which hosts may be returned to after signing in, and who may reach what.
#[derive(Debug, Clone, Default)]
pub struct GatewayPolicy {
    pub return_hosts: ReturnHosts,
    pub rules: AccessRules,
}

impl GatewayPolicy {
    /// `PORTCULLIS_ALLOWED_RETURN_HOSTS` and the rule file named by
    /// `PORTCULLIS_ACCESS_RULES`; without a file, every allowed return host
    /// requires a signed-in user.
    pub fn from_env(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        const HOSTS: &str = "PORTCULLIS_ALLOWED_RETURN_HOSTS";
        const RULES: &str = "PORTCULLIS_ACCESS_RULES";
        let return_hosts = ReturnHosts::parse(&env.string(HOSTS, ""), production)
            .map_err(|why| invalid(HOSTS, why))?;
        let rules = match env.get(RULES) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| invalid(RULES, format!("cannot read {path}: {e}")))?;
                AccessRules::parse(&text).map_err(|why| invalid(RULES, format!("{path}: {why}")))?
            }
            None => AccessRules::signed_in_on(return_hosts.patterns()),
        };
        Ok(Self {
            return_hosts,
            rules,
        })
    }
}

/// The request a proxy asks about, as it reached the proxy.
#[derive(Debug, Clone)]
pub struct HeldRequest {
    pub method: Method,
    pub url: Url,
}

impl HeldRequest {
    /// The host, without the trailing dot of `app.example.com.`, which is
    /// the same host to DNS and to the proxy.
    pub fn host(&self) -> Option<&str> {
        let host = self.url.host_str()?;
        Some(host.strip_suffix('.').unwrap_or(host))
    }
}

/// Who passed, for the identity headers and the assertion: a person's
/// token (whose roles are current) and their user's row, as the view holds
/// it; or a machine, by an API key or a machine token.
#[derive(Debug, Clone)]
pub enum Passer {
    Person {
        principal: Principal,
        user: Arc<UserRecord>,
    },
    Machine(Machine),
}

#[derive(Debug, Clone)]
pub enum Verdict {
    /// Let it through; `None` when a rule lets anyone through and the
    /// caller is not signed in.
    Allow(Option<Passer>),
    /// Not signed in (or the session lapsed): sign in, then come back to
    /// `return_to` if it is a place sign-in may send the browser.
    SignIn { return_to: Option<String> },
    /// Signed in without what the rule asks, a host no rule covers, or a
    /// path that reads two ways.
    Deny,
}

impl Services<'_> {
    /// Decides on `request` for the bearer of `machine` (an API key or a
    /// machine token) or else of `principal` (from the access cookie or a
    /// bearer token), under the operator's rules and any `extra`
    /// requirements the proxy's auth URL adds.
    pub async fn forward_auth(
        &self,
        principal: Option<Principal>,
        machine: Option<MachineCredential>,
        request: &HeldRequest,
        extra: &[Requirement],
    ) -> Result<Verdict, ServiceError> {
        let gateway = &self.policies.gateway;
        let Some(host) = request.host() else {
            return Ok(Verdict::Deny);
        };
        // No browser sends a fragment: whoever did means something else
        // by the path than the parser.
        if request.url.fragment().is_some() {
            return Ok(Verdict::Deny);
        }
        let Some(path) = plain_path(request.url.path()) else {
            tracing::info!(host, "forward-auth: a path that reads two ways, refused");
            return Ok(Verdict::Deny);
        };
        let Some(rule) = gateway.rules.requirement(host, &path, &request.method) else {
            tracing::info!(host, "forward-auth: no rule covers this host, refused");
            return Ok(Verdict::Deny);
        };
        if *rule == Requirement::Nobody {
            return Ok(Verdict::Deny);
        }
        let machine = match machine {
            Some(credential) => match self.machine(&credential).await {
                Ok(machine) => Some(Passer::Machine(machine)),
                Err(ServiceError::Unauthenticated) => None,
                Err(other) => return Err(other),
            },
            None => None,
        };
        let passer = match (machine, principal) {
            (Some(machine), _) => Some(machine),
            (None, Some(principal)) => match self.check_session(&principal).await {
                Ok(live) => Some(Passer::Person {
                    principal,
                    user: live.user,
                }),
                Err(ServiceError::Unauthenticated | ServiceError::StaleAuthorization) => None,
                Err(other) => return Err(other),
            },
            (None, None) => None,
        };
        let open = *rule == Requirement::Anyone && extra.is_empty();
        match passer {
            passer if open => Ok(Verdict::Allow(passer)),
            Some(passer) => {
                let meets = |need: &Requirement| satisfies(&passer, need);
                if meets(rule) && extra.iter().all(meets) {
                    Ok(Verdict::Allow(Some(passer)))
                } else {
                    Ok(Verdict::Deny)
                }
            }
            None => Ok(Verdict::SignIn {
                return_to: gateway
                    .return_hosts
                    .check(request.url.as_str())
                    .filter(|target| !target.starts_with('/')),
            }),
        }
    }
}

/// Whether a signed-in caller meets `need`; a person's roles and
/// permissions are the token's, which `authorize` found current. A machine
/// holds no role (not even its owner's), only its permissions.
fn satisfies(passer: &Passer, need: &Requirement) -> bool {
    match (need, passer) {
        (Requirement::Anyone | Requirement::SignedIn, _) => true,
        (Requirement::Nobody, _) => false,
        (Requirement::Role(role), Passer::Person { principal, .. }) => {
            principal.roles.iter().any(|held| held == role.as_str())
        }
        (Requirement::Role(_), Passer::Machine(_)) => false,
        (Requirement::Permission(permission), Passer::Person { principal, .. }) => {
            principal.allows(*permission)
        }
        (Requirement::Permission(permission), Passer::Machine(machine)) => {
            machine.allows(*permission)
        }
    }
}
