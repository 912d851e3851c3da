-- name: insert_page(workspace_id, title, schema, created_by)<!
-- @row PageSummaryRow
INSERT INTO pages (workspace_id, title, schema, created_by, updated_by)
VALUES (:workspace_id, :title, :schema, :created_by, :created_by)
RETURNING id, workspace_id, title, version, created_by, created_at, updated_by, updated_at;

-- name: get_page_for_member(page_id, user_id)^
-- @nullable-columns my_role
-- A live page with the caller's role in its workspace (NULL: not a member).
SELECT p.id, p.workspace_id, p.title, p.schema, p.version, p.snapshot_version, p.snapshot_at,
       p.created_by, p.created_at, p.updated_by, p.updated_at, m.role AS my_role
  FROM pages p
  LEFT JOIN workspace_members m ON m.workspace_id = p.workspace_id AND m.user_id = :user_id
 WHERE p.id = :page_id AND p.deleted_at IS NULL;

-- name: lock_page_head(page_id)^
-- @row PageHeadRow
-- The head of a live page, row-locked: writers of one page serialise here.
SELECT id, workspace_id, schema, version, snapshot_version, snapshot_at
  FROM pages
 WHERE id = :page_id AND deleted_at IS NULL
   FOR UPDATE;

-- name: get_page_head(page_id)^
-- @row PageHeadRow
SELECT id, workspace_id, schema, version, snapshot_version, snapshot_at
  FROM pages
 WHERE id = :page_id AND deleted_at IS NULL;

-- name: write_snapshot(page_id, schema, snapshot_version)!
UPDATE pages
   SET schema = :schema, snapshot_version = :snapshot_version, snapshot_at = now()
 WHERE id = :page_id AND snapshot_version < :snapshot_version;

-- name: update_title(page_id, title, updated_by)^
-- @row PageSummaryRow
UPDATE pages
   SET title = :title, updated_by = :updated_by, updated_at = now()
 WHERE id = :page_id AND deleted_at IS NULL
RETURNING id, workspace_id, title, version, created_by, created_at, updated_by, updated_at;

-- name: soft_delete_page(page_id)!
UPDATE pages SET deleted_at = now() WHERE id = :page_id AND deleted_at IS NULL;

-- name: list_pages(workspace_id, query, sort, limit, offset)
-- @nullable-params query
-- @row PageSummaryRow
-- `sort` is one of title, -title, created_at, -created_at, updated_at, -updated_at
-- (the spec enforces it); each CASE orders by one of them and is NULL otherwise.
SELECT id, workspace_id, title, version, created_by, created_at, updated_by, updated_at
  FROM pages
 WHERE workspace_id = :workspace_id AND deleted_at IS NULL
   AND (CAST(:query AS text) IS NULL OR title ILIKE :query)
 ORDER BY CASE WHEN :sort = 'title'       THEN title END ASC,
          CASE WHEN :sort = '-title'      THEN title END DESC,
          CASE WHEN :sort = 'created_at'  THEN created_at END ASC,
          CASE WHEN :sort = '-created_at' THEN created_at END DESC,
          CASE WHEN :sort = 'updated_at'  THEN updated_at END ASC,
          CASE WHEN :sort = '-updated_at' THEN updated_at END DESC,
          id
 LIMIT :limit OFFSET :offset;

-- name: count_pages(workspace_id, query)$
-- @nullable-params query
SELECT count(*)
  FROM pages
 WHERE workspace_id = :workspace_id AND deleted_at IS NULL
   AND (CAST(:query AS text) IS NULL OR title ILIKE :query);

-- name: socket_access(page_id, session_ids)
-- @nullable-columns role
-- What each open socket of a page may still do, asked when ops arrive and
-- when access may have changed: is its session live (not revoked, not
-- expired, the user not disabled), does the page still exist, and the user's
-- role in its workspace (NULL: no longer a member). A session that is gone
-- (its user deleted) has no row.
SELECT s.id AS session_id,
       (s.revoked_at IS NULL AND NOT u.disabled AND s.expires_at > now()) AS active,
       (p.id IS NOT NULL) AS page_live,
       m.role
  FROM sessions s
  JOIN users u ON u.id = s.user_id
  LEFT JOIN pages p ON p.id = :page_id AND p.deleted_at IS NULL
  LEFT JOIN workspace_members m ON m.workspace_id = p.workspace_id AND m.user_id = s.user_id
 WHERE s.id = ANY(CAST(:session_ids AS uuid[]));
