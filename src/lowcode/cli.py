"""The `lowcode` command line."""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

import click

from lowcode.settings import Settings

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
    from lowcode.server import run_server

    run_server(settings)


@main.command()
@click.option("--host", default=None, help="Interface to bind (HOST, default 0.0.0.0).")
@click.option("--port", type=int, default=None, help="Port to listen on (PORT, default 8080).")
def dev(host: str | None, port: int | None) -> None:
    """Local work in one process group: embedded PostgreSQL/Redis under .data/ when
    DATABASE_URL/REDIS_URL are unset, migrations applied, then a `lowcode worker`
    child and the API. Ctrl-C stops all."""
    from lowcode.devenv import local_services, worker_child
    from lowcode.platform.migrate import run_dbmate
    from lowcode.server import run_server

    settings = _settings(host=host, port=port)
    with local_services(settings) as live:
        assert live.database_url is not None
        click.echo(run_dbmate(live.database_url, live.migrations_dir, "up").strip(), err=True)
        with worker_child(live):
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

    sys.exit(run_worker_process(settings))


@main.command()
@click.argument("action", type=click.Choice(["up", "down", "status"]), default="up")
def migrate(action: str) -> None:
    """Apply (up), roll back one (down) or list (status) migrations with dbmate.

    Uses DATABASE_URL, or the embedded dev database when it is unset.
    """
    from lowcode.devenv import local_services
    from lowcode.platform.migrate import MigrationError, run_dbmate

    settings = _settings()
    with local_services(settings.model_copy(update={"redis_url": "unused"})) as live:
        assert live.database_url is not None
        try:
            out = run_dbmate(live.database_url, live.migrations_dir, action)
        except MigrationError as e:
            click.echo(str(e), err=True)
            sys.exit(1)
        click.echo(out.rstrip())


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
