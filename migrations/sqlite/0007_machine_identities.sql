-- Machine identities: service accounts and agents, and API keys (personal
-- ones and theirs). Keep in step with
-- migrations/postgres/0007_machine_identities.sql.
--
-- A key is stored only as its SHA-256; `prefix` is its first characters,
-- for people to tell keys apart, and reveals nothing usable.

CREATE TABLE service_accounts (
    id          BLOB PRIMARY KEY NOT NULL,
    owner_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('service', 'agent')),
    description TEXT NOT NULL DEFAULT '',
    -- A JSON array of permission names; never more than the owner holds
    -- (checked when set, and again, by intersection, at every use).
    permissions TEXT NOT NULL DEFAULT '[]',
    disabled    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX service_accounts_owner_name_key ON service_accounts (owner_id, name);
CREATE INDEX service_accounts_created_at_idx ON service_accounts (created_at);

CREATE TABLE api_keys (
    id           BLOB PRIMARY KEY NOT NULL,
    key_hash     BLOB NOT NULL,
    prefix       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('pk', 'sk')),
    -- A personal key's user, or a service account's key: exactly one.
    user_id      BLOB REFERENCES users (id) ON DELETE CASCADE,
    account_id   BLOB REFERENCES service_accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- A JSON array of permission names; NULL: all of its account's.
    scopes       TEXT,
    created_at   TEXT NOT NULL,
    -- NULL: never (an administrator's explicit choice).
    expires_at   TEXT,
    last_used_at TEXT,
    last_used_ip TEXT,
    revoked_at   TEXT,
    CHECK ((kind = 'pk' AND user_id IS NOT NULL AND account_id IS NULL)
        OR (kind = 'sk' AND account_id IS NOT NULL AND user_id IS NULL))
) STRICT;

CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
CREATE INDEX api_keys_account_id_idx ON api_keys (account_id);

-- What the replicas' views hold of an account or a key goes stale when
-- either changes (services/authz_view.rs follows authz_changes). A key's
-- change names its principal as the user and the key as the session.
CREATE TRIGGER service_accounts_authz_changed AFTER UPDATE ON service_accounts
BEGIN
    INSERT INTO authz_changes (at_ms, user_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.id);
END;

CREATE TRIGGER service_accounts_authz_deleted AFTER DELETE ON service_accounts
BEGIN
    INSERT INTO authz_changes (at_ms, user_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.id);
END;

CREATE TRIGGER api_keys_authz_revoked AFTER UPDATE OF revoked_at ON api_keys
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO authz_changes (at_ms, user_id, session_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
            COALESCE(NEW.account_id, NEW.user_id), NEW.id);
END;

CREATE TRIGGER api_keys_authz_deleted AFTER DELETE ON api_keys
BEGIN
    INSERT INTO authz_changes (at_ms, user_id, session_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
            COALESCE(OLD.account_id, OLD.user_id), OLD.id);
END;
