"""The SQL service peer (`calcite.v1.SqlService`) implemented with sqlglot."""
