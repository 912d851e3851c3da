"""infra/ read back as data: the Kubernetes objects, the kustomization, the
compose file, the secrets' names, the rendered nginx front and the settings
each setting-driven number comes from. The policy checks in policies.py take
one of these, so the tests can run them on the real tree and on broken copies.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import crossplane
import yaml
from dotenv import dotenv_values
from pydantic import SecretStr

from lowcode.settings import Settings
from scripts.infra import k8s_manifests, render_template

Obj = dict[str, Any]

# The settings no deployment sets, and why. Every other setting must appear in
# the ConfigMap or the Secret (compose: in its environment or secrets file).
NOT_DEPLOYED = {
    "LOWCODE_DATA_DIR": "data of the embedded servers of `lowcode dev`",
    "MIGRATIONS_DIR": "the image carries the migrations inside the package",
    "QUERIES_DIR": "the image carries the queries inside the package",
    "OPENAPI_FILE": "the image carries the contracts inside the package",
    "ASYNCAPI_FILE": "the image carries the contracts inside the package",
}
# Settings a deployment may leave unset: the feature is off without them.
OPTIONAL = {
    "JWT_PRIVATE_KEY_FILE": "asymmetric tokens; HS256 with JWT_SECRET otherwise",
    "JWT_PUBLIC_KEY_FILE": "asymmetric tokens; HS256 with JWT_SECRET otherwise",
    "LEGACY_BASE_URL": "route toggles to a legacy backend",
    "LEGACY_FALLBACK": "unset means on exactly when LEGACY_BASE_URL is set",
    "METRICS_TOKEN": "/metrics then answers private and loopback clients only",
}
# Connection URLs carry credentials, so they belong in the Secret.
CREDENTIALS = {"DATABASE_URL", "REDIS_URL"}
# Names the deployment sets ahead of the Settings field that reads them (none
# today); once Settings has them they are checked like the rest.
ARRIVING: set[str] = set()
LOOPBACK = re.compile(r"\b(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)\b")


def setting_fields() -> dict[str, Any]:
    names = Settings.env_names()
    return {names[name]: f for name, f in Settings.model_fields.items()}


def required_settings() -> set[str]:
    """Settings a container must be given: those without a usable default.

    Derived from Settings so a new one is caught without editing this file:
    no default at all, a secret (its default is a development value), or a
    default that points at this machine (another container is not there).
    """
    required = set()
    for alias, field in setting_fields().items():
        if alias in NOT_DEPLOYED or alias in OPTIONAL:
            continue
        default = field.default
        if (
            default is None
            or field.annotation is SecretStr
            or isinstance(default, SecretStr)
            or (isinstance(default, str) and LOOPBACK.search(default))
        ):
            required.add(alias)
    return required


def secret_settings() -> set[str]:
    return {a for a, f in setting_fields().items() if f.annotation is SecretStr} | CREDENTIALS


def env_keys(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file (comments allowed), as kustomize and compose read them."""
    return {k: v or "" for k, v in dotenv_values(path).items()}


def port_of(target: str) -> int:
    return int(target.rsplit(":", 1)[1])


@dataclass
class Infra:
    root: Path

    # ---- Kubernetes -----------------------------------------------------------------

    @cached_property
    def objects(self) -> list[Obj]:
        found = []
        for path in k8s_manifests(self.root / "k8s"):
            for doc in yaml.safe_load_all(path.read_text()):
                if doc:
                    doc["_file"] = path.name
                    found.append(doc)
        return found

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Obj:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    @cached_property
    def kustomization(self) -> Obj:
        return yaml.safe_load((self.root / "k8s" / "kustomization.yaml").read_text())

    def component(self, kind: str, component: str) -> Obj:
        matches = [
            o
            for o in self.of_kind(kind)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]
        assert len(matches) == 1, f"expected one {kind} for {component}, found {len(matches)}"
        return matches[0]

    @cached_property
    def workloads(self) -> list[Obj]:
        return self.of_kind("Deployment") + self.of_kind("Job")

    @cached_property
    def config(self) -> dict[str, str]:
        data: dict[str, str] = self.named("ConfigMap", "lowcode-config")["data"]
        return data

    @cached_property
    def secret_keys(self) -> dict[str, str]:
        """The Secret's keys, from the committed example of the generator's env file."""
        return env_keys(self.root / "k8s" / "secrets.env.example")

    @cached_property
    def settings(self) -> Settings:
        """The settings every lowcode container sees (ConfigMap + Secret, empty = default)."""
        values = {**self.config, **self.secret_keys}
        return Settings(_env_file=None, **{k: v for k, v in values.items() if v})

    def front_config(self) -> list[Obj]:
        """The front's template rendered with the front Deployment's env, parsed."""
        front = self.component("Deployment", "front")
        env = {e["name"]: e.get("value", "") for e in containers(front)[0].get("env", [])}
        return parse_nginx(self.root / "k8s" / "front.conf.template", env)

    # ---- compose --------------------------------------------------------------------

    @cached_property
    def compose(self) -> Obj:
        doc: Obj = yaml.safe_load((self.root / "compose.yaml").read_text())
        return doc

    @cached_property
    def compose_secret_keys(self) -> dict[str, str]:
        return env_keys(self.root / "secrets.env.example")

    def compose_front_config(self) -> list[Obj]:
        env = self.compose["services"]["nginx"]["environment"]
        return parse_nginx(self.root / "k8s" / "front.conf.template", env)


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def container_port(container: Obj, port: int | str) -> int:
    """A probe's port as a number: named ports are looked up in the container."""
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    raise AssertionError(f"container {container['name']} has no port named {port}")


def parse_nginx(template: Path, env: dict[str, str]) -> list[Obj]:
    """The template as the nginx image renders it, parsed (http-level directives)."""
    text = render_template(template.read_text(), {k: str(v) for k, v in env.items()})
    with tempfile.TemporaryDirectory() as tmp:
        rendered = Path(tmp) / template.stem
        rendered.write_text(text)
        parsed = crossplane.parse(str(rendered), single=True, check_ctx=False, comments=False)
    assert parsed["status"] == "ok", parsed["errors"]
    directives: list[Obj] = parsed["config"][0]["parsed"]
    return directives


def find(directives: list[Obj], name: str, *args: str) -> list[Obj]:
    """Directives of that name (whose leading arguments are `args`), at any depth."""
    found = []
    for d in directives:
        if d["directive"] == name and d["args"][: len(args)] == list(args):
            found.append(d)
        found.extend(find(d.get("block", []), name, *args))
    return found
