//! What a user may do: the roles they hold and the permissions those give.

use std::collections::BTreeMap;

use crate::model::{Permission, RoleName};

/// A user's roles (always including `user`) and the union of their
/// permissions; `admin` gives every permission in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    pub roles: Vec<String>,
    pub permissions: Vec<Permission>,
}

impl Grants {
    /// From the roles held by a row and the permissions those rows (and
    /// `user`'s) carry. Permissions no longer in the catalogue are ignored.
    pub fn new<'a>(
        held: impl IntoIterator<Item = &'a str>,
        permissions: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut roles: Vec<String> = held.into_iter().map(str::to_owned).collect();
        roles.push(RoleName::USER.to_owned());
        roles.sort_unstable();
        roles.dedup();
        let mut permissions: Vec<Permission> = if roles.iter().any(|r| r == RoleName::ADMIN) {
            Permission::ALL.to_vec()
        } else {
            permissions
                .into_iter()
                .filter_map(Permission::parse)
                .collect()
        };
        permissions.sort_unstable();
        permissions.dedup();
        Self { roles, permissions }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == RoleName::ADMIN)
    }

    /// The single `role` older clients read: `admin` or `user`.
    pub fn primary_role(&self) -> &'static str {
        if self.is_admin() {
            RoleName::ADMIN
        } else {
            RoleName::USER
        }
    }
}

/// An administrator's string attributes on a user (`team_id`, …), carried
/// in the access token for the services that need them.
pub type Attributes = BTreeMap<String, String>;

/// At most this many keys…
pub const MAX_ATTRIBUTES: usize = 16;
/// …and this many bytes of keys and values in all.
pub const MAX_ATTRIBUTE_BYTES: usize = 1024;

/// Why a set of attributes was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributesError {
    #[error("at most {MAX_ATTRIBUTES} attributes")]
    TooMany,
    #[error("at most {MAX_ATTRIBUTE_BYTES} bytes of attributes")]
    TooLarge,
    #[error("attribute keys are 1 to 64 of a-z, 0-9, _ and -, starting with a letter")]
    InvalidKey,
    #[error("attribute values hold no control characters")]
    InvalidValue,
}

/// Checks the count, the total size and every key.
pub fn check_attributes(attributes: &Attributes) -> Result<(), AttributesError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(AttributesError::TooMany);
    }
    let bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ATTRIBUTE_BYTES {
        return Err(AttributesError::TooLarge);
    }
    let valid_key = |key: &str| {
        (1..=64).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if !attributes.keys().all(|k| valid_key(k)) {
        return Err(AttributesError::InvalidKey);
    }
    if attributes.values().any(|v| v.chars().any(char::is_control)) {
        return Err(AttributesError::InvalidValue);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everyone_holds_user_and_admin_holds_every_permission() {
        let plain = Grants::new([], ["users:read"]);
        assert_eq!(plain.roles, ["user"]);
        assert_eq!(plain.permissions, [Permission::UsersRead]);
        assert!(!plain.is_admin());

        let admin = Grants::new(["admin"], []);
        assert_eq!(admin.roles, ["admin", "user"]);
        assert_eq!(admin.permissions, Permission::ALL);
        assert!(admin.allows(Permission::RolesWrite));
    }

    #[test]
    fn unknown_permissions_are_ignored_and_duplicates_merged() {
        let grants = Grants::new(
            ["support", "support"],
            ["audit:read", "gone:perm", "audit:read"],
        );
        assert_eq!(grants.roles, ["support", "user"]);
        assert_eq!(grants.permissions, [Permission::AuditRead]);
    }

    #[test]
    fn attributes_are_bounded_in_count_size_and_key_shape() {
        let mut attributes = Attributes::new();
        attributes.insert("team_id".into(), "t-1".into());
        assert_eq!(check_attributes(&attributes), Ok(()));
        attributes.insert("Team".into(), "x".into());
        assert_eq!(
            check_attributes(&attributes),
            Err(AttributesError::InvalidKey)
        );

        let many: Attributes = (0..17).map(|i| (format!("k{i}"), "v".into())).collect();
        assert_eq!(check_attributes(&many), Err(AttributesError::TooMany));
        let large: Attributes = [("big".to_owned(), "x".repeat(1022))].into();
        assert_eq!(check_attributes(&large), Err(AttributesError::TooLarge));
        let nul: Attributes = [("team_id".to_owned(), "a\u{0}b".to_owned())].into();
        assert_eq!(check_attributes(&nul), Err(AttributesError::InvalidValue));
    }
}
