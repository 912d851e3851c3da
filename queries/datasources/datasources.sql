-- name: insert_datasource(workspace_id, name, description, host, port, database, username, password_ciphertext, ssl_mode, created_by)<!
-- @nullable-params password_ciphertext
-- @notnull-columns has_password
INSERT INTO datasources (workspace_id, name, description, host, port, database, username,
                         password_ciphertext, ssl_mode, created_by, updated_by)
VALUES (:workspace_id, :name, :description, :host, :port, :database, :username,
        :password_ciphertext, :ssl_mode, :created_by, :created_by)
RETURNING id, workspace_id, name, description, kind, host, port, database, username, ssl_mode,
          password_ciphertext IS NOT NULL AS has_password,
          version, created_by, created_at, updated_by, updated_at;

-- name: get_datasource_for_member(datasource_id, user_id)^
-- @nullable-columns my_role
-- @notnull-columns has_password
-- The datasource (never its password) with the caller's role in its workspace
-- (NULL: not a member).
SELECT d.id, d.workspace_id, d.name, d.description, d.kind, d.host, d.port, d.database,
       d.username, d.ssl_mode, d.password_ciphertext IS NOT NULL AS has_password,
       d.version, d.created_by, d.created_at, d.updated_by, d.updated_at, m.role AS my_role
  FROM datasources d
  LEFT JOIN workspace_members m ON m.workspace_id = d.workspace_id AND m.user_id = :user_id
 WHERE d.id = :datasource_id;

-- name: list_datasources(workspace_id, limit, offset)
-- @notnull-columns has_password
SELECT id, workspace_id, name, description, kind, host, port, database, username, ssl_mode,
       password_ciphertext IS NOT NULL AS has_password,
       version, created_by, created_at, updated_by, updated_at
  FROM datasources
 WHERE workspace_id = :workspace_id
 ORDER BY name, id
 LIMIT :limit OFFSET :offset;

-- name: count_datasources(workspace_id)$
SELECT count(*) FROM datasources WHERE workspace_id = :workspace_id;

-- name: update_datasource(datasource_id, name, description, host, port, database, username, set_password, password_ciphertext, ssl_mode, expected_version, updated_by)^
-- @nullable-params name, description, host, port, database, username, password_ciphertext, ssl_mode, expected_version
-- @notnull-columns has_password
-- Fields left NULL keep their value; with `set_password` the password is
-- replaced (NULL removes it). Optimistic lock: no row when `expected_version`
-- is given and stale.
UPDATE datasources
   SET name                = COALESCE(CAST(:name AS text), name),
       description         = COALESCE(CAST(:description AS text), description),
       host                = COALESCE(CAST(:host AS text), host),
       port                = COALESCE(CAST(:port AS integer), port),
       database            = COALESCE(CAST(:database AS text), database),
       username            = COALESCE(CAST(:username AS text), username),
       password_ciphertext = CASE WHEN :set_password THEN CAST(:password_ciphertext AS text)
                                  ELSE password_ciphertext END,
       ssl_mode            = COALESCE(CAST(:ssl_mode AS text), ssl_mode),
       version             = version + 1,
       updated_by          = :updated_by,
       updated_at          = now()
 WHERE id = :datasource_id
   AND (CAST(:expected_version AS integer) IS NULL OR version = :expected_version)
RETURNING id, workspace_id, name, description, kind, host, port, database, username, ssl_mode,
          password_ciphertext IS NOT NULL AS has_password,
          version, created_by, created_at, updated_by, updated_at;

-- name: get_datasource_version(datasource_id)$
SELECT version FROM datasources WHERE id = :datasource_id;

-- name: delete_datasource(datasource_id)!
DELETE FROM datasources WHERE id = :datasource_id;

-- name: get_datasource_connection(datasource_id)^
-- What connecting needs, the encrypted password included; never returned to clients.
SELECT id, workspace_id, host, port, database, username, password_ciphertext, ssl_mode, version
  FROM datasources
 WHERE id = :datasource_id;

-- name: list_password_ciphertexts(after_id, limit)
-- Key rotation walks every stored password in id order, a batch at a time.
SELECT id, password_ciphertext
  FROM datasources
 WHERE password_ciphertext IS NOT NULL AND id > :after_id
 ORDER BY id
 LIMIT :limit;

-- name: replace_password_ciphertext(datasource_id, old_ciphertext, new_ciphertext)!
-- Compare-and-set, so a password changed meanwhile is not overwritten.
UPDATE datasources
   SET password_ciphertext = :new_ciphertext
 WHERE id = :datasource_id AND password_ciphertext = :old_ciphertext;
