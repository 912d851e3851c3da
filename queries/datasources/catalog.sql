-- These run on a datasource's own connection (its live catalog), not on ours.

-- name: list_catalog_columns(max_columns)
-- Columns of the tables and views the connecting role can see, outside the
-- system schemas. Arrays and user-defined types are named by their udt.
SELECT c.table_schema AS schema_name,
       c.table_name,
       c.column_name,
       CASE c.data_type
            WHEN 'ARRAY'        THEN ltrim(c.udt_name, '_') || '[]'
            WHEN 'USER-DEFINED' THEN c.udt_name
            ELSE c.data_type
       END AS data_type,
       c.is_nullable = 'YES' AS nullable
  FROM information_schema.columns c
 WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
   AND c.table_schema NOT LIKE 'pg\_%'
 ORDER BY c.table_schema, c.table_name, c.ordinal_position
 LIMIT :max_columns;

-- name: get_current_schema()$
SELECT current_schema();

-- name: list_volatile_functions(names)
-- Of the named functions, those with a VOLATILE overload: only those can
-- write (PostgreSQL refuses writes inside STABLE and IMMUTABLE functions).
SELECT DISTINCT p.proname AS name
  FROM pg_proc p
 WHERE p.proname = ANY(CAST(:names AS text[])) AND p.provolatile = 'v';

-- name: get_server_version()$
SELECT current_setting('server_version');
