"""A broken deployment fails the checks `make test` runs: each test breaks a
copy of infra/ in one way and shows which check catches it, with what message."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lowcode.settings import PROJECT_ROOT
from tests.infra import policies
from tests.infra.deployment import Infra

CHECK_INFRA = PROJECT_ROOT / "scripts" / "check-infra"


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    copy = tmp_path / "infra"
    shutil.copytree(PROJECT_ROOT / "infra", copy)
    return copy


def edit(path: Path, change) -> None:
    """Load every document of a YAML file, let `change` alter them, write them back."""
    docs = list(yaml.safe_load_all(path.read_text()))
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def deployment(docs: list[dict]) -> dict:
    return next(d for d in docs if d["kind"] == "Deployment")


def check_infra(infra: Path, only: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_INFRA, str(infra), "--only", only],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )


def test_the_unbroken_copy_passes_the_schema_check(infra):
    run = check_infra(infra, "k8s")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_misspelt_field_fails_the_kubernetes_schema_check(infra):
    def misspell(docs):
        container = deployment(docs)["spec"]["template"]["spec"]["containers"][0]
        container["readinessProbes"] = container.pop("readinessProbe")

    edit(infra / "k8s" / "api.yaml", misspell)
    run = check_infra(infra, "k8s")
    print(run.stdout)
    assert run.returncode == 1
    assert "Additional properties are not allowed ('readinessProbes' was unexpected)" in run.stdout
    assert "infra checks failed: k8s" in run.stdout


def test_a_pdb_whose_selector_misses_its_deployment_fails_the_policy(infra):
    def mismatch(docs):
        pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
        pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "workers"

    edit(infra / "k8s" / "worker.yaml", mismatch)
    problems = policies.disruption_budgets(Infra(infra))
    print(problems)
    assert problems == [
        "PDB lowcode-worker: selector {'app.kubernetes.io/name': 'lowcode', "
        "'app.kubernetes.io/component': 'workers'} matches Deployments [], not one",
        "Deployment lowcode-worker: no PodDisruptionBudget",
    ]
    # Schema-wise the manifest is still valid: only the policy test sees it.
    assert check_infra(infra, "k8s").returncode == 0


def test_a_deployment_without_a_readiness_probe_fails_the_policy(infra):
    def drop_probe(docs):
        del deployment(docs)["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]

    edit(infra / "k8s" / "peers.yaml", drop_probe)
    problems = policies.probes(Infra(infra))
    print(problems)
    assert problems == ["lowcode-peers/peers: no readiness probe"]


def test_a_probe_on_the_wrong_port_fails_the_policy(infra):
    def wrong_port(docs):
        container = deployment(docs)["spec"]["template"]["spec"]["containers"][0]
        container["readinessProbe"]["httpGet"]["port"] = 8080

    edit(infra / "k8s" / "worker.yaml", wrong_port)
    assert policies.probes(Infra(infra)) == [
        "lowcode-worker/worker: readiness probe on port 8080, the worker listens on 8081"
    ]


def test_a_prestop_sleep_longer_than_the_grace_allows_fails_the_policy(infra):
    def long_sleep(docs):
        container = deployment(docs)["spec"]["template"]["spec"]["containers"][0]
        container["lifecycle"]["preStop"]["sleep"]["seconds"] = 30

    edit(infra / "k8s" / "api.yaml", long_sleep)
    assert policies.shutdown(Infra(infra)) == [
        "lowcode-api: preStop 30s is not below terminationGracePeriodSeconds 45s minus 20s of drain"
    ]


def test_a_container_without_limits_fails_the_policy(infra):
    def no_limits(docs):
        job = docs[0]
        del job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]

    edit(infra / "k8s" / "migrate-job.yaml", no_limits)
    assert policies.resources(Infra(infra)) == [
        "lowcode-migrate/migrate: no cpu limit",
        "lowcode-migrate/migrate: no memory limit",
    ]


def test_a_setting_missing_from_the_configmap_fails_the_policy(infra):
    def drop(docs):
        del docs[0]["data"]["WORKER_METRICS_PORT"]
        docs[0]["data"]["JWT_SECRET"] = "in-the-open"

    edit(infra / "k8s" / "configmap.yaml", drop)
    assert policies.k8s_settings(Infra(infra)) == [
        "WORKER_METRICS_PORT: a setting neither the ConfigMap nor the Secret provides "
        '(configmap.yaml: `WORKER_METRICS_PORT: "8081"`)',
        "JWT_SECRET: a secret in the ConfigMap",
    ]


def test_a_front_that_does_not_hash_pages_fails_the_policy(infra):
    template = infra / "k8s" / "front.conf.template"
    template.write_text(template.read_text().replace("hash $ws_page consistent;", ""))
    assert policies.front(Infra(infra))[0] == (
        "k8s front: upstream lowcode_pages has no `hash … consistent`"
    )
    assert "compose front: upstream lowcode_pages has no `hash … consistent`" in (
        policies.compose(Infra(infra))
    )


def test_a_misspelt_compose_condition_fails_the_compose_spec_check(infra):
    compose = infra / "compose.yaml"
    text = compose.read_text()
    compose.write_text(text.replace("condition: service_healthy", "condition: healthy", 1))
    run = check_infra(infra, "compose")
    assert run.returncode == 1
    assert "'healthy' is not one of ['service_started'" in run.stdout


def test_a_compose_dependency_without_a_condition_fails_the_policy(infra):
    def short_form(docs):
        docs[0]["services"]["worker"]["depends_on"] = ["migrate", "redis"]

    edit(infra / "compose.yaml", short_form)
    assert policies.compose(Infra(infra)) == [
        "compose worker: depends_on without conditions",
        "compose worker: does not wait for the migration to finish",
    ]


def test_a_broken_front_config_fails_nginx_t(infra):
    template = infra / "k8s" / "front.conf.template"
    template.write_text(template.read_text().replace("consistent;", "consistant;"))
    run = check_infra(infra, "nginx")
    assert "SKIPPED" not in run.stdout, run.stdout  # `make check-infra` fetches nginx
    assert run.returncode == 1
    assert 'invalid parameter "consistant"' in run.stdout
