-- A log of changes to who may do what, which the server follows to keep its
-- in-memory view of sessions and users current (services/authz_view.rs).
-- Keep in step with migrations/postgres/0006_authz_changes.sql.
--
-- Triggers write it, so no code path that revokes a session or changes a
-- user can forget to. A row says "what you know of this user (and of this
-- session, when set) may be out of date"; it carries no secret.

CREATE TABLE authz_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Milliseconds since the epoch.
    at_ms      INTEGER NOT NULL,
    user_id    BLOB NOT NULL,
    session_id BLOB
);

CREATE INDEX authz_changes_at_ms_idx ON authz_changes (at_ms);

CREATE TRIGGER users_authz_changed AFTER UPDATE ON users
BEGIN
    INSERT INTO authz_changes (at_ms, user_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.id);
END;

CREATE TRIGGER users_authz_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO authz_changes (at_ms, user_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), OLD.id);
END;

CREATE TRIGGER sessions_authz_revoked AFTER UPDATE OF revoked_at ON sessions
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO authz_changes (at_ms, user_id, session_id)
    VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), NEW.user_id, NEW.id);
END;
