-- name: append_at_head(page_id, base_version, new_version, updated_by, versions, patches, op_ids, actors, payload)^
-- @notnull-columns snapshot_version, snapshot_at
-- The op log's write in one statement (one round trip, atomic on its own):
-- move the head from base to new only if it is still at base, append the ops
-- as those versions and notify the rooms. No row: someone else moved the head
-- first, and nothing was written. `patches` are JSON texts: a patch is itself
-- a JSON array, which a jsonb[] parameter would take for a second dimension.
WITH head AS (
    UPDATE pages
       SET version = :new_version, updated_by = :updated_by, updated_at = now()
     WHERE id = :page_id AND version = :base_version AND deleted_at IS NULL
 RETURNING id, snapshot_version, snapshot_at
), appended AS (
    INSERT INTO page_ops (page_id, version, patch, op_id, actor)
    SELECT head.id, t.version, CAST(t.patch AS jsonb), t.op_id, t.actor
      FROM head,
           unnest(CAST(:versions AS integer[]), CAST(:patches AS text[]),
                  CAST(:op_ids AS text[]), CAST(:actors AS uuid[]))
           AS t(version, patch, op_id, actor)
)
SELECT head.snapshot_version, head.snapshot_at, pg_notify('lowcode_page_ops', :payload) AS notified
  FROM head;

-- name: append_at_heads(page_ids, base_versions, new_versions, updated_bys, op_pages, versions, patches, op_ids, actors)
-- @notnull-columns page_id, snapshot_version, snapshot_at
-- `append_at_head` for several pages in one statement (the rooms of a process
-- write what they have queued together). Rows lock in page order, so two
-- processes' statements cannot deadlock; a page whose head moved meanwhile is
-- skipped (no row for it, none of its ops written); each page moved is notified.
WITH req AS (
    SELECT r.page_id, r.base_version, r.new_version, r.updated_by
      FROM unnest(CAST(:page_ids AS uuid[]), CAST(:base_versions AS integer[]),
                  CAST(:new_versions AS integer[]), CAST(:updated_bys AS uuid[]))
           AS r(page_id, base_version, new_version, updated_by)
), locked AS (
    SELECT p.id, req.new_version, req.updated_by
      FROM pages p
      JOIN req ON req.page_id = p.id
     WHERE p.version = req.base_version AND p.deleted_at IS NULL
     ORDER BY p.id
       FOR UPDATE OF p
), head AS (
    UPDATE pages p
       SET version = locked.new_version, updated_by = locked.updated_by, updated_at = now()
      FROM locked
     WHERE p.id = locked.id
 RETURNING p.id, p.version, p.snapshot_version, p.snapshot_at
), appended AS (
    INSERT INTO page_ops (page_id, version, patch, op_id, actor)
    SELECT t.page_id, t.version, CAST(t.patch AS jsonb), t.op_id, t.actor
      FROM unnest(CAST(:op_pages AS uuid[]), CAST(:versions AS integer[]),
                  CAST(:patches AS text[]), CAST(:op_ids AS text[]), CAST(:actors AS uuid[]))
           AS t(page_id, version, patch, op_id, actor)
      JOIN head ON head.id = t.page_id
)
SELECT head.id AS page_id, head.snapshot_version, head.snapshot_at,
       pg_notify('lowcode_page_ops',
                 json_build_object('page_id', head.id, 'version', head.version)::text) AS notified
  FROM head;

-- name: ops_after(page_id, after_version)
-- @row PageOpEntryRow
SELECT version, patch, op_id, actor, at
  FROM page_ops
 WHERE page_id = :page_id AND version > :after_version
 ORDER BY version;

-- name: ops_between(page_id, after_version, up_to)
-- @row PageOpEntryRow
-- The ops a rebase is checked against: those after the op's base, up to the head.
SELECT version, patch, op_id, actor, at
  FROM page_ops
 WHERE page_id = :page_id AND version > :after_version AND version <= :up_to
 ORDER BY version;

-- name: find_op(page_id, op_id)^
-- @row PageOpEntryRow
SELECT version, patch, op_id, actor, at
  FROM page_ops
 WHERE page_id = :page_id AND op_id = :op_id;

-- name: find_ops(page_id, op_ids)
-- @row PageOpEntryRow
SELECT version, patch, op_id, actor, at
  FROM page_ops
 WHERE page_id = :page_id AND op_id = ANY(CAST(:op_ids AS text[]));
