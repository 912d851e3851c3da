from lowcode.codegen.sql_types import python_type
from lowcode.codegen.sqlshape import _non_null_outputs

SCHEMA = {"users": {"id", "email", "role"}, "members": {"user_id", "role"}}


def test_plain_not_null_columns_are_certain():
    sql = "SELECT id, email, display_name FROM users WHERE id = $1"
    assert _non_null_outputs(sql, SCHEMA) == {"id", "email"}


def test_outer_joined_side_is_nullable():
    sql = "SELECT u.id, m.role AS member_role FROM users u LEFT JOIN members m ON m.user_id = u.id"
    assert _non_null_outputs(sql, SCHEMA) == {"id"}


def test_returning_columns_come_from_the_target_table_and_count_is_never_null():
    assert _non_null_outputs(
        "INSERT INTO users (email) VALUES ($1) RETURNING id, lower(email) AS e", SCHEMA
    ) == {"id"}
    assert _non_null_outputs("SELECT count(*) AS n FROM users", SCHEMA) == {"n"}


def test_pg_types_map_to_python_annotations():
    assert python_type("uuid", "scalar") == "uuid.UUID"
    assert python_type("int8[]", "array") == "list[int]"
    assert python_type("jsonb", "scalar") == "Any"
    assert python_type("mood", "enum") == "str"
