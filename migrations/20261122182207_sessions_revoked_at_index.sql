-- sessions_revoked_at_index: the hourly session cleanup deletes sessions that
-- expired or were revoked before a cut-off (`delete_expired_sessions`); with
-- only `expires_at` indexed, the OR made it scan every session. Revoked
-- sessions are few next to live ones, so the index is partial.

-- migrate:up
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- migrate:down
DROP INDEX sessions_revoked_at_idx;
