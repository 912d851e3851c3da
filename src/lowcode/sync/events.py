"""What the world hears about a run: `/ws/events` notifications to the user
who started it (or the sync job's owner for a scheduled run), and metrics.

`sync-run-progress` is sent with each progress write (at most every
SYNC_PROGRESS_INTERVAL_S), its `sequence` rising; `sync-run-finished` once,
when the run ends. Both are in api/asyncapi/collab.yaml.
"""

from __future__ import annotations

from typing import Any

from lowcode.events.publish import notify_user
from lowcode.resources import Resources
from lowcode.sync.models import SyncRun
from lowcode_gen.queries.sync import SyncRunRow


def _payload(row: SyncRunRow) -> dict[str, Any]:
    return {
        "runId": str(row.id),
        "syncJobId": str(row.sync_job_id),
        "workspaceId": str(row.workspace_id),
        "status": row.status,
        "rowsRead": row.rows_read,
        "rowsWritten": row.rows_written,
        "bytesRead": row.bytes_read,
        "bytesWritten": row.bytes_written,
        "rowsPerSecond": row.rows_per_second,
    }


async def progressed(res: Resources, row: SyncRunRow) -> None:
    if row.notify_user_id is None or row.status not in ("RUNNING", "CANCELING"):
        return
    payload = {**_payload(row), "sequence": row.last_sequence}
    await notify_user(res, row.notify_user_id, "sync-run-progress", payload)


async def finished(res: Resources, row: SyncRunRow) -> None:
    """Once per run, by whoever moved it to its end state (the update that
    did returns the row; a second one returns none)."""
    run = SyncRun(row)
    duration = run.duration_s()
    m = res.metrics
    m.sync_runs.labels(row.status).inc()
    if duration is not None:
        m.sync_run_duration.labels(row.status).observe(duration)
    if row.status == "FINISHED":
        m.sync_rows.inc(row.rows_written)
    if row.notify_user_id is None:
        return
    payload = {
        **_payload(row),
        "error": row.error,
        "finishedAt": row.finished_at.isoformat() if row.finished_at else None,
        "durationS": duration,
    }
    await notify_user(res, row.notify_user_id, "sync-run-finished", payload)
