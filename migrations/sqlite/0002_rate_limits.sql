-- Throttling counters. Keep in step with
-- migrations/postgres/0002_rate_limits.sql.
--
-- One row per key, e.g. `login:account:<email>` or `signup:ip:<address>`.
-- `hits` counts within the window that began at `window_started_at`;
-- `blocked_until`, when in the future, refuses the key outright.

CREATE TABLE rate_limits (
    key               TEXT PRIMARY KEY NOT NULL,
    hits              INTEGER NOT NULL,
    window_started_at TEXT NOT NULL,
    last_hit_at       TEXT NOT NULL,
    blocked_until     TEXT
) STRICT;

CREATE INDEX rate_limits_last_hit_at_idx ON rate_limits (last_hit_at);
