"""`lowcode serve` as a real process on a real socket: ready, serving, and a clean SIGTERM."""

import json
import os
import signal
import subprocess

import httpx
import pytest

from lowcode.settings import DEV_DATASOURCE_KEY
from tests.processes import LOWCODE, serving


def test_serve_answers_over_tcp_and_stops_cleanly_on_sigterm(database_url, redis_url, tmp_path):
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_FORMAT": "json"}
    log_path = tmp_path / "serve.log"
    with serving(env, log_path) as server:
        missing = httpx.get(f"{server.http}/api/v1/does-not-exist")
        assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
        assert missing.headers["x-request-id"]
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("message") == "stopped" for line in lines)
    assert any(line.get("path") == "/api/v1/does-not-exist" for line in lines)


def test_serve_refuses_to_start_without_urls(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    proc = subprocess.run(
        [LOWCODE, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "lowcode dev" in proc.stderr


def test_serve_reports_a_broken_query_file_in_one_line(tmp_path):
    folder = tmp_path / "queries" / "pages"
    folder.mkdir(parents=True)
    (folder / "pages.sql").write_text(
        "-- name: get_page(page_id)^\nSELECT id FROM pages WHERE id = :id;\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://unused/x",
        "REDIS_URL": "redis://unused",
        "QUERIES_DIR": str(folder.parent),
    }
    proc = subprocess.run(
        [LOWCODE, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "queries/pages/pages.sql:2:33: pages.get_page: parameter :id is used in the SQL "
        "but not declared in get_page(page_id)\n"
    )


def test_cli_help_explains_each_command():
    out = subprocess.run([LOWCODE, "--help"], capture_output=True, text=True, timeout=60).stdout
    for command in ("serve", "dev", "migrate"):
        assert command in out


@pytest.mark.parametrize(
    "name, refused",
    [
        ("JWT_SECRET", (None, "dev-only-insecure-jwt-secret-change-me-in-production")),
        # Anyone with the repository could decrypt passwords stored under it.
        ("DATASOURCE_KEYS", (None, "", DEV_DATASOURCE_KEY)),
    ],
)
def test_serve_refuses_a_missing_or_public_development_secret(tmp_path, name, refused):
    env = {
        **{k: v for k, v in os.environ.items() if k != name},
        "DATABASE_URL": "postgresql://unused/x",
        "REDIS_URL": "redis://unused",
    }
    for value in refused:
        run_env = env if value is None else {**env, name: value}
        proc = subprocess.run(
            [LOWCODE, "serve"],
            env=run_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert f"{name} is not set" in proc.stderr, proc.stderr
