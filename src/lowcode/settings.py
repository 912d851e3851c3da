"""Process configuration, read from the environment (and `.env`) by pydantic-settings.

Built by the CLI or by `create_app`, never at import time. Every field is listed
in `.env.example` and the README's configuration table
(tests/contract/test_configuration_lists.py keeps the three in step).
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

# Encrypts datasource passwords when DATASOURCE_KEYS is unset: public, so
# `lowcode serve` refuses it (other commands log a warning and run with it).
DEV_DATASOURCE_KEY = "ZGV2LW9ubHktZGF0YXNvdXJjZS1rZXktMzJieXRlcyE="
# Signs tokens when JWT_SECRET is unset: public, so `lowcode serve` refuses it
# (only `lowcode dev` runs with it).
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-in-production"  # noqa: S105
# The frontend dev servers `lowcode dev` lets call the API when
# CORS_ALLOW_ORIGINS is unset (Vite, then Create React App / Next.js).
DEV_CORS_ORIGINS = "http://localhost:5173,http://127.0.0.1:5173,http://localhost:3000"


class Settings(BaseSettings):
    # A field's environment variable is its name in capitals, matched without
    # regard to case; a field read from another name carries that name as its
    # alias and, with populate_by_name, is still set by its field name too.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    database_url: str | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "lc:"
    host: str = "0.0.0.0"
    port: int = 8080
    # Embedded servers' data: the checkout's .data/, or ./.data beside an installed package.
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data" if is_checkout() else Path(".data"),
        alias="LOWCODE_DATA_DIR",
    )

    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    slow_query_ms: float = 100.0
    access_log_body_limit: int = 50 * 1024

    db_pool_min: int = 2
    db_pool_max: int = 20
    db_statement_timeout_ms: int = 30_000
    redis_pool_max: int = 50

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_private_key_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_issuer: str = "lowcode"
    jwt_audience: str = "lowcode-api"
    jwt_leeway_s: int = 30
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # A rotated refresh token presented again within this many seconds (two
    # tabs refreshing at once) gets the same successor instead of revoking
    # the session; later reuse still revokes it. 0 turns the grace off.
    refresh_reuse_interval_s: int = Field(default=10, ge=0, le=300)
    # How long a session's state may be served from Redis before Postgres is
    # asked again; revocations overwrite the cached state at once.
    session_cache_ttl_s: int = 60
    # ...and from this process's memory (0: never), evicted on every node
    # through Redis pub/sub when a session is revoked or changed.
    session_local_ttl_s: float = Field(default=5.0, ge=0, le=60)

    # Sliding-window limits, in the `limits` notation ("N/second|minute|hour").
    rate_limit_login_ip: str = "30/minute"
    rate_limit_login_email: str = "10/minute"
    rate_limit_register_ip: str = "10/minute"
    rate_limit_register_email: str = "5/minute"

    # Pages: document size limit, snapshot cadence, read cache lifetime.
    page_max_bytes: int = 2 * 1024 * 1024
    page_snapshot_every_ops: int = 50
    page_snapshot_every_s: float = 30.0
    page_cache_ttl_s: int = 600
    # ...and held in each API process up to this many bytes (0: not held).
    page_local_cache_bytes: int = Field(default=32 * 2**20, ge=0)
    # Rebase: an op at most this many versions behind the head is checked
    # against the ops since its base (rooms keep as many in memory); older
    # bases get VERSION_CONFLICT and resync.
    page_rebase_max_ops: int = Field(default=1000, ge=1, le=100_000)

    # Collaboration (WebSockets).
    ws_max_message_bytes: int = 1024 * 1024
    ws_send_queue: int = 256
    ws_max_clients_per_room: int = 50
    ws_op_rate: str = "30/second"
    ws_cursor_rate: str = "20/second"
    ws_sync_rate: str = "10/second"
    ws_ping_interval_s: float = 15.0
    ws_ping_timeout_s: float = 30.0

    # Jobs (`lowcode worker`, pgqueuer). Batch size is how many jobs one dequeue
    # claims; pgqueuer requires the concurrency to be at least twice that.
    worker_concurrency: int = Field(default=200, ge=2)
    worker_batch_size: int = Field(default=100, ge=1)
    # Comma-separated entrypoint names this worker runs (empty: all it knows).
    worker_entrypoints: str = ""
    # Comma-separated `module:attribute` lists of extra entrypoints to register.
    worker_imports: str = ""
    worker_metrics_port: int = 8081
    worker_heartbeat_timeout_s: float = Field(default=30.0, gt=0)
    worker_poll_s: float = Field(default=10.0, gt=0)
    worker_shutdown_timeout_s: float = Field(default=30.0, ge=0)
    worker_cron: bool = True
    job_timeout_s: float = Field(default=600.0, gt=0)
    job_max_attempts: int = Field(default=5, ge=1)
    job_retry_base_s: float = Field(default=1.0, gt=0)
    job_retry_max_s: float = Field(default=300.0, gt=0)
    job_history_retention_s: int = 7 * 24 * 3600
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
    )
    # Expired or revoked sessions are deleted this long after they ended.
    session_retention_s: int = 7 * 24 * 3600
    # Page ops covered by a snapshot are kept this long, and back to the
    # N-th newest revision, before compaction deletes them.
    page_ops_retention_s: int = 7 * 24 * 3600
    page_ops_keep_revisions: int = Field(default=3, ge=1)

    calcite_target: str = "127.0.0.1:50051"
    seatunnel_target: str = "127.0.0.1:50052"
    legacy_base_url: str | None = None

    # Migration toggles (feature flags, legacy routing and fallback).
    # Flags absent from the database, JSON {key: true|false}.
    flag_defaults: dict[str, bool] = Field(default={})
    # Replay a failed safe/idempotent request to LEGACY_BASE_URL; unset = on
    # exactly when LEGACY_BASE_URL is set.
    legacy_fallback: bool | None = None
    # Bodies up to this size are kept for a replay; larger requests are never replayed.
    legacy_replay_max_bytes: int = Field(default=4 * 1024 * 1024, ge=0)
    legacy_connect_timeout_s: float = Field(default=2.0, gt=0)
    # Read, write and pool timeout of each step of a proxied exchange.
    legacy_timeout_s: float = Field(default=30.0, gt=0)
    legacy_max_connections: int = Field(default=100, ge=1)
    # The breaker opens after this many failures in a row (connect errors,
    # timeouts, 502/503/504) and lets a request through again after the reset time.
    legacy_breaker_threshold: int = Field(default=5, ge=1)
    legacy_breaker_reset_s: float = Field(default=30.0, gt=0)
    # Page → workspace lookups kept for routing decisions (pages never move).
    legacy_lookup_cache_size: int = Field(default=10_000, ge=1)

    @property
    def legacy_fallback_on(self) -> bool:
        if self.legacy_base_url is None:
            return False
        return True if self.legacy_fallback is None else self.legacy_fallback

    # gRPC peers (CALCITE_TARGET…): channels per target, per-call deadline,
    # retries of idempotent calls on UNAVAILABLE/DEADLINE_EXCEEDED, and the
    # circuit breaker (opens after N failed attempts in a row, for RESET_S).
    # Interface `lowcode peers` binds (compose/k8s: 0.0.0.0).
    peers_host: str = "127.0.0.1"
    grpc_pool_size: int = Field(default=2, ge=1, le=32)
    grpc_timeout_s: float = Field(default=5.0, gt=0)
    grpc_retry_attempts: int = Field(default=3, ge=1, le=20)
    grpc_retry_timeout_s: float = Field(default=10.0, gt=0)
    grpc_retry_wait_initial_s: float = Field(default=0.1, gt=0)
    grpc_retry_wait_max_s: float = Field(default=1.0, gt=0)
    grpc_breaker_threshold: int = Field(default=5, ge=1)
    grpc_breaker_reset_s: float = Field(default=30.0, gt=0)

    # Datasources: Fernet keys (comma-separated, newest first; the first
    # encrypts, all decrypt) for passwords at rest, which hosts may be reached,
    # and the small connection pool kept per datasource.
    datasource_keys: SecretStr = SecretStr(DEV_DATASOURCE_KEY)
    datasource_allowed_hosts: str = ""
    datasource_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    datasource_pool_max: int = Field(default=3, ge=1, le=20)
    datasource_pool_idle_s: float = Field(default=300.0, gt=0)
    datasource_catalog_ttl_s: float = Field(default=30.0, ge=0)
    # Dataset previews: statement timeout and response byte cap.
    dataset_statement_timeout_ms: int = Field(default=5000, ge=100)
    dataset_preview_max_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Data syncs (`sync.run` jobs follow each run on the SEATUNNEL_TARGET peer).
    # Progress is written to the run and pushed on /ws/events at most this often.
    sync_progress_interval_s: float = Field(default=1.0, gt=0, le=60)
    # GetJob polling cadence while the WatchJob stream cannot be followed.
    sync_poll_s: float = Field(default=1.0, gt=0, le=60)
    # A WatchJob stream silent this long is taken for dead and resumed (the
    # peer sends an event at least every 2 s while a job runs).
    sync_watch_idle_s: float = Field(default=10.0, gt=0)
    # The peer unreachable this long fails the run: no run stays RUNNING forever.
    sync_peer_lost_s: float = Field(default=120.0, gt=0)
    # A run still going this long after it started is canceled and FAILED.
    sync_run_timeout_s: float = Field(default=6 * 3600.0, gt=0)

    shutdown_timeout_s: float = 20.0
    validate_responses: bool = False

    # Hostile input and outages: what one request, frame or patch may cost, and
    # how the service answers while a dependency is down (README "Limits").
    json_max_depth: int = Field(default=64, ge=2, le=200)
    http_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    http_auth_max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    # SQL routes (parse/validate/transpile, datasets): 100,000-character SQL
    # and inline catalogs.
    http_sql_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    http_page_body_slack_bytes: int = Field(default=256 * 1024, ge=0)
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_max_concurrency: int = Field(default=4096, ge=1)
    # Requests share one event loop and are CPU-bound: 1,000 connections on a
    # page read measured 998 req/s at 8 in flight, 894 at 16, 844 at 32 and
    # timeouts at 256; 16 keeps some slack for requests waiting on I/O.
    http_max_in_flight: int = Field(default=16, ge=1)
    http_queue_timeout_s: float = Field(default=5.0, gt=0)
    http_keepalive_timeout_s: float = Field(default=5.0, gt=0)
    page_max_components: int = Field(default=10_000, ge=1)
    page_max_tree_depth: int = Field(default=100, ge=1)
    page_patch_max_work_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    db_acquire_timeout_s: float = Field(default=5.0, gt=0)
    db_command_timeout_s: float = Field(default=35.0, gt=0)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    unavailable_retry_after_s: int = Field(default=5, ge=1)
    ready_requires_redis: bool = False
    ws_send_queue_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    ws_max_ops_in_flight: int = Field(default=8, ge=1)
    ws_room_inbox_bytes: int = Field(default=32 * 1024 * 1024, ge=64 * 1024)
    ws_max_rooms: int = Field(default=1000, ge=1)
    ws_max_sockets_per_user: int = Field(default=20, ge=1)
    ws_join_rate: str = "60/minute"
    # Open sockets re-check their session and membership this often, besides
    # before every op batch and on every announced change (SPEC §4.6).
    ws_access_recheck_s: float = Field(default=60.0, gt=0)
    # Trust boundaries (README "Security"). Proxies whose X-Forwarded-For /
    # X-Forwarded-Proto are believed: comma-separated IPs and CIDRs (empty:
    # none; `*` trusts anyone to claim any address — never do that).
    forwarded_allow_ips: str = "127.0.0.1"
    # Browser origins allowed to call the API (CORS), comma-separated, exact
    # (`https://app.example.com`); empty: none. `lowcode dev` allows DEV_CORS_ORIGINS.
    cors_allow_origins: str = ""
    # Members an owner may add (by id or email) per window, all workspaces together.
    rate_limit_add_member: str = "100/hour"
    # `/metrics` with `Authorization: Bearer <METRICS_TOKEN>` only; unset: only
    # from private and loopback addresses.
    metrics_token: SecretStr = SecretStr("")

    migrations_dir: Path = CONTRACTS_ROOT / "migrations"
    queries_dir: Path = CONTRACTS_ROOT / "queries"
    asyncapi_file: Path = CONTRACTS_ROOT / "api" / "asyncapi" / "collab.yaml"
    openapi_file: Path = CONTRACTS_ROOT / "api" / "openapi" / "openapi.yaml"

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

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Field name -> the environment variable that sets it."""
        return {name: field.alias or name.upper() for name, field in cls.model_fields.items()}

    @property
    def encrypts_with_dev_key(self) -> bool:
        """Datasource passwords under the public development key: never acceptable in production."""
        return self.datasource_keys.get_secret_value() == DEV_DATASOURCE_KEY

    def redis_key(self, *parts: str) -> str:
        """Every Redis key goes through here so test sessions can share one server."""
        return self.redis_key_prefix + ":".join(parts)
