"""Our deployment policies hold on every overlay, and each of them catches a broken copy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.deploy import policies
from tests.deploy.conftest import Built
from tests.deploy.manifests import OVERLAYS, Manifest, named, of_kind

Policy = Callable[[list[Manifest], str], list[str]]

#: (high availability, Kafka replication) per overlay.
OVERLAY_SHAPE = {"dev": (False, 1), "prod": (True, 3)}

POLICIES: dict[str, Policy] = {
    "hardening": lambda objects, _overlay: policies.check_deployment_hardening(objects),
    "images": lambda objects, _overlay: policies.check_images_pinned(objects),
    "service-objects": lambda objects, overlay: policies.check_service_objects(
        objects, high_availability=OVERLAY_SHAPE[overlay][0]
    ),
    "no-secrets": lambda objects, _overlay: policies.check_no_secret_values(objects),
    "settings-env": lambda objects, _overlay: policies.check_settings_env(objects),
    "network": lambda objects, _overlay: policies.check_network_policies(objects),
    "kafka-cluster": lambda objects, overlay: policies.check_kafka_cluster(objects, replicas=OVERLAY_SHAPE[overlay][1]),
    "kafka-topics": lambda objects, overlay: policies.check_kafka_topics(objects, replicas=OVERLAY_SHAPE[overlay][1]),
    "kafka-acls": lambda objects, _overlay: policies.check_service_acls(objects),
    "mongo-users": lambda objects, _overlay: policies.check_mongo_users(objects),
    "ingress": lambda objects, _overlay: policies.check_ingress(objects),
    "alerts": lambda objects, _overlay: policies.check_alerts(objects),
    "ops-port": lambda objects, _overlay: policies.check_ops_port_monitoring(objects),
}


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("policy", POLICIES)
def test_policy_holds(built_overlays: Built, overlay: str, policy: str) -> None:
    assert POLICIES[policy](built_overlays[overlay], overlay) == []


# ---------------------------------------------------------------- deliberately broken copies


def _get(objects: list[Manifest], kind: str, name: str) -> Manifest:
    obj = named(objects, kind, name)
    assert obj is not None, f"{kind}/{name} not in the build"
    return obj


def _container(objects: list[Manifest], service: str) -> Manifest:
    container: Manifest = _get(objects, "Deployment", service)["spec"]["template"]["spec"]["containers"][0]
    return container


def _env_var(objects: list[Manifest], service: str, name: str) -> Manifest:
    return next(v for v in _container(objects, service)["env"] if v["name"] == name)


def _acls(objects: list[Manifest], service: str) -> list[Manifest]:
    acls: list[Manifest] = _get(objects, "KafkaUser", f"alliance-{service}")["spec"]["authorization"]["acls"]
    return acls


def _no_readiness_probe(objects: list[Manifest]) -> None:
    del _container(objects, "funding")["readinessProbe"]


def _liveness_on_wrong_path(objects: list[Manifest]) -> None:
    _container(objects, "registry")["livenessProbe"]["httpGet"]["path"] = "/readyz"


def _writable_root(objects: list[Manifest]) -> None:
    _container(objects, "evaluation")["securityContext"]["readOnlyRootFilesystem"] = False


def _keeps_capabilities(objects: list[Manifest]) -> None:
    _container(objects, "notifications")["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def _no_limits(objects: list[Manifest]) -> None:
    del _container(objects, "funding")["resources"]["limits"]


def _no_pre_stop(objects: list[Manifest]) -> None:
    del _container(objects, "registry")["lifecycle"]


def _short_grace(objects: list[Manifest]) -> None:
    _get(objects, "Deployment", "evaluation")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5


def _latest_image(objects: list[Manifest]) -> None:
    _container(objects, "funding")["image"] = "coop-alliance/funding:latest"


def _untagged_image(objects: list[Manifest]) -> None:
    _container(objects, "registry")["image"] = "registry.example.org:5000/coop-alliance/registry"


def _no_budget(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "PodDisruptionBudget", "evaluation"))


def _no_network_policy(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "NetworkPolicy", "notifications"))


def _single_replica(objects: list[Manifest]) -> None:
    _get(objects, "Deployment", "funding")["spec"]["replicas"] = 1


def _autoscaler_to_one(objects: list[Manifest]) -> None:
    _get(objects, "HorizontalPodAutoscaler", "registry")["spec"]["minReplicas"] = 1


def _secret_in_git(objects: list[Manifest]) -> None:
    objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alliance-oidc"}, "data": {}})


def _no_mongo_url(objects: list[Manifest]) -> None:
    container = _container(objects, "funding")
    container["env"] = [v for v in container["env"] if v["name"] != "FUNDING_MONGO_URL"]


def _misspelt_setting(objects: list[Manifest]) -> None:
    _get(objects, "ConfigMap", "registry-config")["data"]["REGISTRY_KAFKA_BOOTSTRAP_SERVER"] = "kafka:9093"


def _jwks_url_in_clear(objects: list[Manifest]) -> None:
    variable = _env_var(objects, "evaluation", "EVALUATION_JWKS_URL")
    del variable["valueFrom"]
    variable["value"] = "https://idp.example.org/jwks"


def _loopback_host(objects: list[Manifest]) -> None:
    _get(objects, "ConfigMap", "funding-config")["data"]["FUNDING_HTTP_HOST"] = "127.0.0.1"


def _no_smtp_host(objects: list[Manifest]) -> None:
    container = _container(objects, "notifications")
    container["env"] = [v for v in container["env"] if v["name"] != "NOTIFICATIONS_SMTP_HOST"]


def _no_default_deny(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "NetworkPolicy", "default-deny-all"))


def _registry_reaches_internet(objects: list[Manifest]) -> None:
    _get(objects, "NetworkPolicy", "registry")["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 443}]})


def _notifications_without_smtp(objects: list[Manifest]) -> None:
    for rule in _get(objects, "NetworkPolicy", "notifications")["spec"]["egress"]:
        rule["ports"] = [p for p in rule.get("ports", []) if p["port"] != 587]


def _webhooks_reach_the_cluster(objects: list[Manifest]) -> None:
    for rule in _get(objects, "NetworkPolicy", "notifications")["spec"]["egress"]:
        opens_https = any(p["port"] == 443 for p in rule.get("ports", []))
        if opens_https and any("ipBlock" in peer for peer in rule.get("to", [])):
            del rule["to"]


def _webhooks_reach_metadata(objects: list[Manifest]) -> None:
    for rule in _get(objects, "NetworkPolicy", "notifications")["spec"]["egress"]:
        for peer in rule.get("to", []):
            if "ipBlock" in peer and ":" not in peer["ipBlock"]["cidr"]:
                peer["ipBlock"]["except"].remove("169.254.0.0/16")


def _webhook_key_in_clear(objects: list[Manifest]) -> None:
    variable = _env_var(objects, "notifications", "NOTIFICATIONS_WEBHOOK_SECRET_KEY")
    del variable["valueFrom"]
    variable["value"] = "a-key-in-git"


def _no_webhook_key(objects: list[Manifest]) -> None:
    container = _container(objects, "notifications")
    container["env"] = [v for v in container["env"] if v["name"] != "NOTIFICATIONS_WEBHOOK_SECRET_KEY"]


def _no_kafka_egress(objects: list[Manifest]) -> None:
    egress = _get(objects, "NetworkPolicy", "evaluation")["spec"]["egress"]
    egress[:] = [r for r in egress if not any(p["port"] == 9093 for p in r.get("ports", []))]


def _missing_dlq_topic(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "KafkaTopic", "alliance.funding.events.dlq"))


def _undeclared_topic(objects: list[Manifest]) -> None:
    topic = dict(_get(objects, "KafkaTopic", "alliance.funding.events"))
    topic["metadata"] = {**topic["metadata"], "name": "alliance.payments.events"}
    topic["spec"] = {**topic["spec"], "topicName": "alliance.payments.events"}
    objects.append(topic)


def _under_replicated_topic(objects: list[Manifest]) -> None:
    _get(objects, "KafkaTopic", "alliance.registry.events")["spec"]["replicas"] = 1


def _oversized_topic(objects: list[Manifest]) -> None:
    _get(objects, "KafkaTopic", "alliance.evaluation.events")["spec"]["config"]["max.message.bytes"] = "10485760"


def _unneeded_acl(objects: list[Manifest]) -> None:
    _acls(objects, "registry").append(
        {
            "resource": {"type": "topic", "name": "alliance.evaluation.events", "patternType": "literal"},
            "operations": ["Read"],
        }
    )


def _cluster_acl(objects: list[Manifest]) -> None:
    _acls(objects, "funding").append({"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]})


def _missing_group_acl(objects: list[Manifest]) -> None:
    acls = _acls(objects, "evaluation")
    acls[:] = [acl for acl in acls if acl["resource"]["type"] != "group"]


def _missing_dlq_acl(objects: list[Manifest]) -> None:
    acls = _acls(objects, "notifications")
    acls[:] = [acl for acl in acls if not acl["resource"]["name"].endswith(".dlq")]


def _wrong_sasl_user(objects: list[Manifest]) -> None:
    _get(objects, "ConfigMap", "funding-config")["data"]["FUNDING_KAFKA_SASL_USERNAME"] = "alliance-registry"


def _no_authorization(objects: list[Manifest]) -> None:
    del next(of_kind(objects, "Kafka"))["spec"]["kafka"]["authorization"]


def _plaintext_listener(objects: list[Manifest]) -> None:
    next(of_kind(objects, "Kafka"))["spec"]["kafka"]["listeners"][0]["tls"] = False


def _broad_mongo_role(objects: list[Manifest]) -> None:
    users = next(of_kind(objects, "MongoDBCommunity"))["spec"]["users"]
    next(u for u in users if u["name"] == "registry")["roles"].append({"name": "readWrite", "db": "alliance_funding"})


def _no_ingress_route(objects: list[Manifest]) -> None:
    ingress = _get(objects, "Ingress", "alliance-api")
    ingress["spec"]["rules"] = [r for r in ingress["spec"]["rules"] if not r["host"].startswith("notifications.")]


def _no_dlq_alert(objects: list[Manifest]) -> None:
    for group in _get(objects, "PrometheusRule", "alliance-alerts")["spec"]["groups"]:
        group["rules"] = [r for r in group["rules"] if "alliance_dlq_records_total" not in r["expr"]]


def _console_config(objects: list[Manifest]) -> dict[str, str]:
    data: dict[str, str] = _get(objects, "ConfigMap", "console-config")["data"]
    return data


def _console_writable_root(objects: list[Manifest]) -> None:
    _container(objects, "console")["securityContext"]["readOnlyRootFilesystem"] = False


def _console_without_autoscaler(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "HorizontalPodAutoscaler", "console"))


def _console_dev_login(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_DEV_LOGIN"] = "true"


def _console_session_secret_in_clear(objects: list[Manifest]) -> None:
    variable = _env_var(objects, "console", "CONSOLE_SESSION_SECRET")
    del variable["valueFrom"]
    variable["value"] = "not-so-secret"


def _console_api_url_elsewhere(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_FUNDING_URL"] = "https://funding.api.coopalliance.example"


def _console_insecure_cookie(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_COOKIE_SECURE"] = "false"


def _console_misspelt_setting(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_OIDC_ISSUER_URL"] = _console_config(objects).pop("CONSOLE_OIDC_ISSUER")


def _console_on_loopback(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_HOST"] = "127.0.0.1"


def _console_other_issuer(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_OIDC_ISSUER"] = "https://login.example.org"


def _console_other_audience(objects: list[Manifest]) -> None:
    _console_config(objects)["CONSOLE_OIDC_AUDIENCE"] = "account"


def _console_reaches_mongo(objects: list[Manifest]) -> None:
    _get(objects, "NetworkPolicy", "console")["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {"app": "alliance-mongo-svc"}}}], "ports": [{"port": 27017}]}
    )


def _console_reaches_internet(objects: list[Manifest]) -> None:
    _get(objects, "NetworkPolicy", "console")["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 443}]})


def _console_cannot_reach_funding(objects: list[Manifest]) -> None:
    egress = _get(objects, "NetworkPolicy", "console")["spec"]["egress"]
    egress[:] = [r for r in egress if not any(p["port"] == 8002 for p in r.get("ports", []))]


def _console_labelled_api(objects: list[Manifest]) -> None:
    _get(objects, "Deployment", "console")["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = (
        "api"
    )


def _registry_refuses_console(objects: list[Manifest]) -> None:
    for rule in _get(objects, "NetworkPolicy", "registry")["spec"]["ingress"]:
        rule["from"] = [
            p
            for p in rule["from"]
            if p.get("podSelector", {}).get("matchLabels") != {"app.kubernetes.io/name": "console"}
        ]


def _no_console_route(objects: list[Manifest]) -> None:
    ingress = _get(objects, "Ingress", "alliance-api")
    ingress["spec"]["rules"] = [r for r in ingress["spec"]["rules"] if not r["host"].startswith("console.")]


def _no_console_monitor(objects: list[Manifest]) -> None:
    objects.remove(_get(objects, "ServiceMonitor", "console"))


def _metrics_published(objects: list[Manifest]) -> None:
    ingress = _get(objects, "Ingress", "alliance-api")
    route = next(r for r in ingress["spec"]["rules"] if r["host"].startswith("evaluation."))
    route["http"]["paths"].append(
        {
            "path": "/metrics",
            "pathType": "Exact",
            "backend": {"service": {"name": "evaluation", "port": {"name": "ops"}}},
        }
    )


def _scraped_on_the_public_port(objects: list[Manifest]) -> None:
    _get(objects, "ServiceMonitor", "funding")["spec"]["endpoints"][0]["port"] = "http"


def _ops_port_open_to_the_ingress(objects: list[Manifest]) -> None:
    policy = _get(objects, "NetworkPolicy", "registry")
    del policy["spec"]["ingress"][0]["ports"]  # a rule without ports opens every port


def _ops_port_not_exposed(objects: list[Manifest]) -> None:
    service = _get(objects, "Service", "notifications")
    service["spec"]["ports"] = [p for p in service["spec"]["ports"] if p["name"] != "ops"]


def _http_targets_the_ops_port(objects: list[Manifest]) -> None:
    _get(objects, "Service", "evaluation")["spec"]["ports"][0]["targetPort"] = "ops"


def _prometheus_cannot_scrape(objects: list[Manifest]) -> None:
    policy = _get(objects, "NetworkPolicy", "funding")
    policy["spec"]["ingress"] = [
        r for r in policy["spec"]["ingress"] if r["ports"] != [{"protocol": "TCP", "port": 9002}]
    ]


def _console_metrics_to_everyone(objects: list[Manifest]) -> None:
    policy = _get(objects, "NetworkPolicy", "console")
    policy["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 9000})


BROKEN: list[tuple[str, Callable[[list[Manifest]], None], str, str]] = [
    ("network", _console_metrics_to_everyone, "console: the ops port 9000 is open to more than Prometheus", "dev"),
    ("ingress", _metrics_published, "evaluation: the Ingress routes to Service port 'ops'", "prod"),
    ("ops-port", _scraped_on_the_public_port, "funding: the ServiceMonitor scrapes [('http', '/metrics')]", "dev"),
    ("network", _ops_port_open_to_the_ingress, "registry: the ops port 9001 is open to more than Prometheus", "prod"),
    ("service-objects", _ops_port_not_exposed, "notifications: the Service must expose exactly", "dev"),
    ("service-objects", _http_targets_the_ops_port, "evaluation: each Service port must target", "prod"),
    (
        "network",
        _prometheus_cannot_scrape,
        "funding: NetworkPolicy lacks ingress from Prometheus on the ops port",
        "prod",
    ),
    ("hardening", _no_readiness_probe, "funding container funding: no readinessProbe", "prod"),
    ("hardening", _liveness_on_wrong_path, "livenessProbe must GET /healthz", "dev"),
    ("hardening", _writable_root, "readOnlyRootFilesystem must be true", "prod"),
    ("hardening", _keeps_capabilities, "capabilities must drop ALL", "prod"),
    ("hardening", _no_limits, "no limits.cpu", "dev"),
    ("hardening", _no_pre_stop, "no preStop hook", "prod"),
    ("hardening", _short_grace, "terminationGracePeriodSeconds", "prod"),
    ("images", _latest_image, "coop-alliance/funding:latest", "prod"),
    ("images", _untagged_image, "registry.example.org:5000/coop-alliance/registry", "dev"),
    ("service-objects", _no_budget, "evaluation: no PodDisruptionBudget", "dev"),
    ("service-objects", _no_network_policy, "notifications: no NetworkPolicy", "prod"),
    ("service-objects", _single_replica, "funding: fewer than 2 replicas", "prod"),
    ("service-objects", _autoscaler_to_one, "registry: the HorizontalPodAutoscaler may scale below 2", "prod"),
    ("no-secrets", _secret_in_git, "Secret/alliance-oidc", "prod"),
    ("settings-env", _no_mongo_url, "FUNDING_MONGO_URL not set", "prod"),
    ("settings-env", _misspelt_setting, "REGISTRY_KAFKA_BOOTSTRAP_SERVER is not a setting", "dev"),
    ("settings-env", _jwks_url_in_clear, "EVALUATION_JWKS_URL must come from a Secret", "prod"),
    ("settings-env", _loopback_host, "FUNDING_HTTP_HOST is '127.0.0.1'", "prod"),
    ("settings-env", _no_smtp_host, "NOTIFICATIONS_SMTP_HOST not set", "prod"),
    ("network", _no_default_deny, "no default-deny", "prod"),
    ("network", _registry_reaches_internet, "registry: egress open to any destination on [443]", "prod"),
    ("network", _notifications_without_smtp, "no egress to SMTP/HTTPS ports [587]", "dev"),
    ("network", _webhooks_reach_the_cluster, "notifications: HTTPS egress to any destination, the cluster", "prod"),
    ("network", _webhooks_reach_metadata, "HTTPS egress reaches inward ranges ['169.254.0.0/16']", "dev"),
    ("settings-env", _webhook_key_in_clear, "NOTIFICATIONS_WEBHOOK_SECRET_KEY must come from a Secret", "prod"),
    ("settings-env", _no_webhook_key, "notifications: NOTIFICATIONS_WEBHOOK_SECRET_KEY not set", "dev"),
    ("network", _no_kafka_egress, "evaluation: NetworkPolicy lacks Kafka egress", "prod"),
    ("kafka-topics", _missing_dlq_topic, "alliance.funding.events.dlq is in the code but has no KafkaTopic", "prod"),
    ("kafka-topics", _undeclared_topic, "alliance.payments.events is not declared by the code", "dev"),
    ("kafka-topics", _under_replicated_topic, "alliance.registry.events: replicas 1 != 3", "prod"),
    ("kafka-topics", _oversized_topic, "alliance.evaluation.events: max.message.bytes must be", "dev"),
    (
        "kafka-acls",
        _unneeded_acl,
        "alliance-registry: ACL ('topic', 'alliance.evaluation.events', 'literal', 'Read')",
        "prod",
    ),
    ("kafka-acls", _cluster_acl, "('cluster', '', 'literal', 'IdempotentWrite') is not needed", "prod"),
    ("kafka-acls", _missing_group_acl, "('group', 'alliance-evaluation', 'prefix', 'Read') is missing", "prod"),
    ("kafka-acls", _missing_dlq_acl, "'alliance.registry.events.dlq', 'literal', 'Write') is missing", "dev"),
    ("kafka-acls", _wrong_sasl_user, "FUNDING_KAFKA_SASL_USERNAME must be its KafkaUser", "prod"),
    ("kafka-cluster", _no_authorization, "authorization must be simple", "prod"),
    ("kafka-cluster", _plaintext_listener, "listener tls must use TLS", "prod"),
    ("mongo-users", _broad_mongo_role, "registry must have readWrite on alliance_registry and nothing else", "prod"),
    ("ingress", _no_ingress_route, "notifications: no Ingress route", "prod"),
    ("alerts", _no_dlq_alert, "no alert on alliance_dlq_records_total", "prod"),
    ("hardening", _console_writable_root, "console container console: readOnlyRootFilesystem", "prod"),
    ("service-objects", _console_without_autoscaler, "console: no HorizontalPodAutoscaler", "prod"),
    ("settings-env", _console_dev_login, "CONSOLE_DEV_LOGIN must be false in a cluster", "prod"),
    ("settings-env", _console_dev_login, "CONSOLE_DEV_LOGIN must be false in a cluster", "dev"),
    ("settings-env", _console_session_secret_in_clear, "CONSOLE_SESSION_SECRET must come from a Secret", "prod"),
    ("settings-env", _console_api_url_elsewhere, "CONSOLE_FUNDING_URL is 'https://funding.api", "prod"),
    ("settings-env", _console_insecure_cookie, "CONSOLE_COOKIE_SECURE must stay true", "prod"),
    ("settings-env", _console_misspelt_setting, "CONSOLE_OIDC_ISSUER not set", "dev"),
    ("settings-env", _console_on_loopback, "CONSOLE_HOST is '127.0.0.1', expected '0.0.0.0'", "prod"),
    (
        "settings-env",
        _console_other_issuer,
        "CONSOLE_OIDC_ISSUER 'https://login.example.org' is not registry's",
        "prod",
    ),
    ("settings-env", _console_other_audience, "CONSOLE_OIDC_AUDIENCE 'account' is not funding's", "dev"),
    ("network", _console_reaches_mongo, "console: egress to {'podSelector'", "prod"),
    ("network", _console_reaches_internet, "console: egress to {'<anywhere>': True} on port 443", "prod"),
    ("network", _console_cannot_reach_funding, "console: NetworkPolicy lacks egress to funding on 8002", "dev"),
    ("network", _console_labelled_api, "MongoDB's NetworkPolicy NetworkPolicy/alliance-mongo admits", "prod"),
    ("network", _console_labelled_api, "Kafka listener tls admits the console's pods", "dev"),
    ("network", _registry_refuses_console, "registry: NetworkPolicy lacks ingress from the console", "prod"),
    ("ingress", _no_console_route, "console: no Ingress route", "prod"),
    ("alerts", _no_console_monitor, "console: no ServiceMonitor", "dev"),
]


@pytest.mark.parametrize(
    ("policy", "break_it", "expected", "overlay"),
    BROKEN,
    ids=[f"{b[1].__name__.lstrip('_')}-{b[3]}" for b in BROKEN],
)
def test_policy_reports_a_broken_copy(
    fresh_copy: Callable[[str], list[Manifest]],
    policy: str,
    break_it: Callable[[list[Manifest]], None],
    expected: str,
    overlay: str,
) -> None:
    objects = fresh_copy(overlay)
    assert POLICIES[policy](objects, overlay) == []
    break_it(objects)
    problems = POLICIES[policy](objects, overlay)
    assert any(expected in problem for problem in problems), problems


def test_every_policy_has_a_broken_copy() -> None:
    assert {policy for policy, *_ in BROKEN} == set(POLICIES)
