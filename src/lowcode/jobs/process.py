"""`lowcode worker`: the worker as a process of its own.

Builds its resources as the API does (open_resources), serves /health/live,
/health/ready and /metrics on WORKER_METRICS_PORT from a small Starlette app
in the same event loop, and stops on SIGTERM/SIGINT in this order: readiness
fails, claiming stops, jobs in flight get WORKER_SHUTDOWN_TIMEOUT_S to finish,
then the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import replace

import uvicorn
import uvloop
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lowcode.health.service import readiness
from lowcode.jobs.catalog import known_entrypoints, selected_entrypoints
from lowcode.jobs.cron import schedules_from_settings
from lowcode.jobs.worker import Worker
from lowcode.platform.metrics import Metrics
from lowcode.platform.serving import Server
from lowcode.platform.telemetry import create_tracer_provider
from lowcode.resources import Resources, open_resources
from lowcode.settings import Settings
from lowcode.toggles import running_flags

log = logging.getLogger("lowcode.jobs.process")

# Exit status when jobs were still running at the end of the grace period.
EXIT_ABANDONED = 3


def probe_app(res: Resources, worker: Worker) -> Starlette:
    """Liveness, readiness (the API's checks plus a consuming queue manager) and metrics."""

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        ok, checks = await readiness(res)
        checks["queue"] = (
            {"status": "ok", "latency_ms": 0.0}
            if worker.consuming
            else {"status": "fail", "latency_ms": 0.0, "error": "not consuming"}
        )
        ok = ok and worker.consuming
        return JSONResponse(
            {"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503
        )

    async def metrics(_: Request) -> Response:
        return Response(res.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/metrics", metrics),
        ]
    )


async def _serve(settings: Settings) -> int:
    known = known_entrypoints(settings)
    running = selected_entrypoints(settings, known)
    schedules = schedules_from_settings(settings, known, running) if settings.worker_cron else []
    metrics = Metrics()
    # No asyncpg auto-instrumentation here: it would trace pgqueuer's polling,
    # heartbeats and log writes by the thousand. Our named queries still get
    # spans (QueryObserver), under each job's `process` span.
    provider = create_tracer_provider("lowcode-worker")
    async with (
        open_resources(settings, metrics, provider.get_tracer("lowcode")) as clients,
        # Jobs read flags as requests do: lowcode.flags.evaluate.
        running_flags(settings, clients.pool, clients.queries) as toggles,
    ):
        res = replace(clients, flags=toggles.flags, toggles=toggles.sync)
        worker = Worker(res, running, schedules)
        # The worker owns SIGTERM/SIGINT (`stop` below), not uvicorn.
        probes = Server(
            uvicorn.Config(
                probe_app(res, worker),
                host=settings.host,
                port=settings.worker_metrics_port,
                lifespan="off",
                log_config=None,
                access_log=False,
            ),
            signals=False,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        work = asyncio.create_task(worker.run())
        serving = asyncio.create_task(probes.serve())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        await _drain(res, worker, work)
        probes.should_exit = True
        await serving
        stopping.cancel()
        work.result()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
    log.info("worker stopped")
    return 0


async def _drain(res: Resources, worker: Worker, work: asyncio.Task[None]) -> None:
    """Readiness off, claiming off, then the grace period for jobs in flight."""
    log.info("worker stopping", extra={"in_flight": worker.in_flight})
    res.shutting_down.set()
    worker.stop()
    done, _ = await asyncio.wait({work}, timeout=res.settings.worker_shutdown_timeout_s)
    if done:
        return
    # Cancelling the job tasks would make pgqueuer log them `canceled` and
    # delete them. Leaving without a word keeps them `picked`; their
    # transactions roll back with our connections, and once their heartbeat is
    # stale another worker runs them again.
    log.warning(
        "jobs still running after the grace period; leaving them to another worker",
        extra={"in_flight": worker.in_flight},
    )
    logging.shutdown()
    os._exit(EXIT_ABANDONED)


def run_worker_process(settings: Settings) -> int:
    """Run `lowcode worker` until a signal; returns the exit status."""
    # uvloop, as uvicorn picks for the API: the dispatch loop is CPU-bound.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(settings))
