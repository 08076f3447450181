-- Sessions get a row of their own. Keep in step with
-- migrations/postgres/0004_sessions.sql.
--
-- A session is a refresh-token family. Its row is the one place that says
-- whether it is alive: rotation and every revocation touch it first, so the
-- row lock orders them, and a revoked session refuses all of its tokens.

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    -- The last sign-in or refresh; the idle timeout counts from here.
    last_used_at TEXT NOT NULL,
    -- The absolute end; no token of the session outlives it.
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    -- Of the last sign-in or refresh.
    user_agent   TEXT,
    ip           TEXT
) STRICT;

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

-- A rotated token's successor, sealed with the rotated token itself: only
-- someone who presents that token again can open it (see
-- credentials/tokens.rs). Cleared once the reuse grace window is over.
ALTER TABLE refresh_tokens ADD COLUMN successor_seal BLOB;
CREATE INDEX refresh_tokens_sealed_idx ON refresh_tokens (rotated_at)
    WHERE successor_seal IS NOT NULL;

-- Ended sessions' tokens are deleted now; each deleted row sets the links
-- pointing at it to NULL, which without these means a scan per row.
CREATE INDEX refresh_tokens_parent_id_idx ON refresh_tokens (parent_id);
CREATE INDEX refresh_tokens_successor_id_idx ON refresh_tokens (successor_id);
