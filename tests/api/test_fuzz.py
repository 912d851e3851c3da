"""A bounded slice of `make fuzz` inside the suite: schemathesis with every
check over every operation (examples, coverage, a few generated cases each,
and stateful sequences through the spec's links) against a real `lowcode
serve` on a fresh database, logged in as an admin with real data. Zero
failures, and no error in the service's log."""

from __future__ import annotations

import os
import subprocess
import sys

from lowcode.settings import PROJECT_ROOT
from tests.contract.test_spec import operations

SLICE = ["--max-examples", "3", "--phases", "examples,coverage,fuzzing,stateful"]


def test_schemathesis_finds_nothing_in_a_bounded_run():
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "FUZZ_SEED": "7", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, "-m", "scripts.fuzzing", *SLICE],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, tail
    total = sum(1 for _ in operations())
    assert f"{total} selected / {total} total" in result.stdout, tail
    assert "failure" not in result.stdout.splitlines()[-1], tail
