-- These run on a datasource's own connection (checks before a sync job is
-- saved), not on ours.

-- name: relation_columns(schema_name, table_name)
-- The columns of a table or view with their types: `type_name` as PostgreSQL
-- names the base type (int4, varchar, _int4 for int4[]), `type_sql` as it
-- would be written, with modifiers.
SELECT a.attname::text                      AS name,
       t.typname::text                      AS type_name,
       format_type(a.atttypid, a.atttypmod) AS type_sql,
       a.attnotnull                         AS not_null,
       a.atthasdef                          AS has_default,
       c.relkind::text                      AS relkind
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
  JOIN pg_catalog.pg_type t      ON t.oid = a.atttypid
 WHERE n.nspname = :schema_name AND c.relname = :table_name
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;

-- name: type_names(oids)
-- The names of a prepared query's column types, in order.
SELECT t.typname::text AS type_name
  FROM unnest(CAST(:oids AS oid[])) WITH ORDINALITY AS u (oid, i)
  JOIN pg_catalog.pg_type t ON t.oid = u.oid
 ORDER BY u.i;

-- name: table_privileges(schema_name, table_name)^
-- What the datasource's user may do to an existing table.
SELECT has_table_privilege(c.oid, 'INSERT') AS can_insert,
       has_table_privilege(c.oid, 'UPDATE') AS can_update,
       has_table_privilege(c.oid, 'DELETE') AS can_delete,
       has_table_privilege(c.oid, 'SELECT') AS can_select
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema_name AND c.relname = :table_name;

-- name: schema_privileges(schema_name)^
-- Whether the user may create a table in the schema (a missing sink is created).
SELECT has_schema_privilege(n.oid, 'CREATE') AS can_create
  FROM pg_catalog.pg_namespace n
 WHERE n.nspname = :schema_name;

-- name: has_unique_key(schema_name, table_name, columns)$
-- Whether a unique index covers exactly these columns (ON CONFLICT needs one).
SELECT EXISTS (
  SELECT 1
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class c     ON c.oid = i.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = :schema_name AND c.relname = :table_name AND i.indisunique
     AND i.indpred IS NULL AND i.indexprs IS NULL
     AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
            FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey))
         = (SELECT array_agg(k ORDER BY k) FROM unnest(CAST(:columns AS text[])) AS k)
);
