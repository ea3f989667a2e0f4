"""Every overlay builds with kustomize and every object satisfies its schema."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy import tooling
from tests.deploy.conftest import Built
from tests.deploy.manifests import OVERLAYS, Manifest, named, of_kind
from tests.deploy.validation import KUBERNETES_VERSION, is_custom_resource, schema_problems

EXPECTED_KINDS = {
    "Namespace",
    "Deployment",
    "Service",
    "ServiceAccount",
    "ConfigMap",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Ingress",
    "Kafka",
    "KafkaNodePool",
    "KafkaTopic",
    "KafkaUser",
    "MongoDBCommunity",
    "ServiceMonitor",
    "PrometheusRule",
}
OVERLAY_NAMESPACE = {"dev": "coop-alliance-dev", "prod": "coop-alliance"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_with_every_kind_of_object(built_overlays: Built, overlay: str) -> None:
    kinds = {obj["kind"] for obj in built_overlays[overlay]}
    # dev runs one replica and so drops the autoscalers on purpose
    expected = EXPECTED_KINDS - {"HorizontalPodAutoscaler"} if overlay == "dev" else EXPECTED_KINDS
    assert expected <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_satisfies_its_schema(built_overlays: Built, overlay: str) -> None:
    problems = [problem for obj in built_overlays[overlay] for problem in schema_problems(obj)]
    assert problems == [], f"rejected against Kubernetes {KUBERNETES_VERSION} / CRD schemas"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_lands_in_the_overlay_namespace(built_overlays: Built, overlay: str) -> None:
    namespace = OVERLAY_NAMESPACE[overlay]
    misplaced = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for obj in built_overlays[overlay]
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != namespace
    ]
    assert misplaced == []
    assert [ns["metadata"]["name"] for ns in of_kind(built_overlays[overlay], "Namespace")] == [namespace]


def test_custom_resources_are_checked_against_crd_schemas(built_overlays: Built) -> None:
    kinds = {obj["kind"] for obj in built_overlays["prod"] if is_custom_resource(obj)}
    assert kinds == {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaUser",
        "MongoDBCommunity",
        "ServiceMonitor",
        "PrometheusRule",
    }


def _deployment(objects: list[Manifest]) -> Manifest:
    deployment = named(objects, "Deployment", "funding")
    assert deployment is not None
    return deployment


def _unknown_pod_field(objects: list[Manifest]) -> Manifest:
    deployment = _deployment(objects)
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    return deployment


def _wrong_type(objects: list[Manifest]) -> Manifest:
    deployment = _deployment(objects)
    deployment["spec"]["replicas"] = "two"
    return deployment


def _removed_api(objects: list[Manifest]) -> Manifest:
    budget = next(of_kind(objects, "PodDisruptionBudget"))
    budget["apiVersion"] = "policy/v1beta1"  # removed in Kubernetes 1.25
    return budget


def _bad_acl_operation(objects: list[Manifest]) -> Manifest:
    user = next(of_kind(objects, "KafkaUser"))
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Produce"]
    return user


def _long_listener_name(objects: list[Manifest]) -> Manifest:
    kafka = next(of_kind(objects, "Kafka"))
    kafka["spec"]["kafka"]["listeners"][0]["name"] = "internal-tls-listener"
    return kafka


def _topic_without_cluster(objects: list[Manifest]) -> Manifest:
    topic = next(of_kind(objects, "KafkaTopic"))
    del topic["metadata"]["labels"]["strimzi.io/cluster"]
    return topic


def _mongo_user_without_roles(objects: list[Manifest]) -> Manifest:
    mongo = next(of_kind(objects, "MongoDBCommunity"))
    del mongo["spec"]["users"][0]["roles"]
    return mongo


def _alert_without_expr(objects: list[Manifest]) -> Manifest:
    rule = next(of_kind(objects, "PrometheusRule"))
    del rule["spec"]["groups"][0]["rules"][0]["expr"]
    return rule


def _bad_scrape_interval(objects: list[Manifest]) -> Manifest:
    monitor = next(of_kind(objects, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["interval"] = "30 seconds"
    return monitor


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_unknown_pod_field, "readinesProbe"),
        (_wrong_type, "'two'"),
        (_removed_api, "policy/v1beta1"),
        (_bad_acl_operation, "Produce"),
        (_long_listener_name, "internal-tls-listener"),
        (_topic_without_cluster, "strimzi.io/cluster"),
        (_mongo_user_without_roles, "roles"),
        (_alert_without_expr, "expr"),
        (_bad_scrape_interval, "30 seconds"),
    ],
)
def test_schema_validation_rejects_a_broken_object(
    fresh_copy: Callable[[str], list[Manifest]], break_it: Callable[[list[Manifest]], Manifest], expected: str
) -> None:
    broken = break_it(fresh_copy("prod"))
    problems = schema_problems(broken)
    assert problems, f"{broken['kind']} was broken but passed its schema"
    assert expected in " ".join(problems)


def test_missing_go_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(tooling.ToolUnavailableError, match="Go is not on PATH"):
        tooling.kustomize_binary()


def test_a_cached_binary_is_used_without_building(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cached = tooling.tools_dir() / f"kustomize-{tooling.KUSTOMIZE_VERSION}"
    cached.parent.mkdir(parents=True)
    cached.write_text("#!/bin/sh\n")
    cached.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda _name: pytest.fail("must not look for Go"))
    assert tooling.kustomize_binary() == cached
