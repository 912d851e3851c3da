-- name: insert_revision(page_id, version, schema, reason, created_by)!
-- @nullable-params created_by
INSERT INTO page_revisions (page_id, version, schema, reason, created_by)
VALUES (:page_id, :version, :schema, :reason, :created_by)
ON CONFLICT (page_id, version) DO NOTHING;

-- name: list_revisions(page_id, limit, offset)
SELECT version, reason, created_by, created_at
  FROM page_revisions
 WHERE page_id = :page_id
 ORDER BY version DESC
 LIMIT :limit OFFSET :offset;

-- name: count_revisions(page_id)$
SELECT count(*) FROM page_revisions WHERE page_id = :page_id;

-- name: get_revision(page_id, version)^
SELECT version, schema, reason, created_by, created_at
  FROM page_revisions
 WHERE page_id = :page_id AND version = :version;
