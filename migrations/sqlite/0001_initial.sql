-- SQLite schema. Keep in step with migrations/postgres/0001_initial.sql.
-- UUIDs are 16-byte BLOBs, timestamps RFC 3339 UTC text, booleans 0/1.

CREATE TABLE users (
    id               BLOB PRIMARY KEY NOT NULL,
    email            TEXT NOT NULL,
    password_hash    TEXT,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL DEFAULT 'user',
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    external_user_id TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_external_user_id_key ON users (external_user_id)
    WHERE external_user_id IS NOT NULL;

CREATE TABLE refresh_tokens (
    id           BLOB PRIMARY KEY NOT NULL,
    family_id    BLOB NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BLOB NOT NULL,
    parent_id    BLOB REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    successor_id BLOB REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    rotated_at   TEXT,
    revoked_at   TEXT,
    user_agent   TEXT,
    ip           TEXT
) STRICT;

CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type  TEXT NOT NULL,
    user_id     BLOB REFERENCES users (id) ON DELETE SET NULL,
    ip          TEXT,
    user_agent  TEXT,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_user_id_created_at_idx ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
