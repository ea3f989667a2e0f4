"""Our own deployment policies. Each check returns the violations it finds (empty = pass).

The checks read built manifests (lists of plain dicts) so the tests can feed them
deliberately broken copies and prove every check bites.
"""

from __future__ import annotations

import re
from typing import Any, cast

from alliance_shared.contract.topics import (
    COLLEGE_TOPIC_PREFIX,
    EVENT_TOPICS,
    SERVICE_TOPICS,
    TopicAccess,
    college_access,
    college_principal,
    college_reports_topic,
    dlq_of,
    max_message_bytes,
)
from tests.deploy.manifests import (
    CONSOLE,
    DEPLOYABLES,
    SERVICES,
    Manifest,
    ServiceFacts,
    console_facts,
    containers,
    describe,
    http_port,
    named,
    of_kind,
    ops_port,
    pod_labels,
    pod_spec,
    selects,
    service_facts,
)

#: (resource type, resource name, pattern type, operation) — one granted Kafka permission.
Grant = tuple[str, str, str, str]

#: Settings without a safe default for a container: they must be set by every deployment.
REQUIRED_SETTINGS = ("http_host", "mongo_url", "kafka_bootstrap_servers", "jwks_url")
NOTIFICATIONS_REQUIRED_SETTINGS = ("smtp_host", "smtp_port", "smtp_from")
#: Settings that carry credentials or endpoints of credentials: only from Secrets.
SECRET_SETTINGS = frozenset(
    {"mongo_url", "kafka_sasl_password", "jwks_url", "smtp_username", "smtp_password", "webhook_secret_key"}
)
#: Ranges a webhook must never reach (docs/notifications.md): notifications' HTTPS egress excepts them.
INWARD_IPV4 = ("10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16")
#: The console's settings every deployment must set (the OIDC ones too unless it is a
#: compose dev stack with the dev sign-in), and those only ever from Secrets.
CONSOLE_REQUIRED_SETTINGS = (
    "registry_url",
    "funding_url",
    "evaluation_url",
    "notifications_url",
    "public_url",
    "session_secret",
    "host",
)
CONSOLE_SECRET_SETTINGS = frozenset({"session_secret", "oidc_client_secret"})
#: Values that pydantic reads as true for a bool setting.
TRUTHY = frozenset({"1", "true", "yes", "on", "t", "y"})
MIN_GRACE_PERIOD_S = 30
SMTP_PORTS = frozenset({25, 465, 587})
HTTPS_PORT = 443


# ---------------------------------------------------------------- workloads


def check_deployment_hardening(objects: list[Manifest]) -> list[str]:
    """Probes, resources, a locked-down securityContext and a graceful shutdown for every Deployment."""
    problems: list[str] = []
    for deployment in of_kind(objects, "Deployment"):
        name = describe(deployment)
        spec = pod_spec(deployment)
        pod_security = cast(dict[str, Any], spec.get("securityContext", {}))
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken must be false")
        grace_period = spec.get("terminationGracePeriodSeconds")
        if grace_period is None or grace_period < MIN_GRACE_PERIOD_S:
            problems.append(f"{name}: terminationGracePeriodSeconds must be set to >= {MIN_GRACE_PERIOD_S}")
        if not spec.get("topologySpreadConstraints"):
            problems.append(f"{name}: no topologySpreadConstraints")
        writable = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for container in containers(deployment):
            where = f"{name} container {container['name']}"
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", None)):
                found = container.get(probe)
                if not found:
                    problems.append(f"{where}: no {probe}")
                elif path is not None and found.get("httpGet", {}).get("path") != path:
                    problems.append(f"{where}: {probe} must GET {path}")
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(section, {}):
                        problems.append(f"{where}: no {section}.{resource}")
            security = cast(dict[str, Any], container.get("securityContext", {}))
            # container settings override the pod's
            effective = {**pod_security, **security}
            if effective.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot must be true")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem must be true")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation must be false")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities must drop ALL")
            if effective.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile must be RuntimeDefault")
            if not container.get("lifecycle", {}).get("preStop"):
                problems.append(f"{where}: no preStop hook to let endpoints drain")
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            if mounts.get("/tmp") not in writable:
                problems.append(f"{where}: /tmp must be a writable emptyDir (read-only root filesystem)")
    return problems


def image_pinned(image: str) -> bool:
    """A digest, or a tag other than latest; compose's ``${VAR:-default}`` counts as its default."""
    image = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", image)
    if "@sha256:" in image:
        return True
    last_segment = image.rsplit("/", 1)[-1]
    tag = last_segment.split(":", 1)[1] if ":" in last_segment else ""
    return bool(tag) and tag != "latest" and "$" not in tag


def check_images_pinned(objects: list[Manifest]) -> list[str]:
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        for container in containers(deployment):
            image = cast(str, container["image"])
            if not image_pinned(image):
                problems.append(f"{describe(deployment)}: image {image!r} is not pinned to a version tag or digest")
    return problems


def check_service_objects(objects: list[Manifest], *, high_availability: bool) -> list[str]:
    """Each service has all its objects; in an HA overlay also replicas, HPA and a strict PDB."""
    problems = []
    for service in DEPLOYABLES:
        port = http_port(service)
        deployment = named(objects, "Deployment", service)
        if deployment is None:
            problems.append(f"{service}: no Deployment")
            continue
        labels = pod_labels(deployment)
        for kind in ("Service", "ServiceAccount", "ServiceMonitor"):
            if named(objects, kind, service) is None:
                problems.append(f"{service}: no {kind}")
        if pod_spec(deployment).get("serviceAccountName") != service:
            problems.append(f"{service}: the Deployment does not run as ServiceAccount {service}")
        account = named(objects, "ServiceAccount", service)
        if account is not None and account.get("automountServiceAccountToken") is not False:
            problems.append(f"{service}: ServiceAccount must set automountServiceAccountToken: false")
        # /metrics (and a service's API docs) on a second, named port
        wanted = [("http", port), ("ops", ops_port(service))]
        kube_service = named(objects, "Service", service)
        if kube_service is not None:
            ports = kube_service["spec"].get("ports", [])
            if not selects({"matchLabels": kube_service["spec"].get("selector", {})}, labels):
                problems.append(f"{service}: the Service does not select the Deployment's pods")
            exposed = [(p.get("name"), p.get("port")) for p in ports]
            if exposed != wanted:
                problems.append(f"{service}: the Service must expose exactly {wanted}, not {exposed}")
            if any(p.get("targetPort") != p.get("name") for p in ports):
                problems.append(f"{service}: each Service port must target the container port of its own name")
        container_ports = [
            (p.get("name"), p["containerPort"]) for c in containers(deployment) for p in c.get("ports", [])
        ]
        if container_ports != wanted:
            problems.append(f"{service}: container ports {container_ports} != {wanted}")
        # the namespace-wide default deny (empty selector) does not count: it allows nothing
        if not any(
            p["spec"]["podSelector"] != {} and selects(p["spec"]["podSelector"], labels)
            for p in of_kind(objects, "NetworkPolicy")
        ):
            problems.append(f"{service}: no NetworkPolicy of its own selects its pods")
        budgets = [p for p in of_kind(objects, "PodDisruptionBudget") if selects(p["spec"].get("selector"), labels)]
        if not budgets:
            problems.append(f"{service}: no PodDisruptionBudget selects its pods")
        if not high_availability:
            continue
        if deployment["spec"].get("replicas", 1) < 2:
            problems.append(f"{service}: fewer than 2 replicas")
        if not any(b["spec"].get("minAvailable", 0) >= 1 for b in budgets):
            problems.append(f"{service}: the PodDisruptionBudget must keep minAvailable >= 1")
        autoscalers = [
            h
            for h in of_kind(objects, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
        ]
        if not autoscalers:
            problems.append(f"{service}: no HorizontalPodAutoscaler")
        elif autoscalers[0]["spec"].get("minReplicas", 1) < 2:
            problems.append(f"{service}: the HorizontalPodAutoscaler may scale below 2 replicas")
        spread = pod_spec(deployment).get("topologySpreadConstraints", [])
        anti_affinity = pod_spec(deployment).get("affinity", {}).get("podAntiAffinity")
        if not anti_affinity and not any(
            c["topologyKey"] == "kubernetes.io/hostname" and c["whenUnsatisfiable"] == "DoNotSchedule" for c in spread
        ):
            problems.append(f"{service}: replicas may share a node (no hard hostname spread or anti-affinity)")
    return problems


def check_no_secret_values(objects: list[Manifest]) -> list[str]:
    """Secrets are created outside git (docs/runbook.md); the manifests only reference them."""
    return [f"{describe(obj)}: Secret values must not live in git" for obj in of_kind(objects, "Secret")]


# ---------------------------------------------------------------- settings


def deployment_env(objects: list[Manifest], deployment: Manifest) -> dict[str, Manifest]:
    """Environment variable name → its source ({'value': ...}, {'secretKeyRef': ...}, {'configMap': ...})."""
    env: dict[str, Manifest] = {}
    for container in containers(deployment):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                config_map = named(objects, "ConfigMap", source["configMapRef"]["name"])
                for key, value in (config_map or {}).get("data", {}).items():
                    env[key] = {"configMap": value}
            elif "secretRef" in source:
                env[f"<all keys of Secret {source['secretRef']['name']}>"] = {"secretRef": source["secretRef"]}
        for variable in container.get("env", []):
            if "value" in variable:
                env[variable["name"]] = {"value": variable["value"]}
            else:
                env[variable["name"]] = cast(Manifest, variable.get("valueFrom", {}))
    return env


def check_settings_env(objects: list[Manifest]) -> list[str]:
    """Env vars the code needs are set (secrets from Secrets), and no set var is unknown to the code."""
    problems = []
    for service in SERVICES:
        deployment = named(objects, "Deployment", service)
        if deployment is None:
            problems.append(f"{service}: no Deployment")
            continue
        facts = service_facts(service)
        env = deployment_env(objects, deployment)
        problems += _settings_problems(facts, {k: _literal(v) for k, v in env.items()}, REQUIRED_SETTINGS)
        for setting in SECRET_SETTINGS:
            variable = facts.env_prefix + setting.upper()
            if variable in env and "secretKeyRef" not in env[variable]:
                problems.append(f"{service}: {variable} must come from a Secret (secretKeyRef)")
        # Without it the service encrypts webhook secrets with the published development key.
        if service == "notifications" and "NOTIFICATIONS_WEBHOOK_SECRET_KEY" not in env:
            problems.append(f"{service}: NOTIFICATIONS_WEBHOOK_SECRET_KEY not set")
    deployment = named(objects, "Deployment", CONSOLE)
    if deployment is None:
        return [*problems, f"{CONSOLE}: no Deployment"]
    env = deployment_env(objects, deployment)
    problems += _console_settings_problems({k: _literal(v) for k, v in env.items()}, in_cluster=True)
    # the console's access tokens are the services' bearer tokens: one issuer, one audience
    prefix = console_facts().env_prefix
    for mine, theirs in (("OIDC_ISSUER", "JWT_ISSUER"), ("OIDC_AUDIENCE", "JWT_AUDIENCE")):
        value = _literal(env.get(prefix + mine, {}))
        for service in SERVICES:
            service_deployment = named(objects, "Deployment", service)
            if service_deployment is None or value is None:
                continue
            variable = service_facts(service).env_prefix + theirs
            trusted = _literal(deployment_env(objects, service_deployment).get(variable, {}))
            if trusted is not None and trusted.rstrip("/") != value.rstrip("/"):
                problems.append(f"{CONSOLE}: {prefix}{mine} {value!r} is not {service}'s {variable} {trusted!r}")
    for setting in CONSOLE_SECRET_SETTINGS:
        variable = console_facts().env_prefix + setting.upper()
        if variable in env and "secretKeyRef" not in env[variable]:
            problems.append(f"{CONSOLE}: {variable} must come from a Secret (secretKeyRef)")
    return problems


def _console_settings_problems(env: dict[str, str | None], *, in_cluster: bool) -> list[str]:
    """The console's env (literal values, None = from a Secret): required settings, no dev
    sign-in in a cluster, API URLs at the services' ports, no unknown or foreign variables."""
    facts = console_facts()
    prefix = facts.env_prefix
    problems = [
        f"{CONSOLE}: {prefix}{setting.upper()} not set"
        for setting in CONSOLE_REQUIRED_SETTINGS
        if prefix + setting.upper() not in env
    ]
    dev_login = (env.get(prefix + "DEV_LOGIN") or "").lower() in TRUTHY
    if in_cluster and dev_login:
        problems.append(f"{CONSOLE}: {prefix}DEV_LOGIN must be false in a cluster (anyone could pick any role)")
    if not dev_login:
        problems += [
            f"{CONSOLE}: {prefix}{setting.upper()} not set (OpenID Connect is the only sign-in)"
            for setting in ("oidc_issuer", "oidc_client_id")
            if prefix + setting.upper() not in env
        ]
    problems += [
        f"{CONSOLE}: {variable} is not a setting of alliance_console.settings.ConsoleSettings"
        for variable in env
        if variable.startswith(prefix) and variable[len(prefix) :].lower() not in facts.setting_names
    ]
    for service in SERVICES:
        other = service_facts(service).env_prefix
        if any(variable.startswith(other) for variable in env):
            problems.append(f"{CONSOLE}: sets variables with {service}'s prefix {other}")
        url = env.get(f"{prefix}{service.upper()}_URL")
        if url is not None and url.rstrip("/") != f"http://{service}:{http_port(service)}":
            problems.append(f"{CONSOLE}: {prefix}{service.upper()}_URL is {url!r}, not the {service} Service")
    public_url = env.get(prefix + "PUBLIC_URL") or ""
    if public_url.startswith("https://") and (env.get(prefix + "COOKIE_SECURE") or "true").lower() not in TRUTHY:
        problems.append(f"{CONSOLE}: {prefix}COOKIE_SECURE must stay true behind an https public URL")
    for suffix, value in (("PORT", str(facts.http_port)), ("OPS_PORT", str(facts.ops_port)), ("HOST", "0.0.0.0")):
        if env.get(prefix + suffix, value) != value:
            problems.append(f"{CONSOLE}: {prefix}{suffix} is {env[prefix + suffix]!r}, expected {value!r}")
    return problems


def _literal(source: Manifest) -> str | None:
    value = source.get("value", source.get("configMap"))
    return None if value is None else str(value)


def _settings_problems(facts: ServiceFacts, env: dict[str, str | None], required: tuple[str, ...]) -> list[str]:
    """Shared by the Kubernetes and compose checks: `env` maps names to literal values (None = from a Secret)."""
    problems = []
    needed = required + (NOTIFICATIONS_REQUIRED_SETTINGS if facts.name == "notifications" else ())
    for setting in needed:
        alternatives = setting.split("|")
        if not any(facts.env_prefix + option.upper() in env for option in alternatives):
            problems.append(f"{facts.name}: {' or '.join(facts.env_prefix + a.upper() for a in alternatives)} not set")
    for variable in env:
        if (
            variable.startswith(facts.env_prefix)
            and variable[len(facts.env_prefix) :].lower() not in facts.setting_names
        ):
            problems.append(f"{facts.name}: {variable} is not a setting of alliance_{facts.name}.settings.Settings")
    for other in DEPLOYABLES:
        prefix = console_facts().env_prefix if other == CONSOLE else service_facts(other).env_prefix
        if other != facts.name and any(variable.startswith(prefix) for variable in env):
            problems.append(f"{facts.name}: sets variables with {other}'s prefix {prefix}")
    expected = {
        "HTTP_HOST": "0.0.0.0",
        "HTTP_PORT": str(facts.http_port),
        "OPS_PORT": str(facts.ops_port),
        "MONGO_DATABASE": facts.database,
    }
    for suffix, value in expected.items():
        variable = facts.env_prefix + suffix
        if variable in env and env[variable] != value:
            problems.append(f"{facts.name}: {variable} is {env[variable]!r}, expected {value!r}")
    return problems


# ---------------------------------------------------------------- network


def _allows_port(rule: Manifest, port: int) -> bool:
    return not rule.get("ports") or any(p.get("port") == port for p in rule["ports"])


def _peer_matches(peer: Manifest, namespace: str | None, labels: dict[str, str] | None) -> bool:
    if namespace is not None:
        if not selects(peer.get("namespaceSelector"), {"kubernetes.io/metadata.name": namespace}):
            return False
    elif "namespaceSelector" in peer or "ipBlock" in peer:
        return False
    return labels is None or selects(peer.get("podSelector", {}), labels)


def _reaches(
    rules: list[Manifest], direction: str, port: int, namespace: str | None, labels: dict[str, str] | None
) -> bool:
    key = "to" if direction == "egress" else "from"
    return any(
        _allows_port(rule, port) and any(_peer_matches(peer, namespace, labels) for peer in rule.get(key, []))
        for rule in rules
    )


def _open_egress_ports(rules: list[Manifest]) -> set[int]:
    """Ports a rule opens towards any destination (no `to`, or an ipBlock)."""
    ports: set[int] = set()
    for rule in rules:
        anywhere = not rule.get("to") or any("ipBlock" in peer for peer in rule["to"])
        if anywhere:
            ports |= {p["port"] for p in rule.get("ports", [])} or {0}
    return ports


def _webhooks_reaching_inward(service: str, egress: list[Manifest]) -> list[str]:
    """Webhooks (HTTPS to anywhere) only to public addresses: each rule opening 443 to any
    destination must name ipBlocks, and each IPv4 block must except the inward ranges."""
    problems = []
    for rule in egress:
        if not any(p["port"] == HTTPS_PORT for p in rule.get("ports", [])):
            continue
        peers = rule.get("to") or [{}]
        for peer in peers:
            if "podSelector" in peer or "namespaceSelector" in peer:
                continue
            block = peer.get("ipBlock")
            if block is None:
                problems.append(f"{service}: HTTPS egress to any destination, the cluster included")
            elif ":" not in block["cidr"]:
                missing = [r for r in INWARD_IPV4 if r not in block.get("except", [])]
                if missing:
                    problems.append(f"{service}: HTTPS egress reaches inward ranges {missing}")
    return problems


def check_network_policies(objects: list[Manifest]) -> list[str]:
    problems = []
    policies = list(of_kind(objects, "NetworkPolicy"))
    if not any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        problems.append("no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)")
    dns = {"k8s-app": "kube-dns"}
    mongo = {"app": "alliance-mongo-svc"}
    kafka = {"strimzi.io/cluster": "alliance-kafka", "strimzi.io/kind": "Kafka"}
    console = named(objects, "Deployment", CONSOLE)
    for service in SERVICES:
        deployment = named(objects, "Deployment", service)
        if deployment is None:
            continue
        labels = pod_labels(deployment)
        port, internal = service_facts(service).http_port, service_facts(service).ops_port
        mine = [p for p in policies if p["spec"]["podSelector"] != {} and selects(p["spec"]["podSelector"], labels)]
        egress = [rule for p in mine for rule in p["spec"].get("egress", [])]
        ingress = [rule for p in mine for rule in p["spec"].get("ingress", [])]
        needs = {
            "DNS egress (53)": _reaches(egress, "egress", 53, "kube-system", dns),
            "MongoDB egress (27017)": _reaches(egress, "egress", 27017, None, mongo),
            "Kafka egress (9093)": _reaches(egress, "egress", 9093, None, kafka),
            f"ingress from ingress-nginx on {port}": _reaches(ingress, "ingress", port, "ingress-nginx", None),
            f"ingress from Prometheus on the ops port {internal}": _reaches(
                ingress, "ingress", internal, "monitoring", PROMETHEUS
            ),
            f"ingress from the console on {port}": console is None
            or _reaches(ingress, "ingress", port, None, pod_labels(console)),
        }
        problems += [f"{service}: NetworkPolicy lacks {need}" for need, met in needs.items() if not met]
        problems += _ops_port_strangers(service, ingress)
        open_ports = _open_egress_ports(egress)
        if service == "notifications":
            missing = (SMTP_PORTS | {HTTPS_PORT}) - open_ports
            if missing:
                problems.append(f"{service}: no egress to SMTP/HTTPS ports {sorted(missing)}")
            open_ports -= SMTP_PORTS | {HTTPS_PORT}
            problems += _webhooks_reaching_inward(service, egress)
        if open_ports:
            problems.append(f"{service}: egress open to any destination on {sorted(open_ports)} (0 = all ports)")
    if console is not None:
        problems += _console_network_problems(objects, policies, console)
    return problems


PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}


def _ops_port_strangers(deployable: str, ingress: list[Manifest]) -> list[str]:
    """The ops port admits Prometheus in the monitoring namespace and no one else."""
    internal = ops_port(deployable)
    strangers = [
        describe_peer(peer)
        for rule in ingress
        if _allows_port(rule, internal)
        for peer in rule.get("from", [{}])
        if not _peer_matches(peer, "monitoring", PROMETHEUS)
    ]
    return [f"{deployable}: the ops port {internal} is open to more than Prometheus: {strangers}"] if strangers else []


IDP_NAMESPACE = "identity"
IDP_PORTS = frozenset({443, 8443})


def _console_network_problems(objects: list[Manifest], policies: list[Manifest], console: Manifest) -> list[str]:
    """The console reaches exactly the four APIs' HTTP ports, the IdP and DNS; nothing reaches it
    but the ingress controller and Prometheus; MongoDB and Kafka do not admit it."""
    labels = pod_labels(console)
    port = http_port(CONSOLE)
    mine = [p for p in policies if p["spec"]["podSelector"] != {} and selects(p["spec"]["podSelector"], labels)]
    egress = [rule for p in mine for rule in p["spec"].get("egress", [])]
    ingress = [rule for p in mine for rule in p["spec"].get("ingress", [])]
    needs = {
        "DNS egress (53)": _reaches(egress, "egress", 53, "kube-system", {"k8s-app": "kube-dns"}),
        f"identity provider egress ({IDP_NAMESPACE}, 443)": _reaches(egress, "egress", 443, IDP_NAMESPACE, None),
        f"ingress from ingress-nginx on {port}": _reaches(ingress, "ingress", port, "ingress-nginx", None),
        f"ingress from Prometheus on the ops port {ops_port(CONSOLE)}": _reaches(
            ingress, "ingress", ops_port(CONSOLE), "monitoring", PROMETHEUS
        ),
    }
    for service in SERVICES:
        deployment = named(objects, "Deployment", service)
        if deployment is not None:
            service_port = http_port(service)
            needs[f"egress to {service} on {service_port}"] = _reaches(
                egress, "egress", service_port, None, pod_labels(deployment)
            )
    problems = [f"{CONSOLE}: NetworkPolicy lacks {need}" for need, met in needs.items() if not met]
    problems += [f"{CONSOLE}: {p}" for p in _console_egress_beyond_allowed(objects, egress)]
    problems += _ops_port_strangers(CONSOLE, ingress)
    for rule in ingress:
        for peer in rule.get("from", [{}]):
            known = _peer_matches(peer, "ingress-nginx", None) or _peer_matches(peer, "monitoring", PROMETHEUS)
            if not known or not rule.get("ports"):
                problems.append(f"{CONSOLE}: ingress from {peer} on {rule.get('ports', 'every port')} is not expected")
    # the infrastructure admits clients by label: the console must not carry one it admits
    for policy in policies:
        if policy["spec"]["podSelector"].get("matchLabels", {}).get("app") == "alliance-mongo-svc":
            for rule in policy["spec"].get("ingress", []):
                if _allows_port(rule, 27017) and any(_peer_matches(p, None, labels) for p in rule.get("from", [])):
                    problems.append(f"{CONSOLE}: MongoDB's NetworkPolicy {describe(policy)} admits the console's pods")
    for kafka in of_kind(objects, "Kafka"):
        for listener in kafka["spec"]["kafka"].get("listeners", []):
            if any(_peer_matches(p, None, labels) for p in listener.get("networkPolicyPeers", [])):
                problems.append(f"{CONSOLE}: Kafka listener {listener['name']} admits the console's pods")
    return problems


def _console_egress_beyond_allowed(objects: list[Manifest], egress: list[Manifest]) -> list[str]:
    """Every (destination, port) an egress rule opens must be DNS, an API's HTTP port or the IdP."""
    apis = [
        (pod_labels(deployment), http_port(service))
        for service in SERVICES
        if (deployment := named(objects, "Deployment", service)) is not None
    ]
    problems = []
    for rule in egress:
        peers = rule.get("to") or [{"<anywhere>": True}]
        ports = [p.get("port", 0) for p in rule.get("ports", [])] or [0]
        for peer in peers:
            for port in ports:
                allowed = (
                    (port == 53 and _peer_matches(peer, "kube-system", {"k8s-app": "kube-dns"}))
                    or (port in IDP_PORTS and _peer_matches(peer, IDP_NAMESPACE, None))
                    or any(port == api_port and _peer_selects_only(peer, api_labels) for api_labels, api_port in apis)
                )
                if not allowed:
                    problems.append(f"egress to {peer} on port {port or 'any'} is not DNS, an API or the IdP")
    return problems


def _peer_selects_only(peer: Manifest, labels: dict[str, str]) -> bool:
    """A same-namespace pod selector that selects this workload (not an empty, select-all one)."""
    selector = peer.get("podSelector")
    return (
        "namespaceSelector" not in peer
        and "ipBlock" not in peer
        and bool(selector)
        and bool(cast(Manifest, selector).get("matchLabels"))
        and selects(selector, labels)
    )


# ---------------------------------------------------------------- kafka


def check_kafka_cluster(objects: list[Manifest], *, replicas: int) -> list[str]:
    problems = []
    kafkas = list(of_kind(objects, "Kafka"))
    if len(kafkas) != 1:
        return [f"expected one Kafka, found {len(kafkas)}"]
    kafka = kafkas[0]
    annotations = kafka["metadata"].get("annotations", {})
    for key in ("strimzi.io/node-pools", "strimzi.io/kraft"):
        if annotations.get(key) != "enabled":
            problems.append(f"{describe(kafka)}: annotation {key}: enabled missing")
    spec = kafka["spec"]["kafka"]
    if spec.get("authorization", {}).get("type") != "simple":
        problems.append(f"{describe(kafka)}: authorization must be simple (ACLs)")
    for listener in spec.get("listeners", []):
        if not listener.get("tls") or listener.get("authentication", {}).get("type") not in {"scram-sha-512", "tls"}:
            problems.append(f"{describe(kafka)}: listener {listener['name']} must use TLS with SCRAM or mTLS")
    expected_isr = min(2, replicas)
    config = spec.get("config", {})
    for key, value in (("default.replication.factor", replicas), ("min.insync.replicas", expected_isr)):
        if int(config.get(key, 0)) != value:
            problems.append(f"{describe(kafka)}: {key} must be {value}")
    pools = list(of_kind(objects, "KafkaNodePool"))
    if sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) < replicas:
        problems.append(f"fewer than {replicas} broker nodes")
    return problems


def expected_topics() -> set[str]:
    return {name for topic in EVENT_TOPICS for name in (topic, dlq_of(topic))}


def check_kafka_topics(objects: list[Manifest], *, replicas: int) -> list[str]:
    problems = []
    declared: dict[str, Manifest] = {}
    for topic in of_kind(objects, "KafkaTopic"):
        declared[topic["spec"].get("topicName", topic["metadata"]["name"])] = topic
    expected = expected_topics()
    problems += [f"topic {t} is in the code but has no KafkaTopic" for t in sorted(expected - set(declared))]
    problems += [f"KafkaTopic {t} is not declared by the code" for t in sorted(set(declared) - expected)]
    expected_isr = str(min(2, replicas))
    for name, topic in sorted(declared.items()):
        spec = topic["spec"]
        if spec.get("replicas") != replicas:
            problems.append(f"KafkaTopic {name}: replicas {spec.get('replicas')} != {replicas}")
        if str(spec.get("config", {}).get("min.insync.replicas")) != expected_isr:
            problems.append(f"KafkaTopic {name}: min.insync.replicas must be {expected_isr}")
        if topic["metadata"].get("labels", {}).get("strimzi.io/cluster") != "alliance-kafka":
            problems.append(f"KafkaTopic {name}: not labelled for cluster alliance-kafka")
        if name in expected and str(spec.get("config", {}).get("max.message.bytes")) != str(max_message_bytes(name)):
            problems.append(f"KafkaTopic {name}: max.message.bytes must be the code's limit {max_message_bytes(name)}")
    return problems


def granted(user: Manifest) -> set[Grant]:
    grants: set[Grant] = set()
    for acl in user["spec"].get("authorization", {}).get("acls", []):
        resource = acl["resource"]
        operations = acl.get("operations") or [acl["operation"]]
        for operation in operations:
            grants.add((resource["type"], resource.get("name", ""), resource.get("patternType", "literal"), operation))
    return grants


def expected_grants(access: TopicAccess, group_prefix: str, *, dead_letters: bool) -> set[Grant]:
    """Rights the code needs; only the services dead-letter what they consume, colleges do not."""
    grants: set[Grant] = set()
    for topic in access.produces + (access.dead_letters if dead_letters else ()):
        grants |= {("topic", topic, "literal", "Write"), ("topic", topic, "literal", "Describe")}
    for topic in access.consumes:
        grants |= {("topic", topic, "literal", "Read"), ("topic", topic, "literal", "Describe")}
    if access.consumes_college_reports:
        # Every college's reports topic and its dead-letter twin: Kafka has no suffix patterns.
        grants |= {("topic", COLLEGE_TOPIC_PREFIX, "prefix", op) for op in ("Read", "Describe", "Write")}
    if access.consumes or access.consumes_college_reports:
        grants.add(("group", group_prefix, "prefix", "Read"))
    return grants


def check_user_acls(
    user: Manifest | None, principal: str, access: TopicAccess, group_prefix: str, *, dead_letters: bool
) -> list[str]:
    if user is None:
        return [f"{principal}: no KafkaUser"]
    problems = []
    if user["spec"].get("authentication", {}).get("type") not in {"scram-sha-512", "tls"}:
        problems.append(f"{principal}: authentication must be scram-sha-512 or tls")
    if user["spec"].get("authorization", {}).get("type") != "simple":
        problems.append(f"{principal}: authorization must be simple")
    have, want = granted(user), expected_grants(access, group_prefix, dead_letters=dead_letters)
    problems += [f"{principal}: ACL {grant} is not needed by the code" for grant in sorted(have - want)]
    problems += [f"{principal}: ACL {grant} is missing" for grant in sorted(want - have)]
    return problems


def check_service_acls(objects: list[Manifest]) -> list[str]:
    problems = []
    for service, access in SERVICE_TOPICS.items():
        principal = f"alliance-{service}"
        problems += check_user_acls(
            named(objects, "KafkaUser", principal),
            principal,
            access,
            service_facts(service).consumer_group,
            dead_letters=True,
        )
        deployment = named(objects, "Deployment", service)
        if deployment is not None:
            env = deployment_env(objects, deployment)
            prefix = service_facts(service).env_prefix
            if _literal(env.get(prefix + "KAFKA_SASL_USERNAME", {})) != principal:
                problems.append(f"{service}: {prefix}KAFKA_SASL_USERNAME must be its KafkaUser {principal}")
            if env.get(prefix + "KAFKA_SASL_PASSWORD", {}).get("secretKeyRef", {}).get("name") != principal:
                problems.append(f"{service}: {prefix}KAFKA_SASL_PASSWORD must come from Secret {principal}")
    known = {f"alliance-{s}" for s in SERVICES}
    problems += [
        f"KafkaUser {u['metadata']['name']} belongs to no service"
        for u in of_kind(objects, "KafkaUser")
        if u["metadata"]["name"] not in known
    ]
    return problems


def check_college_user(user: Manifest, college_id: str) -> list[str]:
    principal = college_principal(college_id)
    problems = check_user_acls(user, principal, college_access(college_id), principal, dead_letters=False)
    if user["metadata"]["name"] != principal:
        problems.append(f"KafkaUser is named {user['metadata']['name']}, expected {principal}")
    return problems


def check_college_topics(topics: list[Manifest], college_id: str, *, replicas: int) -> list[str]:
    """A college's onboarding brings exactly its reports topic and that topic's dead-letter
    twin, each with the code's size limit."""
    wanted = {college_reports_topic(college_id), dlq_of(college_reports_topic(college_id))}
    declared = {topic["spec"].get("topicName", topic["metadata"]["name"]): topic for topic in topics}
    problems = [f"college topic {t} has no KafkaTopic" for t in sorted(wanted - set(declared))]
    problems += [f"KafkaTopic {t} is not the college's" for t in sorted(set(declared) - wanted)]
    expected_isr = str(min(2, replicas))
    for name, topic in sorted(declared.items()):
        spec = topic["spec"]
        if spec.get("replicas") != replicas:
            problems.append(f"KafkaTopic {name}: replicas {spec.get('replicas')} != {replicas}")
        if str(spec.get("config", {}).get("min.insync.replicas")) != expected_isr:
            problems.append(f"KafkaTopic {name}: min.insync.replicas must be {expected_isr}")
        if topic["metadata"].get("labels", {}).get("strimzi.io/cluster") != "alliance-kafka":
            problems.append(f"KafkaTopic {name}: not labelled for cluster alliance-kafka")
        if name in wanted and str(spec.get("config", {}).get("max.message.bytes")) != str(max_message_bytes(name)):
            problems.append(f"KafkaTopic {name}: max.message.bytes must be the code's limit {max_message_bytes(name)}")
    return problems


# ---------------------------------------------------------------- mongodb, ingress, monitoring


def check_mongo_users(objects: list[Manifest]) -> list[str]:
    clusters = list(of_kind(objects, "MongoDBCommunity"))
    if len(clusters) != 1:
        return [f"expected one MongoDBCommunity, found {len(clusters)}"]
    users = {u["name"]: u for u in clusters[0]["spec"].get("users", [])}
    problems = []
    for service in SERVICES:
        facts = service_facts(service)
        user = users.get(service)
        if user is None:
            problems.append(f"MongoDB user {service} missing")
            continue
        if user.get("roles") != [{"name": "readWrite", "db": facts.database}]:
            problems.append(f"MongoDB user {service} must have readWrite on {facts.database} and nothing else")
        deployment = named(objects, "Deployment", service)
        if deployment is None:
            continue
        source = deployment_env(objects, deployment).get(facts.env_prefix + "MONGO_URL", {})
        if source.get("secretKeyRef", {}).get("name") != user.get("connectionStringSecretName"):
            problems.append(f"{service}: MONGO_URL must come from the operator's Secret for user {service}")
    return problems


def describe_peer(peer: Manifest) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(peer.items())) or "anyone"


def check_ingress(objects: list[Manifest]) -> list[str]:
    """Every deployable is routed on its Service port http, and nothing else is: the ops
    port (/metrics, API docs) is never published."""
    backends = {
        (path["backend"]["service"]["name"], path["backend"]["service"]["port"].get("name", "?"))
        for ingress in of_kind(objects, "Ingress")
        for rule in ingress["spec"].get("rules", [])
        for path in rule.get("http", {}).get("paths", [])
    }
    problems = [f"{s}: no Ingress route to its Service port http" for s in DEPLOYABLES if (s, "http") not in backends]
    problems += [
        f"{name}: the Ingress routes to Service port {port!r}; only port http is public"
        for name, port in sorted(backends)
        if port != "http"
    ]
    return problems


def check_ops_port_monitoring(objects: list[Manifest]) -> list[str]:
    """Prometheus scrapes /metrics on the ops port (the public port answers it 404)."""
    problems = []
    for service in DEPLOYABLES:
        monitor = named(objects, "ServiceMonitor", service)
        if monitor is None:
            continue
        scraped = [(e.get("port"), e.get("path")) for e in monitor["spec"].get("endpoints", [])]
        if scraped != [("ops", "/metrics")]:
            problems.append(f"{service}: the ServiceMonitor scrapes {scraped}, not /metrics on port ops")
    return problems


ALERTED_METRICS = (
    "alliance_consumer_lag",
    "alliance_dlq_records_total",
    "alliance_outbox_backlog",
    "http_requests_total",
    "kube_pod_status_ready",
)


def check_alerts(objects: list[Manifest]) -> list[str]:
    expressions = [
        str(rule["expr"])
        for prometheus_rule in of_kind(objects, "PrometheusRule")
        for group in prometheus_rule["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    problems = [f"no alert on {metric}" for metric in ALERTED_METRICS if not any(metric in e for e in expressions)]
    monitored = {m["metadata"]["name"] for m in of_kind(objects, "ServiceMonitor")}
    problems += [f"{s}: no ServiceMonitor" for s in DEPLOYABLES if s not in monitored]
    return problems


# ---------------------------------------------------------------- docker compose

COMPOSE_REQUIRED_SETTINGS = ("http_host", "mongo_url", "kafka_bootstrap_servers", "jwks_url|jwks_file")
COMPOSE_INFRASTRUCTURE = ("kafka", "kafka-init", "mongodb")


def _compose_env(service: Manifest) -> dict[str, str | None]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        pairs = (item.split("=", 1) for item in environment)
        return {pair[0]: pair[1] if len(pair) > 1 else None for pair in pairs}
    return {key: None if value is None else str(value) for key, value in environment.items()}


def check_compose(compose: Manifest) -> list[str]:
    problems = []
    services = cast(dict[str, Manifest], compose.get("services", {}))
    for name in (*COMPOSE_INFRASTRUCTURE, *DEPLOYABLES):
        if name not in services:
            problems.append(f"compose: service {name} missing")
    for name, service in services.items():
        image = service.get("image")
        if image is not None and not image_pinned(str(image)):
            problems.append(f"compose {name}: image {image!r} is not pinned")
    kafka_image = str(services.get("kafka", {}).get("image", ""))
    if not kafka_image.startswith("apache/kafka:4."):
        problems.append(f"compose kafka: image {kafka_image!r} must be apache/kafka pinned to a 4.x tag")
    for name in ("kafka", "mongodb"):
        if name in services and "healthcheck" not in services[name]:
            problems.append(f"compose {name}: no healthcheck to gate the services on")
    bootstrap = services.get("kafka-init", {})
    topics = str(_compose_env(bootstrap).get("TOPICS") or "").split()
    if sorted(topics) != sorted(EVENT_TOPICS):
        problems.append(f"compose kafka-init: TOPICS {topics} != EVENT_TOPICS {sorted(EVENT_TOPICS)}")
    if ".dlq" not in str(bootstrap.get("command", "")) or "kafka-topics.sh" not in str(bootstrap.get("command", "")):
        problems.append("compose kafka-init: must create every topic's .dlq twin with kafka-topics.sh")
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in declared_volumes:
                problems.append(f"compose {name}: volume {source} is not a declared named volume")
    wanted_order = {
        "kafka": "service_healthy",
        "mongodb": "service_healthy",
        "kafka-init": "service_completed_successfully",
    }
    for name in SERVICES:
        if name not in services:
            continue
        service = services[name]
        facts = service_facts(name)
        build = service.get("build", {})
        if build.get("dockerfile") != "deploy/docker/Dockerfile" or build.get("target") != name:
            problems.append(f"compose {name}: must build deploy/docker/Dockerfile --target {name}")
        depends_on = service.get("depends_on", {})
        for dependency, condition in wanted_order.items():
            if not isinstance(depends_on, dict) or depends_on.get(dependency, {}).get("condition") != condition:
                problems.append(f"compose {name}: must wait for {dependency} ({condition})")
        if not any(str(p).endswith(f"{facts.http_port}:{facts.http_port}") for p in service.get("ports", [])):
            problems.append(f"compose {name}: port {facts.http_port} not published")
        if service.get("read_only") is not True or not any(str(t).startswith("/tmp") for t in service.get("tmpfs", [])):
            problems.append(f"compose {name}: must run with a read-only root filesystem and a /tmp tmpfs")
        problems += [
            f"compose {p}" for p in _settings_problems(facts, _compose_env(service), COMPOSE_REQUIRED_SETTINGS)
        ]
    if CONSOLE in services:
        problems += [f"compose {p}" for p in _compose_console_problems(services[CONSOLE])]
    return problems


def _compose_console_problems(console: Manifest) -> list[str]:
    """Built from its target, published on its port, hardened, started after the four APIs are healthy."""
    problems = []
    port = http_port(CONSOLE)
    build = console.get("build", {})
    if build.get("dockerfile") != "deploy/docker/Dockerfile" or build.get("target") != CONSOLE:
        problems.append(f"{CONSOLE}: must build deploy/docker/Dockerfile --target {CONSOLE}")
    depends_on = console.get("depends_on", {})
    for service in SERVICES:
        if not isinstance(depends_on, dict) or depends_on.get(service, {}).get("condition") != "service_healthy":
            problems.append(f"{CONSOLE}: must wait for {service} (service_healthy)")
    if not any(str(p).endswith(f"{port}:{port}") for p in console.get("ports", [])):
        problems.append(f"{CONSOLE}: port {port} not published")
    if not all(str(p).startswith("127.0.0.1:") for p in console.get("ports", [])):
        problems.append(f"{CONSOLE}: publish on 127.0.0.1 only (the dev sign-in is on)")
    if console.get("read_only") is not True or not any(str(t).startswith("/tmp") for t in console.get("tmpfs", [])):
        problems.append(f"{CONSOLE}: must run with a read-only root filesystem and a /tmp tmpfs")
    problems += _console_settings_problems(_compose_env(console), in_cluster=False)
    return problems
