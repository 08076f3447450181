-- Sessions get a row of their own. Keep in step with
-- migrations/sqlite/0004_sessions.sql.
--
-- A session is a refresh-token family. Its row is the one place that says
-- whether it is alive: rotation and every revocation touch it first, so the
-- row lock orders them, and a revoked session refuses all of its tokens.

CREATE TABLE sessions (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    -- The last sign-in or refresh; the idle timeout counts from here.
    last_used_at TIMESTAMPTZ NOT NULL,
    -- The absolute end; no token of the session outlives it.
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    -- Of the last sign-in or refresh.
    user_agent   TEXT,
    ip           TEXT
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Each family becomes a session, described by its newest token.
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip)
SELECT t.family_id, t.user_id,
       (SELECT MIN(f.issued_at) FROM refresh_tokens f WHERE f.family_id = t.family_id),
       t.issued_at, t.expires_at,
       (SELECT MAX(f.revoked_at) FROM refresh_tokens f WHERE f.family_id = t.family_id),
       t.user_agent, t.ip
FROM refresh_tokens t
WHERE NOT EXISTS (
    SELECT 1 FROM refresh_tokens n
    WHERE n.family_id = t.family_id
      AND (n.issued_at > t.issued_at OR (n.issued_at = t.issued_at AND n.id > t.id)));

-- Revocation lives on the session now.
ALTER TABLE refresh_tokens DROP COLUMN revoked_at;

-- `parent_id` and `successor_id` stay as plain links. As foreign keys they
-- made deleting an ended session's tokens look up every row linking to
-- each one, which needed two more indexes updated on every refresh; tokens
-- are only ever deleted a whole session at a time.
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_parent_id_fkey;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_successor_id_fkey;

-- The token sealed with its parent, so that only someone presenting the
-- parent again can open it (see credentials/tokens.rs). Written with the
-- token, cleared when it is rotated in turn: no index is touched either
-- time, so the parent's update stays a HOT update.
ALTER TABLE refresh_tokens ADD COLUMN seal BYTEA;
