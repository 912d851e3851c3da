"""Process configuration, read from the environment (and `.env`) by pydantic-settings.

Built by the CLI or by `create_app`, never at import time. Every field is listed
in `.env.example` and the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository root in a source checkout; the container image copies
# migrations/, queries/ and api/ to the same relative places.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_key_prefix: str = Field(default="lc:", alias="REDIS_KEY_PREFIX")
    host: str = Field(default="0.0.0.0", alias="HOST")
    port: int = Field(default=8080, alias="PORT")
    data_dir: Path = Field(default=PROJECT_ROOT / ".data", alias="LOWCODE_DATA_DIR")

    log_format: Literal["json", "console"] = Field(default="json", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    slow_query_ms: float = Field(default=100.0, alias="SLOW_QUERY_MS")
    access_log_body_limit: int = Field(default=50 * 1024, alias="ACCESS_LOG_BODY_LIMIT")

    db_pool_min: int = Field(default=2, alias="DB_POOL_MIN")
    db_pool_max: int = Field(default=20, alias="DB_POOL_MAX")
    db_statement_timeout_ms: int = Field(default=30_000, alias="DB_STATEMENT_TIMEOUT_MS")
    redis_pool_max: int = Field(default=50, alias="REDIS_POOL_MAX")

    jwt_secret: SecretStr = Field(
        default=SecretStr("dev-only-insecure-jwt-secret-change-me-in-production"),
        alias="JWT_SECRET",
    )
    jwt_private_key_file: Path | None = Field(default=None, alias="JWT_PRIVATE_KEY_FILE")
    jwt_public_key_file: Path | None = Field(default=None, alias="JWT_PUBLIC_KEY_FILE")
    jwt_issuer: str = Field(default="lowcode", alias="JWT_ISSUER")
    jwt_audience: str = Field(default="lowcode-api", alias="JWT_AUDIENCE")
    jwt_leeway_s: int = Field(default=30, alias="JWT_LEEWAY_S")
    access_token_ttl_s: int = Field(default=15 * 60, alias="ACCESS_TOKEN_TTL_S")
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, alias="REFRESH_TOKEN_TTL_S")
    # How long a session's state may be served from Redis before Postgres is
    # asked again; revocations overwrite the cached state at once.
    session_cache_ttl_s: int = Field(default=60, alias="SESSION_CACHE_TTL_S")

    # Sliding-window limits, in the `limits` notation ("N/second|minute|hour").
    rate_limit_login_ip: str = Field(default="30/minute", alias="RATE_LIMIT_LOGIN_IP")
    rate_limit_login_email: str = Field(default="10/minute", alias="RATE_LIMIT_LOGIN_EMAIL")
    rate_limit_register_ip: str = Field(default="10/minute", alias="RATE_LIMIT_REGISTER_IP")
    rate_limit_register_email: str = Field(default="5/minute", alias="RATE_LIMIT_REGISTER_EMAIL")

    # Pages: document size limit, snapshot cadence, read cache lifetime.
    page_max_bytes: int = Field(default=2 * 1024 * 1024, alias="PAGE_MAX_BYTES")
    page_snapshot_every_ops: int = Field(default=50, alias="PAGE_SNAPSHOT_EVERY_OPS")
    page_snapshot_every_s: float = Field(default=30.0, alias="PAGE_SNAPSHOT_EVERY_S")
    page_cache_ttl_s: int = Field(default=600, alias="PAGE_CACHE_TTL_S")

    # Collaboration (WebSockets).
    ws_max_message_bytes: int = Field(default=1024 * 1024, alias="WS_MAX_MESSAGE_BYTES")
    ws_send_queue: int = Field(default=256, alias="WS_SEND_QUEUE")
    ws_max_clients_per_room: int = Field(default=50, alias="WS_MAX_CLIENTS_PER_ROOM")
    ws_op_rate: str = Field(default="30/second", alias="WS_OP_RATE")
    ws_cursor_rate: str = Field(default="20/second", alias="WS_CURSOR_RATE")
    ws_sync_rate: str = Field(default="10/second", alias="WS_SYNC_RATE")
    ws_ping_interval_s: float = Field(default=15.0, alias="WS_PING_INTERVAL_S")
    ws_ping_timeout_s: float = Field(default=30.0, alias="WS_PING_TIMEOUT_S")

    # Jobs (`lowcode worker`, pgqueuer). Batch size is how many jobs one dequeue
    # claims; pgqueuer requires the concurrency to be at least twice that.
    worker_concurrency: int = Field(default=200, ge=2, alias="WORKER_CONCURRENCY")
    worker_batch_size: int = Field(default=100, ge=1, alias="WORKER_BATCH_SIZE")
    # Comma-separated entrypoint names this worker runs (empty: all it knows).
    worker_entrypoints: str = Field(default="", alias="WORKER_ENTRYPOINTS")
    # Comma-separated `module:attribute` lists of extra entrypoints to register.
    worker_imports: str = Field(default="", alias="WORKER_IMPORTS")
    worker_metrics_port: int = Field(default=8081, alias="WORKER_METRICS_PORT")
    worker_heartbeat_timeout_s: float = Field(
        default=30.0, gt=0, alias="WORKER_HEARTBEAT_TIMEOUT_S"
    )
    worker_poll_s: float = Field(default=10.0, gt=0, alias="WORKER_POLL_S")
    worker_shutdown_timeout_s: float = Field(default=30.0, ge=0, alias="WORKER_SHUTDOWN_TIMEOUT_S")
    worker_cron: bool = Field(default=True, alias="WORKER_CRON")
    job_timeout_s: float = Field(default=600.0, gt=0, alias="JOB_TIMEOUT_S")
    job_max_attempts: int = Field(default=5, ge=1, alias="JOB_MAX_ATTEMPTS")
    job_retry_base_s: float = Field(default=1.0, gt=0, alias="JOB_RETRY_BASE_S")
    job_retry_max_s: float = Field(default=300.0, gt=0, alias="JOB_RETRY_MAX_S")
    job_history_retention_s: int = Field(default=7 * 24 * 3600, alias="JOB_HISTORY_RETENTION_S")
    # Cron schedule per entrypoint, JSON: 5 fields (minute hour day month
    # weekday) or 6 with seconds first; "" disables one. Replaces the default map.
    cron_schedules: dict[str, str] = Field(
        default={
            "identity.cleanup_sessions": "17 * * * *",
            "pages.compact_ops": "*/30 * * * *",
            "jobs.prune_history": "41 3 * * *",
        },
        alias="CRON_SCHEDULES",
    )
    # Expired or revoked sessions are deleted this long after they ended.
    session_retention_s: int = Field(default=7 * 24 * 3600, alias="SESSION_RETENTION_S")
    # Page ops covered by a snapshot are kept this long, and back to the
    # N-th newest revision, before compaction deletes them.
    page_ops_retention_s: int = Field(default=7 * 24 * 3600, alias="PAGE_OPS_RETENTION_S")
    page_ops_keep_revisions: int = Field(default=3, ge=1, alias="PAGE_OPS_KEEP_REVISIONS")

    calcite_target: str = Field(default="127.0.0.1:50051", alias="CALCITE_TARGET")
    seatunnel_target: str = Field(default="127.0.0.1:50052", alias="SEATUNNEL_TARGET")
    legacy_base_url: str | None = Field(default=None, alias="LEGACY_BASE_URL")

    shutdown_timeout_s: float = Field(default=20.0, alias="SHUTDOWN_TIMEOUT_S")
    validate_responses: bool = Field(default=False, alias="VALIDATE_RESPONSES")

    migrations_dir: Path = Field(default=PROJECT_ROOT / "migrations", alias="MIGRATIONS_DIR")
    queries_dir: Path = Field(default=PROJECT_ROOT / "queries", alias="QUERIES_DIR")
    asyncapi_file: Path = Field(
        default=PROJECT_ROOT / "api" / "asyncapi" / "collab.yaml", alias="ASYNCAPI_FILE"
    )
    openapi_file: Path = Field(
        default=PROJECT_ROOT / "api" / "openapi" / "openapi.yaml", alias="OPENAPI_FILE"
    )

    def redis_key(self, *parts: str) -> str:
        """Every Redis key goes through here so test sessions can share one server."""
        return self.redis_key_prefix + ":".join(parts)
