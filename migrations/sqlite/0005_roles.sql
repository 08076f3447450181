-- Roles, permissions and user attributes. Keep in step with
-- migrations/postgres/0005_roles.sql, which says why.

CREATE TABLE roles (
    name        TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
) STRICT;

CREATE TABLE user_roles (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
) STRICT;

CREATE INDEX user_roles_role_idx ON user_roles (role);

INSERT INTO roles (name, description, created_at, updated_at) VALUES
    ('user', 'Everyone who has an account.',
     strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('admin', 'Every permission.',
     strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

INSERT INTO user_roles (user_id, role, granted_at)
SELECT id, 'admin', strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM users WHERE role = 'admin';

ALTER TABLE users DROP COLUMN role;

ALTER TABLE users ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN authz_version INTEGER NOT NULL DEFAULT 1;

CREATE INDEX users_created_at_id_idx ON users (created_at DESC, id DESC);

-- SQLite cannot drop a foreign key: the table is rebuilt without it.
CREATE TABLE audit_events_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type  TEXT NOT NULL,
    user_id     BLOB,
    ip          TEXT,
    user_agent  TEXT,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL,
    actor_id    BLOB
) STRICT;

INSERT INTO audit_events_new (id, event_type, user_id, ip, user_agent, outcome, details, created_at)
SELECT id, event_type, user_id, ip, user_agent, outcome, details, created_at FROM audit_events;

DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;

CREATE INDEX audit_events_user_id_created_at_idx ON audit_events (user_id, created_at);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
