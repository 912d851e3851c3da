"""`scripts/check-infra [INFRA_DIR]`: validate infra/ offline with the tools
pinned in the dev extras, and exit 1 when any of them objects.

- every Kubernetes manifest against the Kubernetes schemas (strict, so an
  unknown or misspelt field fails), at each version in K8S_VERSIONS;
- compose.yaml against the compose specification;
- the Dockerfile with hadolint;
- the YAML with yamllint;
- the nginx front config with `nginx -t`, rendered as the nginx image renders
  it. nginx comes from PATH or from Debian's package (downloaded and unpacked
  under .venv/, never started); where neither is possible that one check is
  skipped with a message saying so.

The policies (probes, PDB selectors, shutdown timing, resources, settings…)
are asserted by tests/infra, which `make test` runs too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# The oldest version we support (preStop `sleep` needs 1.30; 1.33 is the
# oldest still offered by the big managed services) and the newest the
# validator knows, so a field removed later is caught as well.
K8S_VERSIONS = ("1.33.0", "1.37.0")
# `server ... resolve` arrived in open-source nginx with 1.27.3.
NGINX_RESOLVE_SINCE = (1, 27, 3)
NGINX_DIR = ROOT / ".venv" / "nginx"
YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, document-start: disable,"
    " truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}"
)
# What the nginx image's envsubst would put in, for a config test that needs
# no DNS: the front's upstream and resolver as plain addresses.
NGINX_TEST_ENV = {"LOWCODE_API_UPSTREAM": "127.0.0.1:8080", "LOWCODE_DNS_RESOLVER": "127.0.0.1"}


def k8s_manifests(k8s_dir: Path) -> list[Path]:
    """Every Kubernetes object file; kustomization.yaml is kustomize's, not the API's."""
    return sorted(p for p in k8s_dir.glob("*.yaml") if p.name != "kustomization.yaml")


def render_template(text: str, env: dict[str, str]) -> str:
    """What the nginx image's envsubst makes of a template, for ${LOWCODE_*} only."""
    for name, value in env.items():
        text = text.replace("${" + name + "}", value)
    if left := re.findall(r"\$\{LOWCODE_\w+\}", text):
        raise ValueError(f"no value for {sorted(set(left))}")
    return text


def _run(title: str, cmd: Sequence[str | Path]) -> bool:
    print(f"== {title}", flush=True)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False)
    out = (proc.stdout + proc.stderr).strip()
    if out:
        print(out, flush=True)
    print(f"   {'ok' if proc.returncode == 0 else 'FAILED'}", flush=True)
    return proc.returncode == 0


def check_k8s(infra: Path) -> bool:
    files = k8s_manifests(infra / "k8s")
    if not files:
        print(f"== kubernetes: no manifests under {infra / 'k8s'}")
        return False
    ok = True
    for version in K8S_VERSIONS:
        ok &= _run(
            f"kubernetes-validate --strict -k {version} ({len(files)} files)",
            [BIN / "kubernetes-validate", "--strict", "--quiet", "-k", version, *files],
        )
    return ok


def check_compose(infra: Path) -> bool:
    return _run(
        "check-jsonschema --builtin-schema vendor.compose-spec compose.yaml",
        [
            BIN / "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            infra / "compose.yaml",
        ],
    )


def check_dockerfile(infra: Path) -> bool:
    return _run("hadolint Dockerfile", [BIN / "hadolint", "--no-color", infra / "Dockerfile"])


def check_yaml(infra: Path) -> bool:
    return _run("yamllint", [BIN / "yamllint", "--strict", "-d", YAMLLINT_CONFIG, infra])


# ---- nginx -t ----------------------------------------------------------------------


def _nginx_binary() -> Path | None:
    """nginx from PATH, else Debian's package unpacked under .venv/nginx (fetched once)."""
    if found := shutil.which("nginx"):
        return Path(found)
    unpacked = NGINX_DIR / "usr" / "sbin" / "nginx"
    if unpacked.exists():
        return unpacked
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        return None
    # `apt-get download` + `dpkg -x` rather than `apt-get install`: nothing is
    # installed system-wide and no nginx service is started on this machine.
    with tempfile.TemporaryDirectory() as tmp:

        def download() -> list[Path]:
            subprocess.run(["apt-get", "download", "-q", "nginx"], cwd=tmp, capture_output=True)
            return list(Path(tmp).glob("nginx_*.deb"))

        debs = download()
        if not debs and os.geteuid() == 0:
            # A fresh machine may have no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            debs = download()
        if not debs:
            return None
        NGINX_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(debs[0]), str(NGINX_DIR)], check=True)
    return unpacked if unpacked.exists() else None


def _nginx_version(nginx: Path) -> tuple[int, ...]:
    out = subprocess.run([str(nginx), "-v"], capture_output=True, text=True, check=False).stderr
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(p) for p in match.groups()) if match else (0, 0, 0)


def check_nginx(infra: Path) -> bool:
    template = infra / "k8s" / "front.conf.template"
    nginx = _nginx_binary()
    if nginx is None:
        print(
            "== nginx -t: SKIPPED, not checked: nginx is not on PATH and Debian's package "
            "could not be fetched (apt-get download nginx)"
        )
        return True
    version = _nginx_version(nginx)
    config = render_template(template.read_text(), NGINX_TEST_ENV)
    note = ""
    if version < NGINX_RESOLVE_SINCE:
        # Older nginx rejects the parameter the front relies on; check the rest
        # of the config with it taken out (the front image is 1.28).
        config = re.sub(r"(\bserver\s+\S+)\s+resolve\s*;", r"\1;", config)
        note = (
            f" (nginx {'.'.join(map(str, version))} predates `server ... resolve`, "
            f"so that parameter was taken out for this check)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp)
        (prefix / "front.conf").write_text(config)
        temp_paths = "".join(
            f"  {kind}_temp_path {prefix / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            f"pid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'};\nevents {{}}\n"
            f"http {{\n{temp_paths}  access_log off;\n  include {prefix / 'front.conf'};\n}}\n"
        )
        return _run(
            f"nginx -t {template.name}{note}",
            [nginx, "-t", "-q", "-p", prefix, "-e", prefix / "error.log", "-c", "nginx.conf"],
        )


CHECKS = {
    "k8s": check_k8s,
    "compose": check_compose,
    "dockerfile": check_dockerfile,
    "yaml": check_yaml,
    "nginx": check_nginx,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/check-infra", description=__doc__)
    parser.add_argument("infra", nargs="?", type=Path, default=ROOT / "infra")
    parser.add_argument("--only", action="append", choices=sorted(CHECKS), default=[])
    args = parser.parse_args(argv)
    failed = [name for name in args.only or CHECKS if not CHECKS[name](args.infra)]
    if failed:
        print(f"infra checks failed: {', '.join(failed)}")
        return 1
    print("infra checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
