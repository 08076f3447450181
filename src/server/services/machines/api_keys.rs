//! A person's own API keys: made with scopes from what they hold, shown
//! once, listed with their last use, revoked.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::super::{rfc3339, ServiceError, Services};
use crate::{
    model::{ApiKey, ApiKeyList, CreatedApiKey, NewApiKey as NewKeyRequest},
    server::{
        credentials::{
            api_keys::{KeyKind, NewApiKey},
            tokens::Principal,
        },
        domain::{
            events::{EventType, Outcome},
            machines::{known_permissions, parse_permissions, permission_names, valid_name},
        },
        store::{
            api_keys::{self, Holder, KeyRecord, NewKey},
            audit,
            db::WriteTx,
        },
    },
};

impl Services<'_> {
    /// Makes a key for the signed-in user: its scopes must be theirs, and
    /// only an administrator may make one that never expires.
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        request: &NewKeyRequest,
    ) -> Result<CreatedApiKey, ServiceError> {
        let user = self.authorize(principal).await?.user;
        let name = request.name.as_deref().unwrap_or_default();
        if !valid_name(name) {
            return Err(ServiceError::InvalidName);
        }
        let scopes = parse_permissions(request.scopes.iter().flatten().map(String::as_str))
            .map_err(|_| ServiceError::InvalidPermission)?;
        let grants = user.grants();
        if !scopes.iter().all(|scope| grants.allows(*scope)) {
            return Err(ServiceError::Forbidden);
        }
        let expires_at = self.policies.machines.key_expiry(
            request.expires_in_days,
            request.never_expires,
            grants.is_admin(),
            self.now,
        )?;
        let mut tx = self.db.write_tx().await?;
        let (record, key) = self
            .insert_key_in(
                &mut tx,
                KeyKind::Personal,
                Holder::User(user.id),
                name,
                Some(&permission_names(&scopes)),
                expires_at,
                user.id,
            )
            .await?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            api_key: api_key_info(&record),
            key: key.expose().to_owned(),
        })
    }

    /// The signed-in user's unrevoked keys, newest first.
    pub async fn api_keys(&self, principal: &Principal) -> Result<ApiKeyList, ServiceError> {
        let user = self.check_session(principal).await?.user;
        let keys = api_keys::list(self.db, Holder::User(user.id)).await?;
        Ok(ApiKeyList {
            api_keys: keys.iter().map(api_key_info).collect(),
        })
    }

    /// Revokes one of the signed-in user's keys; 404 for anyone else's.
    pub async fn revoke_api_key(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        let user = self.check_session(principal).await?.user;
        self.revoke_key(Holder::User(user.id), id, user.id).await
    }

    /// Revokes the holder's key `id`, recorded in `owner`'s activity.
    pub(super) async fn revoke_key(
        &self,
        holder: Holder,
        id: Uuid,
        owner: Uuid,
    ) -> Result<(), ServiceError> {
        if !api_keys::revoke(self.db, holder, id, self.now).await? {
            return Err(ServiceError::NotFound);
        }
        self.audit(
            EventType::ApiKeyRevoked,
            Outcome::Success,
            Some(owner),
            json!({ "key": id }),
        )
        .await;
        Ok(())
    }

    /// Makes a key and records it in `tx`, in `owner`'s activity.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn insert_key_in(
        &self,
        tx: &mut WriteTx,
        kind: KeyKind,
        holder: Holder,
        name: &str,
        scopes: Option<&[String]>,
        expires_at: Option<DateTime<Utc>>,
        owner: Uuid,
    ) -> Result<(KeyRecord, NewApiKey), ServiceError> {
        let key = NewApiKey::generate(kind);
        let hash = key.hash();
        let (user_id, account_id) = match holder {
            Holder::User(id) => (Some(id), None),
            Holder::Account(id) => (None, Some(id)),
        };
        let record = KeyRecord {
            id: Uuid::new_v4(),
            prefix: key.prefix().to_owned(),
            kind: kind.as_str().to_owned(),
            user_id,
            account_id,
            name: name.to_owned(),
            scopes: scopes.map(|s| sqlx::types::Json(s.to_vec())),
            created_at: self.now,
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
        };
        api_keys::insert_in(
            tx,
            &NewKey {
                id: record.id,
                hash: &hash,
                prefix: &record.prefix,
                kind: &record.kind,
                user_id,
                account_id,
                name,
                scopes,
                created_at: self.now,
                expires_at,
            },
        )
        .await?;
        audit::record_in(
            tx,
            self.event(
                EventType::ApiKeyCreated,
                Outcome::Success,
                Some(owner),
                json!({
                    "key": record.id,
                    "name": name,
                    "kind": kind.as_str(),
                    "account": account_id,
                    "expires_at": expires_at.map(rfc3339),
                }),
            ),
        )
        .await?;
        Ok((record, key))
    }
}

/// A key as its owner sees it.
pub fn api_key_info(record: &KeyRecord) -> ApiKey {
    ApiKey {
        id: record.id.to_string(),
        name: record.name.clone(),
        kind: record.kind.clone(),
        prefix: record.prefix.clone(),
        scopes: record.scopes.as_ref().map(|s| known_permissions(s)),
        created_at: rfc3339(record.created_at),
        expires_at: record.expires_at.map(rfc3339),
        last_used_at: record.last_used_at.map(rfc3339),
        last_used_ip: record.last_used_ip.clone(),
    }
}
