-- Machine identities: service accounts and agents, and API keys (personal
-- ones and theirs). Keep in step with
-- migrations/sqlite/0007_machine_identities.sql.
--
-- A key is stored only as its SHA-256; `prefix` is its first characters,
-- for people to tell keys apart, and reveals nothing usable.

CREATE TABLE service_accounts (
    id          UUID PRIMARY KEY,
    owner_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('service', 'agent')),
    description TEXT NOT NULL DEFAULT '',
    -- A JSON array of permission names; never more than the owner holds
    -- (checked when set, and again, by intersection, at every use).
    permissions TEXT NOT NULL DEFAULT '[]',
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX service_accounts_owner_name_key ON service_accounts (owner_id, name);
CREATE INDEX service_accounts_created_at_idx ON service_accounts (created_at);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    key_hash     BYTEA NOT NULL,
    prefix       TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('pk', 'sk')),
    -- A personal key's user, or a service account's key: exactly one.
    user_id      UUID REFERENCES users (id) ON DELETE CASCADE,
    account_id   UUID REFERENCES service_accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- A JSON array of permission names; NULL: all of its account's.
    scopes       TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    -- NULL: never (an administrator's explicit choice).
    expires_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    last_used_ip TEXT,
    revoked_at   TIMESTAMPTZ,
    CHECK ((kind = 'pk' AND user_id IS NOT NULL AND account_id IS NULL)
        OR (kind = 'sk' AND account_id IS NOT NULL AND user_id IS NULL))
);

CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
CREATE INDEX api_keys_account_id_idx ON api_keys (account_id);

-- What the replicas' views hold of an account or a key goes stale when
-- either changes (services/authz_view.rs follows authz_changes). An
-- account's change names it as the user (the function of 0006 does that
-- for any table but sessions); a key's names its principal as the user
-- and the key as the session.
CREATE TRIGGER service_accounts_authz_changed
    AFTER UPDATE OR DELETE ON service_accounts
    FOR EACH ROW EXECUTE FUNCTION portcullis_authz_changed();

CREATE FUNCTION portcullis_api_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    at_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO authz_changes (at_ms, user_id, session_id)
        VALUES (at_ms, COALESCE(OLD.account_id, OLD.user_id), OLD.id);
    ELSE
        INSERT INTO authz_changes (at_ms, user_id, session_id)
        VALUES (at_ms, COALESCE(NEW.account_id, NEW.user_id), NEW.id);
    END IF;
    PERFORM pg_notify('portcullis_authz', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_authz_revoked
    AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION portcullis_api_key_changed();

CREATE TRIGGER api_keys_authz_deleted
    AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION portcullis_api_key_changed();
