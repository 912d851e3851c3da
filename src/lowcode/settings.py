"""Process configuration, read from the environment (and `.env`) by pydantic-settings.

Built by the CLI or by `create_app`, never at import time. Every field is listed
in `.env.example` and the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from lowcode.platform.contracts import contracts_root, is_checkout

# The repository root in a source checkout (tests, scripts and codegen use it).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Where api/, queries/ and migrations/ are read from: the checkout's own
# folders, or the copies an installed wheel carries (platform/contracts.py).
CONTRACTS_ROOT = contracts_root()

# Encrypts datasource passwords when DATASOURCE_KEYS is unset (local work
# only; a warning is logged at start-up). Production sets its own keys.
DEV_DATASOURCE_KEY = "ZGV2LW9ubHktZGF0YXNvdXJjZS1rZXktMzJieXRlcyE="
# Signs tokens when JWT_SECRET is unset: public, so `lowcode serve` refuses it
# (only `lowcode dev` and tests run with it).
# The frontend dev servers `lowcode dev` lets call the API when
# CORS_ALLOW_ORIGINS is unset (Vite, then Create React App / Next.js).
DEV_CORS_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173,http://localhost:3000"
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-in-production"  # noqa: S105


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_key_prefix: str = Field(default="lc:", alias="REDIS_KEY_PREFIX")
    host: str = Field(default="0.0.0.0", alias="HOST")
    port: int = Field(default=8080, alias="PORT")
    # Embedded servers' data: the checkout's .data/, or ./.data beside an installed package.
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data" if is_checkout() else Path(".data"),
        alias="LOWCODE_DATA_DIR",
    )

    log_format: Literal["json", "console"] = Field(default="json", alias="LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    slow_query_ms: float = Field(default=100.0, alias="SLOW_QUERY_MS")
    access_log_body_limit: int = Field(default=50 * 1024, alias="ACCESS_LOG_BODY_LIMIT")

    db_pool_min: int = Field(default=2, alias="DB_POOL_MIN")
    db_pool_max: int = Field(default=20, alias="DB_POOL_MAX")
    db_statement_timeout_ms: int = Field(default=30_000, alias="DB_STATEMENT_TIMEOUT_MS")
    redis_pool_max: int = Field(default=50, alias="REDIS_POOL_MAX")

    jwt_secret: SecretStr = Field(
        default=SecretStr(DEV_JWT_SECRET),
        alias="JWT_SECRET",
    )
    jwt_private_key_file: Path | None = Field(default=None, alias="JWT_PRIVATE_KEY_FILE")
    jwt_public_key_file: Path | None = Field(default=None, alias="JWT_PUBLIC_KEY_FILE")
    jwt_issuer: str = Field(default="lowcode", alias="JWT_ISSUER")
    jwt_audience: str = Field(default="lowcode-api", alias="JWT_AUDIENCE")
    jwt_leeway_s: int = Field(default=30, alias="JWT_LEEWAY_S")
    access_token_ttl_s: int = Field(default=15 * 60, alias="ACCESS_TOKEN_TTL_S")
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, alias="REFRESH_TOKEN_TTL_S")
    # A rotated refresh token presented again within this many seconds (two
    # tabs refreshing at once) gets the same successor instead of revoking
    # the session; later reuse still revokes it. 0 turns the grace off.
    refresh_reuse_interval_s: int = Field(
        default=10, ge=0, le=300, alias="REFRESH_REUSE_INTERVAL_S"
    )
    # How long a session's state may be served from Redis before Postgres is
    # asked again; revocations overwrite the cached state at once.
    session_cache_ttl_s: int = Field(default=60, alias="SESSION_CACHE_TTL_S")
    # ...and from this process's memory (0: never), evicted on every node
    # through Redis pub/sub when a session is revoked or changed.
    session_local_ttl_s: float = Field(default=5.0, ge=0, le=60, alias="SESSION_LOCAL_TTL_S")

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
    # ...and held in each API process up to this many bytes (0: not held).
    page_local_cache_bytes: int = Field(default=32 * 2**20, ge=0, alias="PAGE_LOCAL_CACHE_BYTES")
    # Rebase: an op at most this many versions behind the head is checked
    # against the ops since its base (rooms keep as many in memory); older
    # bases get VERSION_CONFLICT and resync.
    page_rebase_max_ops: int = Field(default=1000, ge=1, le=100_000, alias="PAGE_REBASE_MAX_OPS")

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
            "sync.schedule": "* * * * *",
            "sync.reap_runs": "*/5 * * * *",
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

    # Migration toggles (feature flags, legacy routing and fallback).
    # Flags absent from the database, JSON {key: true|false}.
    flag_defaults: dict[str, bool] = Field(default={}, alias="FLAG_DEFAULTS")
    # Replay a failed safe/idempotent request to LEGACY_BASE_URL; unset = on
    # exactly when LEGACY_BASE_URL is set.
    legacy_fallback: bool | None = Field(default=None, alias="LEGACY_FALLBACK")
    # Bodies up to this size are kept for a replay; larger requests are never replayed.
    legacy_replay_max_bytes: int = Field(
        default=4 * 1024 * 1024, ge=0, alias="LEGACY_REPLAY_MAX_BYTES"
    )
    legacy_connect_timeout_s: float = Field(default=2.0, gt=0, alias="LEGACY_CONNECT_TIMEOUT_S")
    # Read, write and pool timeout of each step of a proxied exchange.
    legacy_timeout_s: float = Field(default=30.0, gt=0, alias="LEGACY_TIMEOUT_S")
    legacy_max_connections: int = Field(default=100, ge=1, alias="LEGACY_MAX_CONNECTIONS")
    # The breaker opens after this many failures in a row (connect errors,
    # timeouts, 502/503/504) and lets a request through again after the reset time.
    legacy_breaker_threshold: int = Field(default=5, ge=1, alias="LEGACY_BREAKER_THRESHOLD")
    legacy_breaker_reset_s: float = Field(default=30.0, gt=0, alias="LEGACY_BREAKER_RESET_S")
    # Page → workspace lookups kept for routing decisions (pages never move).
    legacy_lookup_cache_size: int = Field(default=10_000, ge=1, alias="LEGACY_LOOKUP_CACHE_SIZE")

    @property
    def legacy_fallback_on(self) -> bool:
        if self.legacy_base_url is None:
            return False
        return True if self.legacy_fallback is None else self.legacy_fallback

    # gRPC peers (CALCITE_TARGET…): channels per target, per-call deadline,
    # retries of idempotent calls on UNAVAILABLE/DEADLINE_EXCEEDED, and the
    # circuit breaker (opens after N failed attempts in a row, for RESET_S).
    # Interface `lowcode peers` binds (compose/k8s: 0.0.0.0).
    peers_host: str = Field(default="127.0.0.1", alias="PEERS_HOST")
    grpc_pool_size: int = Field(default=2, ge=1, le=32, alias="GRPC_POOL_SIZE")
    grpc_timeout_s: float = Field(default=5.0, gt=0, alias="GRPC_TIMEOUT_S")
    grpc_retry_attempts: int = Field(default=3, ge=1, le=20, alias="GRPC_RETRY_ATTEMPTS")
    grpc_retry_timeout_s: float = Field(default=10.0, gt=0, alias="GRPC_RETRY_TIMEOUT_S")
    grpc_retry_wait_initial_s: float = Field(default=0.1, gt=0, alias="GRPC_RETRY_WAIT_INITIAL_S")
    grpc_retry_wait_max_s: float = Field(default=1.0, gt=0, alias="GRPC_RETRY_WAIT_MAX_S")
    grpc_breaker_threshold: int = Field(default=5, ge=1, alias="GRPC_BREAKER_THRESHOLD")
    grpc_breaker_reset_s: float = Field(default=30.0, gt=0, alias="GRPC_BREAKER_RESET_S")

    # Datasources: Fernet keys (comma-separated, newest first; the first
    # encrypts, all decrypt) for passwords at rest, which hosts may be reached,
    # and the small connection pool kept per datasource.
    datasource_keys: SecretStr = Field(
        default=SecretStr(DEV_DATASOURCE_KEY), alias="DATASOURCE_KEYS"
    )
    datasource_allowed_hosts: str = Field(default="", alias="DATASOURCE_ALLOWED_HOSTS")
    datasource_connect_timeout_s: float = Field(
        default=5.0, gt=0, le=60, alias="DATASOURCE_CONNECT_TIMEOUT_S"
    )
    datasource_pool_max: int = Field(default=3, ge=1, le=20, alias="DATASOURCE_POOL_MAX")
    datasource_pool_idle_s: float = Field(default=300.0, gt=0, alias="DATASOURCE_POOL_IDLE_S")
    datasource_catalog_ttl_s: float = Field(default=30.0, ge=0, alias="DATASOURCE_CATALOG_TTL_S")
    # Dataset previews: statement timeout and response byte cap.
    dataset_statement_timeout_ms: int = Field(
        default=5000, ge=100, alias="DATASET_STATEMENT_TIMEOUT_MS"
    )
    dataset_preview_max_bytes: int = Field(
        default=1024 * 1024, ge=1024, alias="DATASET_PREVIEW_MAX_BYTES"
    )

    # Data syncs (`sync.run` jobs follow each run on the SEATUNNEL_TARGET peer).
    # Progress is written to the run and pushed on /ws/events at most this often.
    sync_progress_interval_s: float = Field(
        default=1.0, gt=0, le=60, alias="SYNC_PROGRESS_INTERVAL_S"
    )
    # GetJob polling cadence while the WatchJob stream cannot be followed.
    sync_poll_s: float = Field(default=1.0, gt=0, le=60, alias="SYNC_POLL_S")
    # A WatchJob stream silent this long is taken for dead and resumed (the
    # peer sends an event at least every 2 s while a job runs).
    sync_watch_idle_s: float = Field(default=10.0, gt=0, alias="SYNC_WATCH_IDLE_S")
    # The peer unreachable this long fails the run: no run stays RUNNING forever.
    sync_peer_lost_s: float = Field(default=120.0, gt=0, alias="SYNC_PEER_LOST_S")
    # A run still going this long after it started is canceled and FAILED.
    sync_run_timeout_s: float = Field(default=6 * 3600.0, gt=0, alias="SYNC_RUN_TIMEOUT_S")

    shutdown_timeout_s: float = Field(default=20.0, alias="SHUTDOWN_TIMEOUT_S")
    validate_responses: bool = Field(default=False, alias="VALIDATE_RESPONSES")

    # Hostile input and outages: what one request, frame or patch may cost, and
    # how the service answers while a dependency is down (README "Limits").
    json_max_depth: int = Field(default=64, ge=2, le=200, alias="JSON_MAX_DEPTH")
    http_max_body_bytes: int = Field(default=64 * 1024, ge=1024, alias="HTTP_MAX_BODY_BYTES")
    http_auth_max_body_bytes: int = Field(
        default=16 * 1024, ge=1024, alias="HTTP_AUTH_MAX_BODY_BYTES"
    )
    # SQL routes (parse/validate/transpile, datasets): 100,000-character SQL
    # and inline catalogs.
    http_sql_max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, alias="HTTP_SQL_MAX_BODY_BYTES"
    )
    http_page_body_slack_bytes: int = Field(
        default=256 * 1024, ge=0, alias="HTTP_PAGE_BODY_SLACK_BYTES"
    )
    http_body_timeout_s: float = Field(default=30.0, gt=0, alias="HTTP_BODY_TIMEOUT_S")
    http_header_timeout_s: float = Field(default=10.0, gt=0, alias="HTTP_HEADER_TIMEOUT_S")
    http_max_concurrency: int = Field(default=4096, ge=1, alias="HTTP_MAX_CONCURRENCY")
    # Requests share one event loop and are CPU-bound: 1,000 connections on a
    # page read measured 998 req/s at 8 in flight, 894 at 16, 844 at 32 and
    # timeouts at 256; 16 keeps some slack for requests waiting on I/O.
    http_max_in_flight: int = Field(default=16, ge=1, alias="HTTP_MAX_IN_FLIGHT")
    http_queue_timeout_s: float = Field(default=5.0, gt=0, alias="HTTP_QUEUE_TIMEOUT_S")
    http_keepalive_timeout_s: float = Field(default=5.0, gt=0, alias="HTTP_KEEPALIVE_TIMEOUT_S")
    page_max_components: int = Field(default=10_000, ge=1, alias="PAGE_MAX_COMPONENTS")
    page_max_tree_depth: int = Field(default=100, ge=1, alias="PAGE_MAX_TREE_DEPTH")
    page_patch_max_work_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, alias="PAGE_PATCH_MAX_WORK_BYTES"
    )
    db_acquire_timeout_s: float = Field(default=5.0, gt=0, alias="DB_ACQUIRE_TIMEOUT_S")
    db_command_timeout_s: float = Field(default=35.0, gt=0, alias="DB_COMMAND_TIMEOUT_S")
    db_connect_timeout_s: float = Field(default=5.0, gt=0, alias="DB_CONNECT_TIMEOUT_S")
    unavailable_retry_after_s: int = Field(default=5, ge=1, alias="UNAVAILABLE_RETRY_AFTER_S")
    ready_requires_redis: bool = Field(default=False, alias="READY_REQUIRES_REDIS")
    ws_send_queue_bytes: int = Field(
        default=8 * 1024 * 1024, ge=64 * 1024, alias="WS_SEND_QUEUE_BYTES"
    )
    ws_max_ops_in_flight: int = Field(default=8, ge=1, alias="WS_MAX_OPS_IN_FLIGHT")
    ws_room_inbox_bytes: int = Field(
        default=32 * 1024 * 1024, ge=64 * 1024, alias="WS_ROOM_INBOX_BYTES"
    )
    ws_max_rooms: int = Field(default=1000, ge=1, alias="WS_MAX_ROOMS")
    ws_max_sockets_per_user: int = Field(default=20, ge=1, alias="WS_MAX_SOCKETS_PER_USER")
    ws_join_rate: str = Field(default="60/minute", alias="WS_JOIN_RATE")
    # Open sockets re-check their session and membership this often, besides
    # before every op batch and on every announced change (SPEC §4.6).
    ws_access_recheck_s: float = Field(default=60.0, gt=0, alias="WS_ACCESS_RECHECK_S")
    # Trust boundaries (README "Security"). Proxies whose X-Forwarded-For /
    # X-Forwarded-Proto are believed: comma-separated IPs and CIDRs (empty:
    # none; `*` trusts anyone to claim any address — never do that).
    forwarded_allow_ips: str = Field(default="127.0.0.1", alias="FORWARDED_ALLOW_IPS")
    # Browser origins allowed to call the API (CORS), comma-separated, exact
    # (`https://app.example.com`); empty: none. `lowcode dev` allows DEV_CORS_ORIGINS.
    cors_allow_origins: str = Field(default="", alias="CORS_ALLOW_ORIGINS")
    # Members an owner may add (by id or email) per window, all workspaces together.
    rate_limit_add_member: str = Field(default="100/hour", alias="RATE_LIMIT_ADD_MEMBER")
    # `/metrics` with `Authorization: Bearer <METRICS_TOKEN>` only; unset: only
    # from private and loopback addresses.
    metrics_token: SecretStr = Field(default=SecretStr(""), alias="METRICS_TOKEN")

    migrations_dir: Path = Field(default=CONTRACTS_ROOT / "migrations", alias="MIGRATIONS_DIR")
    queries_dir: Path = Field(default=CONTRACTS_ROOT / "queries", alias="QUERIES_DIR")
    asyncapi_file: Path = Field(
        default=CONTRACTS_ROOT / "api" / "asyncapi" / "collab.yaml", alias="ASYNCAPI_FILE"
    )
    openapi_file: Path = Field(
        default=CONTRACTS_ROOT / "api" / "openapi" / "openapi.yaml", alias="OPENAPI_FILE"
    )

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_allow_origins.split(",") if o.strip()]

    @property
    def forwarded_allow_list(self) -> list[str]:
        return [h.strip() for h in self.forwarded_allow_ips.split(",") if h.strip()]

    @property
    def signs_with_dev_secret(self) -> bool:
        """HS256 with the public development secret: never acceptable in production."""
        return (
            self.jwt_private_key_file is None
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
        )

    def redis_key(self, *parts: str) -> str:
        """Every Redis key goes through here so test sessions can share one server."""
        return self.redis_key_prefix + ":".join(parts)
