"""The `lowcode` command line."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lowcode.settings import DEV_CORS_ORIGINS, Settings

if TYPE_CHECKING:
    from lowcode.platform.migrate import SchemaState

log = logging.getLogger("lowcode.cli")

# Noise from dependencies, not actionable here: Connexion imports Starlette's
# test client at import time; pgserver asks platformdirs for XDG_RUNTIME_DIR.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")
warnings.filterwarnings("ignore", message=r"XDG_RUNTIME_DIR is not set")


def _settings(**overrides: Any) -> Settings:
    from lowcode.platform.logging import configure_logging

    settings = Settings()
    if overrides:
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_format, settings.log_level)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """lowcode-backend: pages, real-time collaboration, SQL datasets and data syncs.

    Configuration comes from the environment (and a `.env` file); see
    `.env.example` and the README for every variable.
    """


@main.command()
@click.option("--host", default=None, help="Interface to bind (HOST, default 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Port to listen on (PORT, default 8080).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP and WebSocket API (production: DATABASE_URL and REDIS_URL required).

    Does not migrate: readiness stays 503 until `lowcode migrate up` has run.
    """
    settings = _settings(host=host, port=port)
    if not settings.database_url or not settings.redis_url:
        raise click.UsageError(
            "DATABASE_URL and REDIS_URL must be set; for local work use `lowcode dev`, "
            "which starts embedded servers"
        )
    if settings.signs_with_dev_secret:
        # Anyone with the repository could mint tokens (admins' included).
        raise click.UsageError(
            "JWT_SECRET is not set (or is the public development secret): set JWT_SECRET "
            "to at least 32 random bytes, or JWT_PRIVATE_KEY_FILE/JWT_PUBLIC_KEY_FILE; "
            "only `lowcode dev` runs with the development secret"
        )
    if settings.encrypts_with_dev_key:
        # Anyone with the repository could read the datasource passwords stored.
        raise click.UsageError(
            "DATASOURCE_KEYS is not set (or is the public development key): set it to "
            "a Fernet key (`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`); only `lowcode dev` runs with the "
            "development key"
        )
    from lowcode.server import run_server

    _check_query_files(settings)
    run_server(settings)


@main.command()
@click.option("--host", default=None, help="Interface to bind (HOST, default 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Port to listen on (PORT, default 8080).")
def dev(host: str | None, port: int | None) -> None:
    """Local work in one process group: embedded PostgreSQL/Redis under .data/ when
    DATABASE_URL/REDIS_URL are unset, migrations applied, then a `lowcode worker`
    child, the reference gRPC peers (`lowcode peers`) and the API. Ctrl-C stops all."""
    from lowcode.devenv import dev_settings, local_services, peers_child, ports_in_use, worker_child
    from lowcode.platform.logging import configure_logging
    from lowcode.server import run_server

    settings = dev_settings(_settings(host=host, port=port))
    if not settings.cors_allow_origins:
        settings = settings.model_copy(update={"cors_allow_origins": DEV_CORS_ORIGINS})
    configure_logging(settings.log_format, settings.log_level)
    _check_query_files(settings)
    taken = ports_in_use(settings)
    if taken:
        # Before anything starts: a worker dying on a taken port while the API
        # answers ready would be worse than not starting at all.
        raise click.ClickException(
            f"port in use: {', '.join(taken)}; stop what holds it or set that variable "
            "to another port (e.g. a second checkout: PORT=8090 WORKER_METRICS_PORT=8091 "
            "CALCITE_TARGET=127.0.0.1:50061 SEATUNNEL_TARGET=127.0.0.1:50062)"
        )
    with local_services(settings) as live:
        assert live.database_url is not None
        click.echo(_apply_pending(live.database_url, live.migrations_dir), err=True)
        shown = "127.0.0.1" if live.host in ("0.0.0.0", "::") else live.host
        base = f"http://{shown}:{live.port}"
        click.echo(
            f"API {base} · Swagger UI {base}/docs · OpenAPI {base}/openapi.json · "
            f"AsyncAPI {base}/asyncapi.yaml · WebSocket ws://{shown}:{live.port}/ws/pages/{{id}}",
            err=True,
        )
        with peers_child(live), worker_child(live):
            run_server(live)


@main.command()
@click.option(
    "--entrypoints",
    default=None,
    help="Comma-separated entrypoints to run (WORKER_ENTRYPOINTS, default all).",
)
@click.option("--concurrency", type=int, default=None, help="Jobs at once (WORKER_CONCURRENCY).")
@click.option(
    "--metrics-port", type=int, default=None, help="Probes and metrics (WORKER_METRICS_PORT)."
)
def worker(entrypoints: str | None, concurrency: int | None, metrics_port: int | None) -> None:
    """Run background jobs and cron schedules (DATABASE_URL and REDIS_URL required).

    Serves /health/live, /health/ready and /metrics on the metrics port. SIGTERM
    stops claiming jobs and gives those running WORKER_SHUTDOWN_TIMEOUT_S to finish.
    """
    settings = _settings(
        worker_entrypoints=entrypoints,
        worker_concurrency=concurrency,
        worker_metrics_port=metrics_port,
    )
    if not settings.database_url or not settings.redis_url:
        raise click.UsageError(
            "DATABASE_URL and REDIS_URL must be set; `lowcode dev` runs a worker with the API"
        )
    from lowcode.jobs.process import run_worker_process

    _check_query_files(settings)
    sys.exit(run_worker_process(settings))


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def peers(args: tuple[str, ...]) -> None:
    """Reference gRPC peers (the SQL service on grpcio + sqlglot, the data-sync
    service on grpcio + PostgreSQL COPY), each on the port of the setting
    naming it (CALCITE_TARGET, SEATUNNEL_TARGET); `lowcode peers --help`."""
    from lowcode_peers.server import SERVICES
    from lowcode_peers.server import main as peers_main

    # Each peer on the port of the setting that names it (CALCITE_TARGET →
    # settings.calcite_target), read the way the API reads it (.env included).
    settings = Settings()
    defaults = [
        f"--listen={peer.name}={settings.peers_host}:"
        f"{str(getattr(settings, peer.target_env.lower())).rsplit(':', 1)[-1]}"
        for peer in SERVICES
    ]
    peers_main([*defaults, *args])


@main.group()
def datasources() -> None:
    """Datasource administration."""


@datasources.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every datasource password under the first DATASOURCE_KEYS key.

    Rotation: put a new key first in DATASOURCE_KEYS (keep the old ones after
    it), restart the API and workers, run this, then remove the old keys.
    """
    import asyncio

    from lowcode.datasources.rotation import rotate_passwords
    from lowcode.devenv import local_services
    from lowcode.platform.metrics import Metrics
    from lowcode.resources import open_resources

    async def run(settings: Settings) -> tuple[int, int]:
        from opentelemetry.trace import NoOpTracer

        async with open_resources(settings, Metrics(), NoOpTracer()) as res:
            return await rotate_passwords(res)

    with local_services(_settings()) as live:
        rotated, skipped = asyncio.run(run(live))
    click.echo(
        f"re-encrypted {rotated} datasource passwords ({skipped} changed meanwhile, left as is)"
    )


@contextmanager
def _migration_database() -> Iterator[tuple[str, Path]]:
    from lowcode.devenv import local_services

    settings = _settings()
    with local_services(settings.model_copy(update={"redis_url": "unused"})) as live:
        assert live.database_url is not None
        yield live.database_url, live.migrations_dir


def _state(dsn: str, migrations_dir: Path) -> SchemaState:
    import asyncio

    import asyncpg

    from lowcode.platform.migrate import schema_state

    async def read() -> SchemaState:
        conn = await asyncpg.connect(dsn)
        try:
            return await schema_state(conn, migrations_dir)
        finally:
            await conn.close()

    return asyncio.run(read())


def _dbmate(dsn: str, migrations_dir: Path, verb: str) -> str:
    from lowcode.platform.migrate import MigrationError, run_dbmate

    try:
        return run_dbmate(dsn, migrations_dir, verb).rstrip()
    except MigrationError as e:
        click.echo(str(e), err=True)
        sys.exit(1)


@main.group(invoke_without_command=True)
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Schema migrations with dbmate (plain SQL in migrations/); `up` when no
    command is given.

    Uses DATABASE_URL, or the embedded dev database when it is unset.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(migrate_up)


def _apply_pending(dsn: str, migrations_dir: Path) -> str:
    state = _state(dsn, migrations_dir)
    if not state.pending:
        return (
            f"nothing to apply: all {len(state.files)} migrations are applied "
            f"(newest {state.newest_applied})"
        )
    applied = _dbmate(dsn, migrations_dir, "up")
    return f"{applied}\napplied {len(state.pending)} migration(s); schema at {max(state.files)}"


@migrate.command("up")
def migrate_up() -> None:
    """Apply every pending migration, older ones (from a merged branch) included."""
    with _migration_database() as (dsn, migrations_dir):
        click.echo(_apply_pending(dsn, migrations_dir))


@migrate.command("down")
def migrate_down() -> None:
    """Roll back the newest applied migration (runs its `-- migrate:down`)."""
    with _migration_database() as (dsn, migrations_dir):
        if not _state(dsn, migrations_dir).applied:
            click.echo("nothing to roll back: no migration is applied")
            return
        click.echo(_dbmate(dsn, migrations_dir, "rollback"))


@migrate.command("status")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the schema is not current.")
def migrate_status(exit_code: bool) -> None:
    """List migrations ([X] applied, [ ] pending) and say what readiness says."""
    with _migration_database() as (dsn, migrations_dir):
        click.echo(_dbmate(dsn, migrations_dir, "status"))
        state = _state(dsn, migrations_dir)
    problem = state.problem()
    click.echo(problem or f"schema is current: all {len(state.files)} migrations are applied")
    if problem and exit_code:
        sys.exit(1)


@migrate.command("new")
@click.argument("name")
def migrate_new(name: str) -> None:
    """Write migrations/<YYYYMMDDHHMMSS>_NAME.sql with up and down sections."""
    from lowcode.platform.migrate import MigrationError, new_migration

    try:
        path = new_migration(_settings().migrations_dir, name)
    except MigrationError as e:
        raise click.UsageError(str(e)) from None
    click.echo(f"created {_shown(path)}")
    click.echo("next: write its `-- migrate:up` and `-- migrate:down` sections, then run")
    click.echo("`lowcode migrate up` (your database) and `make generate` (schema.sql, query types)")


def _shown(path: Path) -> str:
    from lowcode.platform.sqlfiles import shown

    return shown(path, Path.cwd())


@main.group()
def sql() -> None:
    """Tools for the named SQL in queries/."""


@sql.command("vet")
def sql_vet() -> None:
    """Check every query against the house rules on a freshly migrated scratch
    database: UPDATE/DELETE need WHERE, no SELECT *, no sequential scan with
    sequential scans disabled (unless the table is declared small in
    queries/vet.toml), INSERT … RETURNING uses <!. Waive one rule for one query
    with `-- @vet-allow RULE: reason`. Prints every violation; exit 1 if any.

    The scratch database comes from GENERATE_DATABASE_URL, else the local
    server on 127.0.0.1:5432, else an embedded one.
    """
    try:
        from lowcode.codegen.vet import run_vet
    except ImportError as e:  # sqlglot is a development dependency
        raise click.UsageError(
            f"`lowcode sql vet` needs the dev install (`make install`): {e}"
        ) from None
    settings = _settings()
    text, ok = run_vet(settings.queries_dir, settings.migrations_dir)
    click.echo(text, err=not ok)
    sys.exit(0 if ok else 1)


def _check_query_files(settings: Settings) -> None:
    """Fail before starting anything when a query file does not parse: one
    `file:line:col: …` line per problem instead of a start-up traceback."""
    from lowcode.platform.db import load_queries
    from lowcode.platform.sqlfiles import QueryError, QueryErrors

    try:
        load_queries(settings.queries_dir)
    except (QueryError, QueryErrors) as e:
        click.echo(str(e), err=True)
        sys.exit(1)


@main.group()
def users() -> None:
    """User administration from the command line."""


@users.command("create-admin")
@click.argument("email")
@click.option("--display-name", default="Administrator", show_default=True)
@click.option("--promote", is_flag=True, help="Make an existing non-admin user an admin.")
def create_admin(email: str, display_name: str, promote: bool) -> None:
    """Create the first admin. The password comes from LOWCODE_ADMIN_PASSWORD or a prompt.

    Safe to re-run: an existing admin is left as is; an existing non-admin is
    promoted only with --promote.
    """
    import asyncio
    import os

    from lowcode.devenv import local_services
    from lowcode.identity.users import create_admin as create_admin_user
    from lowcode.platform.errors import AppError
    from lowcode.platform.metrics import Metrics
    from lowcode.resources import open_resources

    password = os.environ.get("LOWCODE_ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    if len(password) < 8:
        raise click.UsageError("the password must have at least 8 characters")

    async def run(settings: Settings) -> tuple[str, str]:
        from opentelemetry.trace import NoOpTracer

        async with open_resources(settings, Metrics(), NoOpTracer()) as res:
            user, outcome = await create_admin_user(
                res, email=email, password=password, display_name=display_name, promote=promote
            )
            return str(user.id), outcome

    settings = _settings()
    with local_services(settings) as live:
        try:
            user_id, outcome = asyncio.run(run(live))
        except AppError as e:
            click.echo(f"error: {e.detail or e}", err=True)
            sys.exit(1)
    messages = {
        "created": f"created admin {email} ({user_id})",
        "promoted": f"promoted {email} ({user_id}) to admin",
        "unchanged": f"{email} ({user_id}) is already an admin; nothing changed",
    }
    click.echo(messages[outcome])
