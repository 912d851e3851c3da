"""Build hook: the wheel carries the contracts the service reads at run time.

`api/`, `queries/` and `migrations/` sit at the repository root (they are the
project's source of truth, not Python code), so plain package data cannot
reach them. This copies them into the built package as `lowcode/_contracts/`,
where `lowcode.platform.contracts` finds them in an installed wheel. Editable
installs skip the copy: a checkout reads the repository's own folders.
Everything else about the build is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Kept equal to lowcode.platform.contracts.CONTRACT_DIRS (a test checks it);
# importing the package here would need its dependencies at build time.
CONTRACT_DIRS = ("api", "queries", "migrations")


class BuildPyWithContracts(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "lowcode" / "_contracts"
        for name in CONTRACT_DIRS:
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(
                ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__")
            )


setup(cmdclass={"build_py": BuildPyWithContracts})
