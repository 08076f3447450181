-- Roles, permissions and user attributes. Keep in step with
-- migrations/sqlite/0005_roles.sql.
--
-- A role is a named set of permissions from the catalogue in src/model.rs.
-- Two are built in: `user`, which everyone holds without a row here, and
-- `admin`, which holds every permission whatever its rows say.

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE user_roles (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE INDEX user_roles_role_idx ON user_roles (role);

INSERT INTO roles (name, description, created_at, updated_at) VALUES
    ('user', 'Everyone who has an account.', now(), now()),
    ('admin', 'Every permission.', now(), now());

-- The old single role column becomes rows; `user` is implied.
INSERT INTO user_roles (user_id, role, granted_at)
SELECT id, 'admin', now() FROM users WHERE role = 'admin';

ALTER TABLE users DROP COLUMN role;

-- Set by administrators, for the services that read them from the token.
ALTER TABLE users ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}';
-- The authorization version: it moves whenever roles, attributes, the
-- disabled flag or the password change, and tokens carrying an older one
-- are refused.
ALTER TABLE users ADD COLUMN authz_version BIGINT NOT NULL DEFAULT 1;

-- For the admin console's user list: newest first, by keyset.
CREATE INDEX users_created_at_id_idx ON users (created_at DESC, id DESC);

-- Audit events outlive the account they concern (deleting a user keeps
-- its history, under its id), and say who acted when it was someone else.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_user_id_fkey;
ALTER TABLE audit_events ADD COLUMN actor_id UUID;
