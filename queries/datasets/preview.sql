-- These run on a datasource's connection, inside the preview's READ ONLY
-- transaction, before the dataset's own statement.

-- name: limit_statement_time(timeout_ms)$
-- SET LOCAL takes no parameters; set_config(…, true) is its parameterised form.
SELECT set_config('statement_timeout', CAST(:timeout_ms AS text), true);
