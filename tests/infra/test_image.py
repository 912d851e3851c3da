"""The image (infra/Dockerfile, linted by hadolint in `make check-infra`; no
engine builds it here) and the packaging it relies on."""

import ast
import re

from lowcode.cli import main as cli
from lowcode.health.probe import main as probe
from lowcode.platform.contracts import CONTRACT_DIRS, PACKAGED_ROOT, contracts_root, is_checkout
from lowcode.settings import PROJECT_ROOT, Settings
from tests.infra.deployment import Infra, containers

DOCKERFILE = PROJECT_ROOT / "infra" / "Dockerfile"
INFRA = Infra(PROJECT_ROOT / "infra")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_is_built_in_stages_and_runs_as_lowcodes_own_user():
    froms = [args for word, args in instructions() if word == "FROM"]
    assert len(froms) >= 2 and all("slim" in f or f.startswith("${") for f in froms)
    runtime = final_stage()
    assert ("USER", "10001:10001") in runtime
    assert ("ENTRYPOINT", '["lowcode"]') in runtime
    healthcheck = next(args for word, args in runtime if word == "HEALTHCHECK")
    assert '"lowcode.health.probe"' in healthcheck
    exposed = {int(p) for word, args in runtime if word == "EXPOSE" for p in args.split()}
    settings = INFRA.settings
    assert {settings.port, settings.worker_metrics_port, 50051, 50052} <= exposed


def test_the_image_installs_the_package_without_development_extras():
    installs = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert re.search(r"pip install .*-c constraints.txt \.( |$)", installs[0])
    assert "[dev]" not in installs[0] and " -e " not in installs[0]
    copied = {args.split()[0] for word, args in instructions() if word == "COPY"}
    assert set(CONTRACT_DIRS) <= copied


def test_the_build_hook_and_the_lookup_agree_on_the_contract_folders():
    tree = ast.parse((PROJECT_ROOT / "setup.py").read_text())
    assigned = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CONTRACT_DIRS"
    )
    assert ast.literal_eval(assigned) == CONTRACT_DIRS
    manifest = (PROJECT_ROOT / "MANIFEST.in").read_text().split()
    assert all(f"{name}" in manifest for name in CONTRACT_DIRS)


def test_a_checkout_reads_its_own_contracts_and_anything_else_the_packaged_ones(tmp_path):
    assert contracts_root() == PROJECT_ROOT
    assert (
        Settings(_env_file=None).openapi_file == PROJECT_ROOT / "api" / "openapi" / "openapi.yaml"
    )
    assert not is_checkout(tmp_path)
    assert PACKAGED_ROOT == PROJECT_ROOT / "src" / "lowcode" / "_contracts"


def test_every_role_the_deployment_runs_is_a_lowcode_command():
    roles = {
        c["args"][0] for w in INFRA.workloads for c in containers(w) if c["image"] == "lowcode"
    }
    lowcode_services = [
        s for s in INFRA.compose["services"].values() if s.get("image") == "lowcode:local"
    ]
    roles |= {s["command"][0] for s in lowcode_services}
    assert roles == {"serve", "worker", "peers", "migrate"}
    assert roles <= set(cli.commands)


def test_the_health_probe_refuses_arguments_it_cannot_use(capsys):
    assert probe(["not-a-port"]) == 2
    assert probe(["8080", "no-slash"]) == 2
    assert "usage" in capsys.readouterr().err
