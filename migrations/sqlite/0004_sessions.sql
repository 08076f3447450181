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

-- Refresh tokens, rebuilt (SQLite cannot drop a column's foreign key):
-- - revocation lives on the session now, so `revoked_at` goes;
-- - `parent_id` and `successor_id` stay as plain links. As foreign keys
--   they made deleting an ended session's tokens look up every row linking
--   to each one, which needed two more indexes updated on every refresh;
--   tokens are only ever deleted a whole session at a time.
-- - `seal`: the token sealed with its parent, so that only someone
--   presenting the parent again can open it (see credentials/tokens.rs).
--   Written with the token, cleared when it is rotated in turn: no index
--   is touched either time.
CREATE TABLE refresh_tokens_new (
    id             BLOB PRIMARY KEY NOT NULL,
    family_id      BLOB NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash     BLOB NOT NULL,
    parent_id      BLOB,
    successor_id   BLOB,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    rotated_at     TEXT,
    seal           BLOB,
    user_agent     TEXT,
    ip             TEXT
) STRICT;

INSERT INTO refresh_tokens_new (id, family_id, user_id, token_hash, parent_id, successor_id,
                                issued_at, expires_at, rotated_at, user_agent, ip)
SELECT id, family_id, user_id, token_hash, parent_id, successor_id,
       issued_at, expires_at, rotated_at, user_agent, ip
FROM refresh_tokens;

-- Dropping deletes every row first, and each delete sets the links to it
-- to NULL: indexed for the moment, or that is a scan per row.
CREATE INDEX refresh_tokens_parent_id_idx ON refresh_tokens (parent_id);
CREATE INDEX refresh_tokens_successor_id_idx ON refresh_tokens (successor_id);
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;

CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
