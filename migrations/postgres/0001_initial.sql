-- PostgreSQL schema. Keep in step with migrations/sqlite/0001_initial.sql.

CREATE TABLE users (
    id               UUID PRIMARY KEY,
    email            TEXT NOT NULL,
    password_hash    TEXT,
    display_name     TEXT NOT NULL,
    role             TEXT NOT NULL DEFAULT 'user',
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    external_user_id TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_external_user_id_key ON users (external_user_id)
    WHERE external_user_id IS NOT NULL;

CREATE TABLE refresh_tokens (
    id           UUID PRIMARY KEY,
    family_id    UUID NOT NULL,
    user_id      UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL,
    parent_id    UUID REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    successor_id UUID REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    rotated_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    user_agent   TEXT,
    ip           TEXT
);

CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    event_type  TEXT NOT NULL,
    user_id     UUID REFERENCES users (id) ON DELETE SET NULL,
    ip          TEXT,
    user_agent  TEXT,
    outcome     TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX audit_events_user_id_created_at_idx ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
