-- name: compact_page_ops(keep_revisions, older_than, max_rows)!
-- Op-log compaction, one batch. A page is read as its snapshot plus the ops
-- after `snapshot_version`, so older ops only serve retried opIds, clients
-- catching up from an old version, and history between recent revisions.
-- An op goes when all of these hold: it is at or below the snapshot; it is
-- at or below the `keep_revisions`-th newest revision (pages with fewer
-- revisions keep every op); it is older than `older_than`.
WITH horizon AS (
    SELECT p.id AS page_id,
           LEAST(p.snapshot_version,
                 COALESCE((SELECT r.version
                             FROM page_revisions r
                            WHERE r.page_id = p.id
                            ORDER BY r.version DESC
                           OFFSET :keep_revisions - 1
                            LIMIT 1), 0)) AS version
      FROM pages p
), doomed AS (
    SELECT o.page_id, o.version
      FROM page_ops o
      JOIN horizon h ON h.page_id = o.page_id
     WHERE o.version <= h.version
       AND o.at < :older_than
     LIMIT :max_rows
       FOR UPDATE OF o SKIP LOCKED
)
DELETE FROM page_ops o
 USING doomed d
 WHERE o.page_id = d.page_id AND o.version = d.version;
