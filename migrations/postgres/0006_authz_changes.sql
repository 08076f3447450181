-- A log of changes to who may do what, which each replica follows to keep
-- its in-memory view of sessions and users current (services/authz_view.rs).
-- Keep in step with migrations/sqlite/0006_authz_changes.sql.
--
-- Triggers write it, so no code path that revokes a session or changes a
-- user can forget to. A row says "what you know of this user (and of this
-- session, when set) may be out of date"; it carries no secret.

CREATE TABLE authz_changes (
    seq        BIGSERIAL PRIMARY KEY,
    -- Milliseconds since the epoch, by the database's clock.
    at_ms      BIGINT NOT NULL,
    user_id    UUID NOT NULL,
    session_id UUID
);

CREATE INDEX authz_changes_at_ms_idx ON authz_changes (at_ms);

CREATE FUNCTION portcullis_authz_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    at_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'sessions' THEN
        INSERT INTO authz_changes (at_ms, user_id, session_id)
        VALUES (at_ms, NEW.user_id, NEW.id);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO authz_changes (at_ms, user_id) VALUES (at_ms, OLD.id);
    ELSE
        INSERT INTO authz_changes (at_ms, user_id) VALUES (at_ms, NEW.id);
    END IF;
    -- Delivered at commit, once per transaction (equal payloads fold).
    PERFORM pg_notify('portcullis_authz', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER users_authz_changed
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION portcullis_authz_changed();

CREATE TRIGGER sessions_authz_revoked
    AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW
    WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION portcullis_authz_changed();
