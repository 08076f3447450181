//! Machine identities as plain values: the kinds of principal that are not
//! people, their names, and the one rule for what they may do (never more
//! than the person behind them holds now).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::Permission;

/// A principal that is not a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A backend service calling another.
    Service,
    /// An AI agent, such as a coding assistant, possibly acting for its owner.
    Agent,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "service" => Some(Self::Service),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// Who a machine credential speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachinePrincipal {
    /// A person's own key: it acts as them, within its scopes.
    Person { user_id: Uuid, email: String },
    /// A service account or agent, and the person who registered it.
    Account {
        id: Uuid,
        kind: AccountKind,
        owner_id: Uuid,
    },
}

impl MachinePrincipal {
    /// The id services see as the subject.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Person { user_id, .. } => *user_id,
            Self::Account { id, .. } => *id,
        }
    }
}

/// A key, as far as using it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a key or an account stands on, as the database said: whom it
/// speaks for, what it may do now (every ceiling applied) and the ids
/// whose change makes this out of date (its key, its account, its owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub principal: MachinePrincipal,
    pub key: Option<KeyUse>,
    pub permissions: Vec<Permission>,
    pub depends_on: Vec<Uuid>,
}

impl Standing {
    /// Whether a change to `user_id` (and to `session_id`, when set) in the
    /// authorization log touches this.
    pub fn touched_by(&self, user_id: Uuid, session_id: Option<Uuid>) -> bool {
        self.depends_on
            .iter()
            .any(|id| *id == user_id || Some(*id) == session_id)
    }

    /// The key still works at `now` (revocation is the view's business).
    pub fn key_live(&self, now: DateTime<Utc>) -> bool {
        self.key
            .as_ref()
            .is_none_or(|key| key.expires_at.is_none_or(|at| at > now))
    }
}

/// Names of keys and accounts: 1 to 64 characters, no control characters,
/// no leading or trailing space.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

/// Descriptions: at most 500 characters, no control characters but line
/// breaks.
pub fn valid_description(text: &str) -> bool {
    text.chars().count() <= 500 && !text.chars().any(|c| c.is_control() && c != '\n')
}

/// Permission names as given: every one must be in the catalogue. Sorted,
/// without repeats. `Err` names the first unknown one.
pub fn parse_permissions<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Permission>, String> {
    let mut permissions = names
        .into_iter()
        .map(|name| Permission::parse(name).ok_or_else(|| name.to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    permissions.sort_unstable();
    permissions.dedup();
    Ok(permissions)
}

/// An OAuth `scope` parameter: permission names separated by spaces.
pub fn parse_scope(scope: &str) -> Result<Vec<Permission>, String> {
    parse_permissions(scope.split(' ').filter(|s| !s.is_empty()))
}

/// The scope as OAuth writes it.
pub fn scope_string(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Those of `wanted` that every one of `ceilings` also holds: what a key,
/// account or token may do is capped by everything it stands on.
pub fn capped(wanted: &[Permission], ceilings: &[&[Permission]]) -> Vec<Permission> {
    wanted
        .iter()
        .copied()
        .filter(|p| ceilings.iter().all(|ceiling| ceiling.contains(p)))
        .collect()
}

/// Names stored in the database, read leniently: names this build does not
/// know (a permission since removed) are dropped, not an error.
pub fn known_permissions(names: &[String]) -> Vec<Permission> {
    let mut permissions: Vec<Permission> =
        names.iter().filter_map(|n| Permission::parse(n)).collect();
    permissions.sort_unstable();
    permissions.dedup();
    permissions
}

/// As stored: the names.
pub fn permission_names(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(|p| p.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_printable_and_trimmed() {
        assert!(valid_name("ci deploy"));
        assert!(valid_name(&"x".repeat(64)));
        for bad in ["", " lead", "trail ", "tab\there", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_description("line one\nline two"));
        assert!(!valid_description("nul\u{0}"));
    }

    #[test]
    fn permissions_parse_strictly_and_read_leniently() {
        assert_eq!(
            parse_permissions(["users:read", "audit:read", "users:read"]),
            Ok(vec![Permission::UsersRead, Permission::AuditRead])
        );
        assert_eq!(
            parse_permissions(["users:read", "root"]),
            Err("root".to_owned())
        );
        assert_eq!(
            parse_scope("  users:read  audit:read "),
            Ok(vec![Permission::UsersRead, Permission::AuditRead])
        );
        assert_eq!(parse_scope(""), Ok(vec![]));
        assert_eq!(
            known_permissions(&["gone".into(), "users:read".into()]),
            vec![Permission::UsersRead]
        );
    }

    #[test]
    fn what_a_machine_may_do_is_capped_by_every_ceiling() {
        let wanted = [Permission::UsersRead, Permission::AuditRead];
        let owner = [Permission::UsersRead];
        let account = [Permission::UsersRead, Permission::AuditRead];
        assert_eq!(
            capped(&wanted, &[&owner, &account]),
            vec![Permission::UsersRead]
        );
        assert_eq!(capped(&wanted, &[&[]]), vec![]);
        assert_eq!(
            scope_string(&[Permission::UsersRead, Permission::AuditRead]),
            "users:read audit:read"
        );
    }
}
