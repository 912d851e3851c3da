"""The deployment policies, each a function from an Infra to the problems it
finds (empty when the policy holds). tests/infra asserts each on infra/ and
shows, on broken copies, that a broken manifest is caught.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import SecretStr

from tests.infra.deployment import (
    ARRIVING,
    NOT_DEPLOYED,
    Infra,
    Obj,
    container_port,
    containers,
    find,
    pod_spec,
    port_of,
    required_settings,
    secret_settings,
    setting_fields,
)

# How long each component needs after SIGTERM, when no setting says it.
PEERS_STOP_GRACE_S = 5  # lowcode_peers stops its grpcio servers with grace=5
FRONT_DRAIN_S = 20  # requests in flight and the API's 1012 closes through nginx
LOWCODE_USER = 10001  # USER of infra/Dockerfile


def _probe_port(container: Obj, probe: Obj) -> int:
    handler = probe.get("httpGet") or probe.get("grpc") or probe.get("tcpSocket") or {}
    return container_port(container, handler["port"])


def probes(infra: Infra) -> list[str]:
    """Liveness and readiness everywhere; the right paths and ports for each role."""
    problems = []
    expected_http = {
        "api": infra.settings.port,
        "worker": infra.settings.worker_metrics_port,
        "front": 8080,
    }
    peer_ports = {port_of(infra.settings.calcite_target), port_of(infra.settings.seatunnel_target)}
    for deployment in infra.of_kind("Deployment"):
        role = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        for c in containers(deployment):
            where = f"{deployment['metadata']['name']}/{c['name']}"
            live, ready = c.get("livenessProbe"), c.get("readinessProbe")
            if not live or not ready:
                missing = [n for n, p in (("liveness", live), ("readiness", ready)) if not p]
                problems.append(f"{where}: no {' and no '.join(missing)} probe")
                continue
            if role == "peers":
                used = set()
                for kind, probe in (("liveness", live), ("readiness", ready)):
                    if "grpc" not in probe:
                        problems.append(f"{where}: {kind} probe is not a gRPC health probe")
                        continue
                    used.add(_probe_port(c, probe))
                startup = c.get("startupProbe")
                if startup and "grpc" in startup:
                    used.add(_probe_port(c, startup))
                declared = {int(p["containerPort"]) for p in c.get("ports", [])}
                if used != peer_ports or not peer_ports <= declared:
                    problems.append(
                        f"{where}: gRPC probes on {sorted(used)}, ports {sorted(declared)}; "
                        f"the peers listen on {sorted(peer_ports)} "
                        "(CALCITE_TARGET, SEATUNNEL_TARGET)"
                    )
                continue
            paths = {"liveness": "/health/live", "readiness": "/health/ready"}
            if role == "front":
                paths = {"liveness": "/healthz", "readiness": "/healthz"}
            for kind, probe in (("liveness", live), ("readiness", ready)):
                http = probe.get("httpGet")
                if not http:
                    problems.append(f"{where}: {kind} probe is not an HTTP probe")
                    continue
                if http.get("path") != paths[kind]:
                    problems.append(
                        f"{where}: {kind} probe on {http.get('path')}, not {paths[kind]}"
                    )
                port = _probe_port(c, probe)
                if role in expected_http and port != expected_http[role]:
                    problems.append(
                        f"{where}: {kind} probe on port {port}, the {role} listens on "
                        f"{expected_http[role]}"
                    )
    return problems


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def disruption_budgets(infra: Infra) -> list[str]:
    """One PDB per Deployment, selecting exactly its pods and letting one go at a time."""
    problems = []
    deployments = infra.of_kind("Deployment")
    for pdb in infra.of_kind("PodDisruptionBudget"):
        name = pdb["metadata"]["name"]
        selector = pdb["spec"]["selector"].get("matchLabels", {})
        matched = [
            d
            for d in deployments
            if _selects(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        if len(matched) != 1:
            got = [d["metadata"]["name"] for d in matched]
            problems.append(f"PDB {name}: selector {selector} matches Deployments {got}, not one")
            continue
        deployment = matched[0]
        if selector != deployment["spec"]["selector"]["matchLabels"]:
            own = deployment["spec"]["selector"]["matchLabels"]
            problems.append(
                f"PDB {name}: selector {selector} differs from Deployment "
                f"{deployment['metadata']['name']}'s {own}"
            )
        spec = pdb["spec"]
        if "minAvailable" in spec and int(spec["minAvailable"]) >= deployment["spec"]["replicas"]:
            problems.append(f"PDB {name}: minAvailable blocks every voluntary eviction")
        if "maxUnavailable" in spec and int(spec["maxUnavailable"]) < 1:
            problems.append(f"PDB {name}: maxUnavailable blocks every voluntary eviction")
    covered = {
        d["metadata"]["name"]
        for d in deployments
        for pdb in infra.of_kind("PodDisruptionBudget")
        if pdb["spec"]["selector"].get("matchLabels") == d["spec"]["selector"]["matchLabels"]
    }
    for d in deployments:
        if d["metadata"]["name"] not in covered:
            problems.append(f"Deployment {d['metadata']['name']}: no PodDisruptionBudget")
        if not _selects(
            d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]
        ):
            problems.append(f"Deployment {d['metadata']['name']}: selector misses its own pods")
    return problems


def services(infra: Infra) -> list[str]:
    """Every Service selects pods of one Deployment, on ports those pods declare;
    the API has a headless one for the front."""
    problems = []
    for service in infra.of_kind("Service"):
        name = service["metadata"]["name"]
        selector = service["spec"].get("selector", {})
        pods = [
            d
            for d in infra.of_kind("Deployment")
            if _selects(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        if len(pods) != 1:
            problems.append(f"Service {name}: selects {len(pods)} Deployments")
            continue
        for port in service["spec"]["ports"]:
            try:
                container_port(containers(pods[0])[0], port.get("targetPort", port["port"]))
            except AssertionError as e:
                problems.append(f"Service {name}: {e}")
    headless = [
        s
        for s in infra.of_kind("Service")
        if s["spec"].get("clusterIP") == "None"
        and s["spec"].get("selector", {}).get("app.kubernetes.io/component") == "api"
    ]
    if len(headless) != 1:
        problems.append("no headless Service (clusterIP: None) over the API pods")
    return problems


def _prestop_seconds(container: Obj) -> int:
    pre = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre:
        return int(pre["sleep"]["seconds"])
    command = pre.get("exec", {}).get("command", [])
    if command[:1] == ["sleep"] and len(command) == 2:
        return int(command[1])
    return 0


def shutdown(infra: Infra) -> list[str]:
    """preStop sleep < terminationGracePeriodSeconds - drain time, for every
    Deployment; those behind a Service sleep first so traffic can leave."""
    drain = {
        "api": infra.settings.shutdown_timeout_s,
        "worker": infra.settings.worker_shutdown_timeout_s,
        "peers": PEERS_STOP_GRACE_S,
        "front": FRONT_DRAIN_S,
    }
    served = {
        s["spec"].get("selector", {}).get("app.kubernetes.io/component")
        for s in infra.of_kind("Service")
    }
    resolver_valid = _resolver_valid_s(infra)
    problems = []
    for deployment in infra.of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        role = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
        for c in containers(deployment):
            sleep = _prestop_seconds(c)
            if role in served and sleep <= 0:
                problems.append(f"{name}: behind a Service but no preStop sleep")
            if not sleep < grace - drain[role]:
                problems.append(
                    f"{name}: preStop {sleep}s is not below terminationGracePeriodSeconds "
                    f"{grace}s minus {drain[role]:g}s of drain"
                )
            if role == "api" and sleep < resolver_valid:
                problems.append(
                    f"{name}: preStop {sleep}s is shorter than the front's DNS re-resolve "
                    f"({resolver_valid}s), so it may still send to a stopping pod"
                )
    return problems


def _resolver_valid_s(infra: Infra) -> int:
    for d in find(infra.front_config(), "resolver"):
        for arg in d["args"]:
            if arg.startswith("valid="):
                return int(arg.removeprefix("valid=").removesuffix("s"))
    return 30  # nginx's default: the DNS record's TTL, commonly 30 s


_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")


def _cpu(value: str | int) -> float:
    m = _CPU.match(str(value))
    assert m, f"cpu quantity {value!r}"
    return float(m.group(1)) / (1000 if m.group(2) else 1)


def _memory(value: str | int) -> int:
    m = _MEMORY.match(str(value))
    assert m, f"memory quantity {value!r}"
    return int(m.group(1)) * {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[m.group(2)]


def resources(infra: Infra) -> list[str]:
    """Every container of every workload has CPU and memory requests and limits."""
    problems = []
    for workload in infra.workloads:
        for c in containers(workload):
            where = f"{workload['metadata']['name']}/{c['name']}"
            res = c.get("resources", {})
            missing = [
                f"{where}: no {what} {kind[:-1]}"
                for kind in ("requests", "limits")
                for what in ("cpu", "memory")
                if what not in res.get(kind, {})
            ]
            problems += missing
            if missing:
                continue
            if _cpu(res["requests"]["cpu"]) > _cpu(res["limits"]["cpu"]) or _memory(
                res["requests"]["memory"]
            ) > _memory(res["limits"]["memory"]):
                problems.append(f"{where}: requests above limits")
    return problems


def security(infra: Infra) -> list[str]:
    """Pod Security 'restricted', a read-only root, no API token, lowcode's own user."""
    problems = []
    for workload in infra.workloads:
        spec = pod_spec(workload)
        name = workload["metadata"]["name"]
        pod = spec.get("securityContext", {})
        if pod.get("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not set")
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token it never uses")
        if spec.get("hostNetwork") or any("hostPath" in v for v in spec.get("volumes", [])):
            problems.append(f"{name}: uses the host's network or files")
        for c in containers(workload):
            ctx = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem is writable")
            if ctx.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities are not all dropped")
            if c["image"] == "lowcode" and pod.get("runAsUser") != LOWCODE_USER:
                problems.append(
                    f"{where}: runs as {pod.get('runAsUser')}, the image's user is {LOWCODE_USER}"
                )
    return problems


def _yaml_default(default: object) -> str:
    """A new setting's ConfigMap line, ready to paste: its default, or "" (= the default)."""
    if isinstance(default, bool):
        return f'"{str(default).lower()}"'
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    if default is None or isinstance(default, dict | list | SecretStr):
        return '""'
    return f'"{default}"'


def _lowcode_containers(infra: Infra) -> list[tuple[str, Obj]]:
    return [
        (w["metadata"]["labels"]["app.kubernetes.io/component"], c)
        for w in infra.workloads
        for c in containers(w)
        if c["image"] == "lowcode"
    ]


def k8s_settings(infra: Infra) -> list[str]:
    """Every setting comes from the ConfigMap or the Secret, secrets from the
    Secret only, the required ones with a value, and every lowcode container
    gets them (the peers: the ConfigMap, they read no secret)."""
    problems = []
    fields = setting_fields()
    config, secret = infra.config, infra.secret_keys
    for alias in sorted(fields):
        if alias in NOT_DEPLOYED:
            if alias in config or alias in secret:
                problems.append(f"{alias}: set, but {NOT_DEPLOYED[alias]}")
        elif alias not in config and alias not in secret:
            problems.append(
                f"{alias}: a setting neither the ConfigMap nor the Secret provides "
                f"(configmap.yaml: `{alias}: {_yaml_default(fields[alias].default)}`)"
            )
    for alias in sorted(secret_settings()):
        if alias in config:
            problems.append(f"{alias}: a secret in the ConfigMap")
        elif alias not in secret:
            problems.append(f"{alias}: a secret missing from the Secret")
    for alias in sorted(required_settings()):
        if not (config.get(alias) or secret.get(alias)):
            problems.append(f"{alias}: required, but given no value")
    for key, value in config.items():
        if key not in fields and key not in ARRIVING and not key.startswith("OTEL_"):
            problems.append(f"{key}: in the ConfigMap, but no setting reads it")
        if isinstance(value, str) and re.search(r"\b(127\.0\.0\.1|localhost)\b", value):
            problems.append(f"{key}: points at the pod itself ({value})")
    for key in secret:
        if key not in fields and key not in ARRIVING:
            problems.append(f"{key}: in the Secret, but no setting reads it")
    for role, c in _lowcode_containers(infra):
        refs = {
            ("config" if "configMapRef" in e else "secret"): (
                e.get("configMapRef") or e.get("secretRef")
            )["name"]
            for e in c.get("envFrom", [])
        }
        wanted = {"config": "lowcode-config"}
        if role != "peers":
            wanted["secret"] = "lowcode-secrets"
        if refs != wanted:
            problems.append(f"{role}/{c['name']}: envFrom {refs}, expected {wanted}")
    generated = {g["name"] for g in infra.kustomization.get("secretGenerator", [])}
    if "lowcode-secrets" not in generated:
        problems.append("kustomization: no secretGenerator for lowcode-secrets")
    return problems


def front(infra: Infra) -> list[str]:
    """The nginx front hashes /ws/pages/ by page id, consistently, over every
    API pod (headless Service, re-resolved), and the Ingress sends to it."""
    problems = _affinity(infra.front_config(), "k8s")
    upstreams = {
        s["args"][0]
        for d in find(infra.front_config(), "upstream")
        for s in find(d["block"], "server")
    }
    headless = [s for s in infra.of_kind("Service") if s["spec"].get("clusterIP") == "None"]
    names = {
        f"{s['metadata']['name']}.$(POD_NAMESPACE).svc.cluster.local:{p['port']}"
        for s in headless
        for p in s["spec"]["ports"]
    }
    if not upstreams or not upstreams <= names:
        problems.append(
            f"k8s front: upstream servers {sorted(upstreams)} "
            f"are not the headless Service {sorted(names)}"
        )
    generated = {
        f.split("=", 1)[-1]
        for g in infra.kustomization.get("configMapGenerator", [])
        if g["name"] == "lowcode-front"
        for f in g.get("files", [])
    }
    if generated != {"front.conf.template"}:
        problems.append(f"kustomization: lowcode-front is made from {sorted(generated)}")
    backends = [
        p["backend"]["service"]["name"]
        for ingress in infra.of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]
    if not backends or set(backends) != {"lowcode-front"}:
        problems.append(f"Ingress sends to {backends}, not only to the front")
    return problems


def _affinity(config: list[Obj], where: str) -> list[str]:
    problems = []
    locations = find(config, "location", "/ws/pages/")
    if len(locations) != 1:
        return [f"{where} front: no `location /ws/pages/`"]
    passes = find(locations[0]["block"], "proxy_pass")
    upstream_name = passes[0]["args"][0].removeprefix("http://") if passes else ""
    upstreams = find(config, "upstream", upstream_name)
    if len(upstreams) != 1:
        return [f"{where} front: /ws/pages/ goes to {upstream_name!r}, which is no upstream"]
    block = upstreams[0]["block"]
    hashes = find(block, "hash")
    if len(hashes) != 1 or hashes[0]["args"][1:] != ["consistent"]:
        return [f"{where} front: upstream {upstream_name} has no `hash … consistent`"]
    key = hashes[0]["args"][0]
    maps = [m for m in find(config, "map") if m["args"][1] == key]
    patterns = [e["directive"] for m in maps for e in m["block"]]
    if not maps or maps[0]["args"][0] != "$uri" or not any("/ws/pages/" in p for p in patterns):
        problems.append(f"{where} front: the hash key {key} is not the page id taken from $uri")
    servers = find(block, "server")
    if not servers or any("resolve" not in s["args"] for s in servers) or not find(block, "zone"):
        problems.append(
            f"{where} front: upstream {upstream_name} needs a zone and `server … resolve`"
        )
    if not find(config, "resolver"):
        problems.append(f"{where} front: no resolver, so `resolve` never re-resolves")
    return problems


def compose(infra: Infra) -> list[str]:
    """Two API nodes behind the front, health on /health/ready, conditions on
    every dependency, secrets from the env file, every required setting given."""
    problems = []
    services = infra.compose["services"]
    expected = {"postgres", "redis", "migrate", "api", "worker", "peers", "nginx"}
    if set(services) != expected:
        problems.append(f"compose services {sorted(services)}, expected {sorted(expected)}")
        return problems
    if services["api"].get("deploy", {}).get("replicas", 1) < 2:
        problems.append("compose: fewer than two API replicas")
    for name, port in (("api", "8080"), ("worker", "8081")):
        test = services[name].get("healthcheck", {}).get("test", [])
        if "/health/ready" not in test or port not in test:
            problems.append(f"compose {name}: healthcheck {test} is not /health/ready on {port}")
    for name, service in services.items():
        if name != "migrate" and not service.get("healthcheck"):
            problems.append(f"compose {name}: no healthcheck")
        depends = service.get("depends_on", {})
        if isinstance(depends, list) or any("condition" not in d for d in depends.values()):
            problems.append(f"compose {name}: depends_on without conditions")
    for name in ("api", "worker"):
        depends = services[name].get("depends_on", {})
        migrate = depends.get("migrate", {}) if isinstance(depends, dict) else {}
        if migrate.get("condition") != "service_completed_successfully":
            problems.append(f"compose {name}: does not wait for the migration to finish")
    environment = services["api"].get("environment", {})
    secret = infra.compose_secret_keys
    for name in ("migrate", "api", "worker"):
        files = [
            f["path"] if isinstance(f, dict) else f for f in services[name].get("env_file", [])
        ]
        if files != ["secrets.env"]:
            problems.append(f"compose {name}: secrets not from secrets.env ({files})")
    for alias in sorted(required_settings()):
        if not (environment.get(alias) or secret.get(alias)):
            problems.append(f"compose: required setting {alias} is not given")
    for alias in sorted(secret_settings()):
        if alias in environment:
            problems.append(f"compose: secret {alias} written into compose.yaml")
    peers_env = services["peers"].get("environment", {})
    if peers_env.get("PEERS_HOST") != "0.0.0.0":
        problems.append("compose peers: PEERS_HOST is not 0.0.0.0, the API could not reach them")
    nginx = services["nginx"]
    mounts = [v.split(":")[0] for v in nginx.get("volumes", [])]
    if "./k8s/front.conf.template" not in mounts:
        problems.append("compose nginx: not the front config Kubernetes uses")
    if nginx["environment"].get("LOWCODE_API_UPSTREAM") != f"api:{environment.get('PORT')}":
        problems.append("compose nginx: upstream is not the api service's port")
    problems += _affinity(infra.compose_front_config(), "compose")
    return problems


def kustomization(infra: Infra) -> list[str]:
    """Every manifest file is in the kustomization and every file it names exists;
    images are pinned."""
    problems = []
    k8s = infra.root / "k8s"
    listed = set(infra.kustomization.get("resources", []))
    present = {o["_file"] for o in infra.objects}
    if listed != present:
        problems.append(f"kustomization resources {sorted(listed)} != files {sorted(present)}")
    for generator in infra.kustomization.get("configMapGenerator", []):
        for f in generator.get("files", []):
            if not (k8s / f.split("=", 1)[-1]).is_file():
                problems.append(f"kustomization: {f} does not exist")
    for generator in infra.kustomization.get("secretGenerator", []):
        for f in generator.get("envs", []):
            if not (k8s / f"{f}.example").is_file():
                problems.append(f"kustomization: no {f}.example to copy {f} from")
    pinned = {i["name"]: i.get("newTag") for i in infra.kustomization.get("images", [])}
    for workload in infra.workloads:
        for c in containers(workload):
            image = c["image"]
            tag = pinned.get(image) or (image.rsplit(":", 1)[1] if ":" in image else None)
            if not tag or tag == "latest":
                problems.append(
                    f"{workload['metadata']['name']}/{c['name']}: image {image} is not pinned"
                )
    return problems


POLICIES: dict[str, Callable[[Infra], list[str]]] = {
    "probes": probes,
    "disruption_budgets": disruption_budgets,
    "services": services,
    "shutdown": shutdown,
    "resources": resources,
    "security": security,
    "k8s_settings": k8s_settings,
    "front": front,
    "compose": compose,
    "kustomization": kustomization,
}
