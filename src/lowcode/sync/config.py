"""A sync job as a SeaTunnel job config (the contract's `JobConfig`).

One `Jdbc` source (`query` for a dataset, `table_path` for a table) and one
`Jdbc` sink with `generate_sink_sql`, in SeaTunnel's option keys, so a
gateway hands it to REST v2 `submit-job` as is. Our modes map onto the sink's
save modes: append = APPEND_DATA; overwrite = DROP_DATA; upsert = APPEND_DATA
with `primary_keys` and `enable_upsert`. A missing sink table is created
(`schema_save_mode` CREATE_SCHEMA_WHEN_NOT_EXIST).

The config carries the datasources' passwords — SeaTunnel's model: a job
config is self-contained. It is built in the worker, in memory, right before
SubmitJob, from the datasources' encrypted passwords; it is never stored,
logged, traced or put in a job payload. Hosts are resolved and checked
against the host policy here, and the URL names the checked address (the
name itself with verify-full TLS), as datasource pools do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from lowcode.datasources.models import ConnectionTarget
from lowcode.datasources.service import connection_target
from lowcode.platform.db import Connection
from lowcode.resources import Resources
from lowcode.sync.models import DatasetSource, SyncJob
from lowcode_gen.proto.google.protobuf import Struct
from lowcode_gen.proto.seatunnel.v1 import Env, JobConfig, JobMode, Plugin

DRIVER = "org.postgresql.Driver"
SOURCE_TABLE = "source"  # plugin_output of the source, plugin_input of the sink


def jdbc_url(target: ConnectionTarget, address: str) -> str:
    host = target.host if target.ssl_mode == "verify-full" else address
    if ":" in host:
        host = f"[{host}]"
    database = quote(target.database, safe="")
    return f"jdbc:postgresql://{host}:{target.port}/{database}?sslmode={target.ssl_mode}"


async def _connection(res: Resources, target: ConnectionTarget) -> dict[str, Any]:
    timeout = res.settings.datasource_connect_timeout_s
    address = await res.datasource_pools.policy.resolve(target.host, target.port, timeout)
    options: dict[str, Any] = {
        "url": jdbc_url(target, address),
        "driver": DRIVER,
        "username": target.username,
    }
    if target.password:
        options["password"] = target.password
    return options


async def job_config(res: Resources, conn: Connection, job: SyncJob) -> JobConfig:
    """The config of one run of `job`, passwords included (keep it in memory)."""
    d = job.definition
    source: dict[str, Any]
    if isinstance(d.source, DatasetSource):
        dataset = await res.queries.sync.source_dataset(conn, dataset_id=d.source.dataset_id)
        if dataset is None:
            raise LookupError("the source dataset no longer exists")
        source_target = await connection_target(res, conn, dataset.datasource_id)
        source = {**await _connection(res, source_target), "query": dataset.sql}
    else:
        source_target = await connection_target(res, conn, d.source.datasource_id)
        source = {
            **await _connection(res, source_target),
            "table_path": f"{d.source.schema}.{d.source.table}",
        }
    sink_target = await connection_target(res, conn, d.sink.datasource_id)
    sink: dict[str, Any] = {
        **await _connection(res, sink_target),
        "generate_sink_sql": True,
        "database": sink_target.database,
        "table": f"{d.sink.schema}.{d.sink.table}",
        "schema_save_mode": "CREATE_SCHEMA_WHEN_NOT_EXIST",
        "data_save_mode": "DROP_DATA" if d.mode == "overwrite" else "APPEND_DATA",
        "use_copy_statement": True,
    }
    if d.mode == "upsert":
        sink["primary_keys"] = list(d.key_columns)
        sink["enable_upsert"] = True
    else:
        sink["enable_upsert"] = False
    return JobConfig(
        env=Env(job_name=f"lowcode sync {job.name}"[:200], job_mode=JobMode.BATCH, parallelism=1),
        source=[
            Plugin(plugin_name="Jdbc", plugin_output=SOURCE_TABLE, options=Struct.from_dict(source))
        ],
        sink=[
            Plugin(plugin_name="Jdbc", plugin_input=[SOURCE_TABLE], options=Struct.from_dict(sink))
        ],
    )
