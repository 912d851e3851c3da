"""The frontend trial's client flow (`tests/ts/e2e.ts`), compiled under
`tsc --strict` against the generated types and run by Node against the live
service: REST through openapi-fetch, WebSocket tabs through Node's WebSocket."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from lowcode.settings import PROJECT_ROOT

TSC = PROJECT_ROOT / "node_modules/.bin/tsc"
NODE = Path(sys.executable).parent / "node"

# `make install` provides both; without them this fails, it is never skipped.
assert TSC.exists() and NODE.exists(), "node and node_modules missing: run make install"


async def run(*cmd: str, cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{NODE.parent}{os.pathsep}{os.environ['PATH']}"}
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_trial_client_flow_runs_against_the_service(live: str, tmp_path: Path):
    for rel in ("tests/ts", "generated/ts"):
        shutil.copytree(PROJECT_ROOT / rel, tmp_path / rel)
    (tmp_path / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    out = tmp_path / "out"
    code, text = await run(
        str(TSC), "-p", "tests/ts", "--noEmit", "false", "--outDir", str(out), cwd=tmp_path
    )
    assert code == 0, text
    (out / "package.json").write_text('{"type": "module"}')
    (out / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    http = live.replace("ws://", "http://")
    code, text = await run(str(NODE), str(out / "e2e.js"), http, cwd=out)
    assert code == 0, text
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["workspaceLocation"].startswith("/api/v1/workspaces/")
