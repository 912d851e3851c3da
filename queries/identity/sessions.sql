-- name: insert_session(user_id, user_agent, ip, expires_at)<!
-- @nullable-params user_agent, ip
INSERT INTO sessions (user_id, user_agent, ip, expires_at)
VALUES (:user_id, :user_agent, :ip, :expires_at)
RETURNING id;

-- name: insert_refresh_token(session_id, parent_id, token_hash)!
-- @nullable-params parent_id
INSERT INTO refresh_tokens (session_id, parent_id, token_hash)
VALUES (:session_id, :parent_id, :token_hash);

-- name: claim_refresh_token(token_hash)^
-- Atomically mark an unused token used; of two concurrent claims exactly one
-- gets a row (the row lock serialises them, the loser sees used_at set).
UPDATE refresh_tokens
   SET used_at = now()
 WHERE token_hash = :token_hash AND used_at IS NULL
RETURNING id, session_id;

-- name: find_recent_successor(parent_hash, successor_hash, reuse_interval_s)^
-- The successor of a refresh token rotated less than `reuse_interval_s` ago
-- (by the database's clock, which set `used_at`).
SELECT c.id, c.session_id
  FROM refresh_tokens p
  JOIN refresh_tokens c ON c.parent_id = p.id
 WHERE p.token_hash = :parent_hash
   AND c.token_hash = :successor_hash
   AND p.used_at > now() - make_interval(secs => :reuse_interval_s);

-- name: find_refresh_token(token_hash)^
SELECT id, session_id, used_at FROM refresh_tokens WHERE token_hash = :token_hash;

-- name: get_session_state(session_id)^
SELECT s.id, s.user_id, s.expires_at, s.revoked_at, u.role, u.disabled
  FROM sessions s
  JOIN users u ON u.id = s.user_id
 WHERE s.id = :session_id;

-- name: touch_session(session_id)!
UPDATE sessions SET last_used_at = now() WHERE id = :session_id;

-- name: revoke_session(session_id, reason)!
UPDATE sessions
   SET revoked_at = now(), revoked_reason = :reason
 WHERE id = :session_id AND revoked_at IS NULL;

-- name: revoke_user_sessions(user_id, keep_session_id, reason)
-- @nullable-params keep_session_id
-- Revoke every live session of a user except `keep_session_id`; returns the ids.
UPDATE sessions
   SET revoked_at = now(), revoked_reason = :reason
 WHERE user_id = :user_id
   AND revoked_at IS NULL
   AND (CAST(:keep_session_id AS uuid) IS NULL OR id <> :keep_session_id)
RETURNING id;

-- name: live_session_ids(user_id)
SELECT id FROM sessions WHERE user_id = :user_id AND revoked_at IS NULL;

-- name: list_live_sessions(user_id, limit, offset)
SELECT id, user_agent, ip, created_at, last_used_at, expires_at
  FROM sessions
 WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at > now()
 ORDER BY last_used_at DESC, id
 LIMIT :limit OFFSET :offset;

-- name: count_live_sessions(user_id)$
SELECT count(*)
  FROM sessions
 WHERE user_id = :user_id AND revoked_at IS NULL AND expires_at > now();

-- name: delete_expired_sessions(older_than)!
-- Sessions expired or revoked before `older_than`; their tokens go with them.
DELETE FROM sessions
 WHERE expires_at < :older_than OR revoked_at < :older_than;
