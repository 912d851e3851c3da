"""A SeaTunnel job config, checked and turned into what the reference peer runs.

The peer runs one shape of job: BATCH, one `Jdbc` source with a
`jdbc:postgresql://` URL (`query`, or `table_path`), no transforms, one `Jdbc`
sink with `generate_sink_sql` (`database` + `table`, `primary_keys` +
`enable_upsert`, `data_save_mode`, `schema_save_mode`). Anything SeaTunnel
could run but this peer cannot is `Unsupported` (UNIMPLEMENTED); a config
SeaTunnel itself would refuse is `BadConfig` (INVALID_ARGUMENT). Option keys
are SeaTunnel's (connector-jdbc `JdbcCommonOptions`, `JdbcSourceOptions`,
`JdbcSinkOptions`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from google.protobuf.json_format import MessageToDict

from lowcode_peers_gen.seatunnel.v1 import job_pb2 as pb

MAX_QUERY_CHARS = 100_000
MAX_NAME_CHARS = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
MAX_KEYS = 32
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
POSTGRES_DRIVER = "org.postgresql.Driver"
_HOST = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$")

Mode = Literal["append", "overwrite", "upsert"]


class BadConfig(ValueError):
    """A config SeaTunnel would refuse too (INVALID_ARGUMENT)."""


class Unsupported(ValueError):
    """Valid for SeaTunnel, not runnable by this peer (UNIMPLEMENTED)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a Jdbc plugin connects. The password stays out of reprs and logs."""

    host: str
    port: int
    database: str
    user: str
    password: str | None = field(default=None, repr=False)
    sslmode: str = "prefer"


@dataclass(frozen=True, slots=True)
class Source:
    endpoint: Endpoint
    query: str | None  # exactly one of query / table
    table: tuple[str, str] | None  # (schema, name)

    @property
    def path(self) -> str:
        return ".".join(self.table) if self.table else "query"


@dataclass(frozen=True, slots=True)
class Sink:
    endpoint: Endpoint
    table: tuple[str, str]  # (schema, name)
    mode: Mode
    primary_keys: tuple[str, ...]
    create_when_missing: bool

    @property
    def path(self) -> str:
        return ".".join(self.table)


@dataclass(frozen=True, slots=True)
class Plan:
    source: Source
    sink: Sink


def parse_jdbc_url(url: str) -> tuple[str, int, str, dict[str, str]]:
    """`jdbc:postgresql://host[:port]/database[?k=v&…]` → (host, port, database, params)."""
    if not url.startswith("jdbc:"):
        raise BadConfig("url must be a JDBC URL (jdbc:…)")
    if not url.startswith("jdbc:postgresql://"):
        raise Unsupported("the reference peer only connects to jdbc:postgresql:// URLs")
    parts = urlsplit(url.removeprefix("jdbc:"))
    try:
        host, port = parts.hostname, parts.port or 5432
    except ValueError as e:
        raise BadConfig(f"url: {e}") from e
    if not host:
        raise BadConfig("url names no host")
    if "," in parts.netloc:
        raise Unsupported("the reference peer connects to one host per URL")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise BadConfig(f"url: {host!r} is not a host name") from None
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database or len(database) > MAX_NAME_CHARS:
        raise BadConfig("url must name one database: jdbc:postgresql://host:port/database")
    return host, port, database, dict(parse_qsl(parts.query))


def _text(options: Mapping[str, Any], key: str, *, limit: int = 1000) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadConfig(f"option {key} must be a string")
    if len(value) > limit:
        raise BadConfig(f"option {key} is longer than {limit} characters")
    return value


def _flag(options: Mapping[str, Any], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise BadConfig(f"option {key} must be true or false")
    return value


def _name(value: str, what: str) -> str:
    if not value or len(value.encode()) > MAX_NAME_CHARS or any(ord(c) < 32 for c in value):
        raise BadConfig(f"{what} {value!r} is not a PostgreSQL identifier")
    return value


def _table_path(value: str, what: str) -> tuple[str, str]:
    """`schema.table` or `table` (schema public). Names with dots are not
    expressible in SeaTunnel's path syntax either."""
    parts = value.split(".")
    if len(parts) == 1:
        return "public", _name(parts[0], what)
    if len(parts) == 2:
        return _name(parts[0], what), _name(parts[1], what)
    if len(parts) == 3:  # database.schema.table, as table_path may be written
        return _name(parts[1], what), _name(parts[2], what)
    raise BadConfig(f"{what} {value!r} is not schema.table")


def _endpoint(options: Mapping[str, Any]) -> Endpoint:
    url = _text(options, "url", limit=2000)
    if not url:
        raise BadConfig("option url is required")
    driver = _text(options, "driver")
    if driver is not None and driver != POSTGRES_DRIVER:
        raise Unsupported(f"driver {driver!r}: the reference peer only runs {POSTGRES_DRIVER}")
    host, port, database, params = parse_jdbc_url(url)
    # JdbcCommonOptions: `username`, with `user` as its fallback key.
    user = _text(options, "username") or _text(options, "user") or params.get("user")
    if not user:
        raise BadConfig("option username is required")
    password = _text(options, "password") or params.get("password")
    sslmode = params.get("sslmode", "prefer")
    if sslmode not in SSL_MODES:
        raise BadConfig(f"url: sslmode {sslmode!r} is not one of {', '.join(SSL_MODES)}")
    return Endpoint(host, port, database, _name(user, "username"), password, sslmode)


def _options(plugin: pb.Plugin) -> dict[str, Any]:
    return MessageToDict(plugin.options) if plugin.HasField("options") else {}


def _source(plugin: pb.Plugin) -> Source:
    if plugin.plugin_name != "Jdbc":
        raise Unsupported(
            f"source plugin {plugin.plugin_name!r}: the reference peer runs Jdbc only"
        )
    options = _options(plugin)
    query = _text(options, "query", limit=MAX_QUERY_CHARS)
    table = _text(options, "table_path")
    if (query is None) == (table is None):
        raise BadConfig("the Jdbc source needs exactly one of query and table_path")
    for unsupported in ("table_list", "partition_column", "where_condition"):
        if unsupported in options:
            raise Unsupported(f"source option {unsupported} is not supported by the reference peer")
    if query is not None:
        # The query is wrapped in COPY (…) TO STDOUT: a trailing semicolon would end it early.
        query = query.strip().rstrip(";").strip()
        if not query:
            raise BadConfig("option query is empty")
    return Source(
        _endpoint(options), query, _table_path(table, "table_path") if table is not None else None
    )


def _keys(options: Mapping[str, Any]) -> tuple[str, ...]:
    value = options.get("primary_keys", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise BadConfig("option primary_keys must be a list of column names")
    if len(value) > MAX_KEYS:
        raise BadConfig(f"option primary_keys names more than {MAX_KEYS} columns")
    if len(set(value)) != len(value):
        raise BadConfig("option primary_keys names a column twice")
    return tuple(_name(k, "primary key column") for k in value)


def _sink(plugin: pb.Plugin) -> Sink:
    if plugin.plugin_name != "Jdbc":
        raise Unsupported(f"sink plugin {plugin.plugin_name!r}: the reference peer runs Jdbc only")
    options = _options(plugin)
    if not _flag(options, "generate_sink_sql", False):
        raise Unsupported("the reference peer writes with generate_sink_sql = true only")
    if _flag(options, "is_exactly_once", False):
        raise Unsupported("is_exactly_once (XA) is not supported by the reference peer")
    endpoint = _endpoint(options)
    database = _text(options, "database")
    if not database:
        raise BadConfig("option database is required with generate_sink_sql")
    if database != endpoint.database:
        raise BadConfig(f"option database {database!r} is not the url's {endpoint.database!r}")
    table = _text(options, "table")
    if not table:
        raise BadConfig("option table is required with generate_sink_sql")
    keys = _keys(options)
    schema, name = _table_path(table, "table")
    if schema.startswith("pg_") or schema == "information_schema":
        raise BadConfig(f"table {table!r} is in a system schema")
    data_save_mode = _text(options, "data_save_mode") or "APPEND_DATA"
    if data_save_mode not in ("APPEND_DATA", "DROP_DATA"):
        raise Unsupported(
            f"data_save_mode {data_save_mode}: the reference peer runs APPEND_DATA and DROP_DATA"
        )
    schema_save_mode = _text(options, "schema_save_mode") or "CREATE_SCHEMA_WHEN_NOT_EXIST"
    if schema_save_mode not in ("CREATE_SCHEMA_WHEN_NOT_EXIST", "ERROR_WHEN_SCHEMA_NOT_EXIST"):
        raise Unsupported(
            f"schema_save_mode {schema_save_mode} is not supported by the reference peer"
        )
    upsert = _flag(options, "enable_upsert", True) and bool(keys)
    mode: Mode = "overwrite" if data_save_mode == "DROP_DATA" else "upsert" if upsert else "append"
    return Sink(
        endpoint,
        (schema, name),
        mode,
        keys,
        schema_save_mode == "CREATE_SCHEMA_WHEN_NOT_EXIST",
    )


def plan(config: pb.JobConfig) -> Plan:
    """What to run for `config`, or BadConfig / Unsupported saying why not."""
    mode = config.env.job_mode
    if mode == pb.JOB_MODE_STREAMING:
        raise Unsupported("job.mode STREAMING: the reference peer runs BATCH jobs only")
    if len(config.source) != 1 or len(config.sink) != 1:
        raise Unsupported("the reference peer runs one source and one sink per job")
    if config.transform:
        names = ", ".join(t.plugin_name for t in config.transform)
        raise Unsupported(f"transform plugins ({names}) are not supported by the reference peer")
    source, sink = config.source[0], config.sink[0]
    inputs = list(sink.plugin_input)
    if inputs and source.plugin_output and inputs != [source.plugin_output]:
        raise BadConfig(
            f"sink plugin_input {inputs} does not name the source's plugin_output "
            f"{source.plugin_output!r}"
        )
    return Plan(_source(source), _sink(sink))
