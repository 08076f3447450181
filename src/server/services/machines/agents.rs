//! Service accounts and agents: registered by a person, never allowed more
//! than that person holds, managed by them (or by holders of
//! `agents:manage`), and readable by the agent itself.

use serde_json::json;
use uuid::Uuid;

use super::{
    super::{rfc3339, ServiceError, Services},
    api_keys::api_key_info,
    Caller,
};
use crate::{
    model::{
        Agent, AgentChange, AgentList, AgentPermissions, CreatedApiKey, NewApiKey as NewKeyRequest,
        Permission, RegisterAgent, RegisteredAgent,
    },
    server::{
        credentials::api_keys::KeyKind,
        domain::{
            events::{EventType, Outcome},
            machines::{
                capped, known_permissions, parse_permissions, permission_names, valid_description,
                valid_name, AccountKind,
            },
        },
        store::{
            api_keys::{self, Holder},
            audit,
            db::is_unique_violation,
            service_accounts::{self, AccountChange, AccountRecord, NewAccount},
            users::{self, UserRecord},
        },
    },
};

/// Live keys an agent may hold at once: the current one and its successor.
pub const MAX_LIVE_KEYS: i64 = 2;

impl Services<'_> {
    /// Registers a service account or agent for the calling person, with
    /// its first key (shown this once).
    pub async fn register_agent(
        &self,
        caller: &Caller,
        request: &RegisterAgent,
    ) -> Result<RegisteredAgent, ServiceError> {
        let owner = caller.person()?;
        let kind = AccountKind::parse(&request.kind).ok_or(ServiceError::InvalidKind)?;
        let description = request.description.as_deref().unwrap_or_default();
        if !valid_name(&request.name) || !valid_description(description) {
            return Err(ServiceError::InvalidName);
        }
        let permissions = self.within_owner(owner, &request.permissions)?;
        let grants = owner.grants();
        let expires_at = self.policies.machines.key_expiry(
            request.expires_in_days,
            request.never_expires,
            grants.is_admin(),
            self.now,
        )?;
        let id = Uuid::new_v4();
        let names = permission_names(&permissions);
        let mut tx = self.db.write_tx().await?;
        let inserted = service_accounts::insert_in(
            &mut tx,
            &NewAccount {
                id,
                owner_id: owner.id,
                name: &request.name,
                kind: kind.as_str(),
                description,
                permissions: &names,
                at: self.now,
            },
        )
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                tx.rollback().await?;
                return Err(ServiceError::AgentExists);
            }
            other => other?,
        }
        audit::record_in(
            &mut tx,
            self.event(
                EventType::AgentRegistered,
                Outcome::Success,
                Some(owner.id),
                json!({ "agent": id, "name": request.name, "kind": kind.as_str(), "permissions": names }),
            ),
        )
        .await?;
        let (_, key) = self
            .insert_key_in(
                &mut tx,
                KeyKind::Service,
                Holder::Account(id),
                "first key",
                None,
                expires_at,
                owner.id,
            )
            .await?;
        tx.commit().await?;
        let agent = self.agent(caller, id).await?;
        Ok(RegisteredAgent {
            agent,
            key: key.expose().to_owned(),
        })
    }

    /// The caller's service accounts and agents; every one for a manager,
    /// unless `own_only`.
    pub async fn agents(&self, caller: &Caller, own_only: bool) -> Result<AgentList, ServiceError> {
        let person = caller.person()?;
        let owner = (own_only || !caller.allows(Permission::AgentsManage)).then_some(person.id);
        let accounts = service_accounts::list(self.db, owner).await?;
        let mut agents = Vec::with_capacity(accounts.len());
        for account in &accounts {
            agents.push(self.describe(account).await?);
        }
        Ok(AgentList { agents })
    }

    /// One service account or agent, to its owner, a manager or itself.
    pub async fn agent(&self, caller: &Caller, id: Uuid) -> Result<Agent, ServiceError> {
        let account = self.visible_account(caller, id, true).await?;
        self.describe(&account).await
    }

    /// Disables or enables it, or changes its description.
    pub async fn change_agent(
        &self,
        caller: &Caller,
        id: Uuid,
        change: &AgentChange,
    ) -> Result<Agent, ServiceError> {
        let account = self.visible_account(caller, id, false).await?;
        if change
            .description
            .as_deref()
            .is_some_and(|d| !valid_description(d))
        {
            return Err(ServiceError::InvalidName);
        }
        service_accounts::update(
            self.db,
            id,
            &AccountChange {
                description: change.description.as_deref(),
                disabled: change.disabled,
                permissions: None,
            },
            self.now,
        )
        .await?;
        self.agent_event(
            caller,
            &account,
            EventType::AgentUpdated,
            json!({ "agent": id, "disabled": change.disabled, "description_changed": change.description.is_some() }),
        )
        .await;
        self.agent(caller, id).await
    }

    /// Deletes it, and so its keys.
    pub async fn delete_agent(&self, caller: &Caller, id: Uuid) -> Result<(), ServiceError> {
        let account = self.visible_account(caller, id, false).await?;
        if !service_accounts::delete(self.db, id).await? {
            return Err(ServiceError::NotFound);
        }
        self.agent_event(
            caller,
            &account,
            EventType::AgentDeleted,
            json!({ "agent": id, "name": account.name }),
        )
        .await;
        Ok(())
    }

    /// What it was granted, and what its owner's permissions leave of that.
    pub async fn agent_permissions(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<AgentPermissions, ServiceError> {
        let account = self.visible_account(caller, id, true).await?;
        self.permissions_of(&account).await
    }

    /// Replaces what it may do: never more than its owner holds, whoever
    /// asks (a manager included).
    pub async fn set_agent_permissions(
        &self,
        caller: &Caller,
        id: Uuid,
        permissions: &[String],
    ) -> Result<AgentPermissions, ServiceError> {
        let account = self.visible_account(caller, id, false).await?;
        let owner = users::find_by_id(self.db, account.owner_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let permissions = self.within_owner(&owner, permissions)?;
        let names = permission_names(&permissions);
        service_accounts::update(
            self.db,
            id,
            &AccountChange {
                permissions: Some(&names),
                ..AccountChange::default()
            },
            self.now,
        )
        .await?;
        self.agent_event(
            caller,
            &account,
            EventType::AgentUpdated,
            json!({ "agent": id, "permissions": names }),
        )
        .await;
        let account = service_accounts::find(self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.permissions_of(&account).await
    }

    /// A new key for it (shown this once); two may live at once, so a
    /// client can switch before the old one is revoked.
    pub async fn create_agent_key(
        &self,
        caller: &Caller,
        id: Uuid,
        request: &NewKeyRequest,
    ) -> Result<CreatedApiKey, ServiceError> {
        let account = self.visible_account(caller, id, false).await?;
        let person = caller.person()?;
        let name = request.name.as_deref().unwrap_or("key");
        if !valid_name(name) {
            return Err(ServiceError::InvalidName);
        }
        // An agent's key may do what the agent may; narrower keys would be
        // a second permissions editor to keep in step.
        if request.scopes.is_some() {
            return Err(ServiceError::InvalidPermission);
        }
        let expires_at = self.policies.machines.key_expiry(
            request.expires_in_days,
            request.never_expires,
            person.grants().is_admin(),
            self.now,
        )?;
        let mut tx = self.db.write_tx().await?;
        if api_keys::count_live_in(&mut tx, id, self.now).await? >= MAX_LIVE_KEYS {
            tx.rollback().await?;
            return Err(ServiceError::KeyLimit);
        }
        let (record, key) = self
            .insert_key_in(
                &mut tx,
                KeyKind::Service,
                Holder::Account(id),
                name,
                None,
                expires_at,
                account.owner_id,
            )
            .await?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            api_key: api_key_info(&record),
            key: key.expose().to_owned(),
        })
    }

    /// Revokes one of its keys.
    pub async fn revoke_agent_key(
        &self,
        caller: &Caller,
        id: Uuid,
        key_id: Uuid,
    ) -> Result<(), ServiceError> {
        let account = self.visible_account(caller, id, false).await?;
        self.revoke_key(Holder::Account(id), key_id, account.owner_id)
            .await
    }

    /// The account, if the caller may see it (`itself`: the agent too) or
    /// change it: 404 for a person who may not, as if it did not exist; 403
    /// for any other machine.
    async fn visible_account(
        &self,
        caller: &Caller,
        id: Uuid,
        itself: bool,
    ) -> Result<AccountRecord, ServiceError> {
        let account = service_accounts::find(self.db, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let allowed = match caller {
            Caller::Person { user, .. } => {
                account.owner_id == user.id || caller.allows(Permission::AgentsManage)
            }
            Caller::Machine(machine) if itself && machine.account_id() == Some(id) => true,
            // A machine never manages machines, its own account included.
            Caller::Machine(_) => return Err(ServiceError::Forbidden),
        };
        if allowed {
            Ok(account)
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// The permissions asked for, if all are in the catalogue (else 400)
    /// and held by `owner` (else 403).
    fn within_owner(
        &self,
        owner: &UserRecord,
        asked: &[String],
    ) -> Result<Vec<Permission>, ServiceError> {
        let permissions = parse_permissions(asked.iter().map(String::as_str))
            .map_err(|_| ServiceError::InvalidPermission)?;
        let grants = owner.grants();
        if permissions.iter().all(|p| grants.allows(*p)) {
            Ok(permissions)
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    async fn permissions_of(
        &self,
        account: &AccountRecord,
    ) -> Result<AgentPermissions, ServiceError> {
        let granted = known_permissions(&account.permissions);
        let owner = self
            .owner_permissions(account.owner_id)
            .await?
            .unwrap_or_default();
        Ok(AgentPermissions {
            effective: capped(&granted, &[&owner]),
            permissions: granted,
        })
    }

    async fn describe(&self, account: &AccountRecord) -> Result<Agent, ServiceError> {
        let owner = users::find_by_id(self.db, account.owner_id).await?;
        let granted = known_permissions(&account.permissions);
        let owner_permissions = owner
            .as_ref()
            .filter(|o| !o.disabled)
            .map(|o| o.grants().permissions)
            .unwrap_or_default();
        let keys = api_keys::list(self.db, Holder::Account(account.id)).await?;
        Ok(Agent {
            id: account.id.to_string(),
            name: account.name.clone(),
            kind: account.kind.clone(),
            description: account.description.clone(),
            effective: capped(&granted, &[&owner_permissions]),
            permissions: granted,
            owner_id: account.owner_id.to_string(),
            owner_email: owner.map(|o| o.email),
            disabled: account.disabled,
            created_at: rfc3339(account.created_at),
            keys: keys.iter().map(api_key_info).collect(),
        })
    }

    /// Records a change to an agent in its owner's activity; by a manager,
    /// with the manager as the actor.
    async fn agent_event(
        &self,
        caller: &Caller,
        account: &AccountRecord,
        event: EventType,
        details: serde_json::Value,
    ) {
        let actor = match caller {
            Caller::Person { user, .. } if user.id != account.owner_id => Some(user.id),
            _ => None,
        };
        audit::record(
            self.db,
            audit::Event {
                actor_id: actor,
                ..self.event(event, Outcome::Success, Some(account.owner_id), details)
            },
        )
        .await;
    }
}
