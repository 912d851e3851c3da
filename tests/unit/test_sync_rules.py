"""Pure rules of data syncs: which column types fit, schedules, JDBC URLs,
and the statements the reference peer builds (identifiers always quoted,
types only when they are PostgreSQL's own)."""

from __future__ import annotations

import uuid

import pytest

from lowcode.datasources.models import ConnectionTarget
from lowcode.sync.checks import fits
from lowcode.sync.config import jdbc_url
from lowcode.sync.schedule import next_tick, parse_schedule
from lowcode_peers.seatunnel import statements
from lowcode_peers.seatunnel.plan import BadConfig, Unsupported, parse_jdbc_url


@pytest.mark.parametrize(
    ("source", "sink", "ok"),
    [
        ("int4", "int4", True), ("int4", "int8", True), ("int8", "int4", False),
        ("int2", "numeric", True), ("numeric", "int8", False), ("float8", "float4", False),
        ("timestamp", "timestamptz", True), ("date", "timestamp", True),
        ("timestamptz", "date", False),
        ("jsonb", "json", True), ("uuid", "text", True), ("text", "uuid", False),
        ("_int4", "_int8", True), ("_int8", "_int4", False), ("bool", "varchar", True),
    ],
)  # fmt: skip
def test_a_source_type_fits_a_sink_type_only_when_every_value_does(source, sink, ok):
    assert fits(source, sink) is ok


def test_schedules_are_standard_five_field_cron():
    assert parse_schedule(" 0  3 * * 1-5 ") == "0 3 * * 1-5"
    for bad in ("0 3 * *", "0 0 3 * * *", "61 * * * *", "@daily", "0 0 30 2 *"):
        with pytest.raises(ValueError):
            parse_schedule(bad)
    from datetime import UTC, datetime

    tick = next_tick("0 3 * * *", datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    assert tick == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_a_jdbc_url_names_the_checked_address_unless_tls_verifies_the_name():
    target = ConnectionTarget(uuid.uuid4(), 1, "db.example.com", 5433, "sales db", "u", "prefer")
    assert (
        jdbc_url(target, "10.0.0.7") == "jdbc:postgresql://10.0.0.7:5433/sales%20db?sslmode=prefer"
    )
    assert jdbc_url(target, "fd00::7").startswith("jdbc:postgresql://[fd00::7]:5433/")
    strict = ConnectionTarget(uuid.uuid4(), 1, "db.example.com", 5432, "d", "u", "verify-full")
    assert jdbc_url(strict, "10.0.0.7").startswith("jdbc:postgresql://db.example.com:5432/")
    assert parse_jdbc_url("jdbc:postgresql://[fd00::7]:5433/sales%20db?sslmode=require") == (
        "fd00::7", 5433, "sales db", {"sslmode": "require"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("postgresql://h/db", BadConfig), ("jdbc:mysql://h/db", Unsupported),
        ("jdbc:postgresql://h1,h2/db", Unsupported), ("jdbc:postgresql://h", BadConfig),
        ("jdbc:postgresql://h:99999/db", BadConfig), ("jdbc:postgresql://h$x/db", BadConfig),
    ],
)  # fmt: skip
def test_urls_the_peer_cannot_use_are_refused(url, error):
    with pytest.raises(error):
        parse_jdbc_url(url)


def test_statements_quote_every_name_and_take_only_postgres_own_types():
    hostile = 'x"; DROP TABLE users; --'
    columns = [
        statements.column(hostile, "character varying(20)", True),
        statements.column("t", "timestamp(3) with time zone", True),
        statements.column("mood", "public.mood", False),  # a user type: not trusted
        statements.column("evil", "integer); DROP TABLE users; --", True),
    ]
    assert [c.type_sql for c in columns] == [
        "character varying(20)", "timestamp(3) with time zone", "text", "text",
    ]  # fmt: skip
    created = statements.create_table("s", hostile, columns, (hostile,))
    assert created == (
        'CREATE TABLE IF NOT EXISTS "s"."x""; DROP TABLE users; --" '
        '("x""; DROP TABLE users; --" character varying(20), "t" timestamp(3) with time zone, '
        '"mood" text, "evil" text, PRIMARY KEY ("x""; DROP TABLE users; --"))'
    )
    upsert = statements.upsert_from("stage", "s", "t", ["id", hostile], ("id",))
    assert upsert == (
        'INSERT INTO "s"."t" ("id", "x""; DROP TABLE users; --") SELECT "id", '
        '"x""; DROP TABLE users; --" FROM "stage" ON CONFLICT("id") DO UPDATE SET '
        '"x""; DROP TABLE users; --" = EXCLUDED."x""; DROP TABLE users; --"'
    )
    assert statements.upsert_from("stage", "s", "t", ["id"], ("id",)).endswith("DO NOTHING")
    assert statements.delete_all("s", hostile) == 'DELETE FROM "s"."x""; DROP TABLE users; --"'
