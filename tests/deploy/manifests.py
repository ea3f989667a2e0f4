"""Loading the built manifests and the platform facts the policies compare them with.

Every expectation is derived from the code: topics and ACLs from
``alliance_shared.contract.topics``, ports, env prefixes and database names from each
service's ``alliance_<svc>.settings.Settings``, the console's from
``alliance_console.settings.ConsoleSettings``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic_settings import BaseSettings

from alliance_shared.contract.topics import SERVICE_TOPICS
from alliance_shared.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
K8S_DIR = DEPLOY_DIR / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES: tuple[str, ...] = tuple(SERVICE_TOPICS)
#: The web console: deployed like a service, but no database, no Kafka, no Kafka user.
CONSOLE = "console"
#: Everything that runs as a Deployment of ours.
DEPLOYABLES: tuple[str, ...] = (*SERVICES, CONSOLE)

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ServiceFacts:
    """What the code says about one service's runtime configuration."""

    name: str
    env_prefix: str
    http_port: int
    #: /metrics and the API docs (alliance_shared/web/ops.py): never behind the Ingress.
    ops_port: int
    database: str
    consumer_group: str
    setting_names: frozenset[str]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"alliance_{service}.settings")
    return cast(type[ServiceSettings], module.Settings)


def service_facts(service: str) -> ServiceFacts:
    settings = settings_class(service)
    fields = settings.model_fields
    names = frozenset(fields)
    service_name = cast(str, fields["service_name"].default)
    return ServiceFacts(
        name=service,
        env_prefix=settings.model_config.get("env_prefix", ""),
        http_port=cast(int, fields["http_port"].default),
        ops_port=cast(int, fields["ops_port"].default),
        database=cast(str, fields["mongo_database"].default),
        consumer_group=f"alliance-{service_name}",
        setting_names=names,
    )


@dataclass(frozen=True)
class ConsoleFacts:
    """What the console's code says about its runtime configuration."""

    name: str
    env_prefix: str
    http_port: int
    ops_port: int
    setting_names: frozenset[str]


def console_facts() -> ConsoleFacts:
    module = importlib.import_module("alliance_console.settings")
    settings = cast(type[BaseSettings], module.ConsoleSettings)
    fields = settings.model_fields
    return ConsoleFacts(
        name=CONSOLE,
        env_prefix=settings.model_config.get("env_prefix", ""),
        http_port=cast(int, fields["port"].default),
        ops_port=cast(int, fields["ops_port"].default),
        setting_names=frozenset(fields),
    )


def http_port(deployable: str) -> int:
    return console_facts().http_port if deployable == CONSOLE else service_facts(deployable).http_port


def ops_port(deployable: str) -> int:
    """Where a deployable serves /metrics (a service also its API docs): never behind the Ingress."""
    return console_facts().ops_port if deployable == CONSOLE else service_facts(deployable).ops_port


def load_yaml_stream(text: str) -> list[Manifest]:
    return [cast(Manifest, document) for document in yaml.safe_load_all(text) if document]


def of_kind(objects: list[Manifest], kind: str) -> Iterator[Manifest]:
    return (obj for obj in objects if obj.get("kind") == kind)


def named(objects: list[Manifest], kind: str, name: str) -> Manifest | None:
    return next((obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name), None)


def describe(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def pod_spec(deployment: Manifest) -> Manifest:
    return cast(Manifest, deployment["spec"]["template"]["spec"])


def containers(deployment: Manifest) -> list[Manifest]:
    spec = pod_spec(deployment)
    return cast(list[Manifest], spec.get("initContainers", []) + spec.get("containers", []))


def selects(selector: Manifest | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels only, which is all our manifests use) matches labels."""
    if selector is None:
        return False
    if selector.get("matchExpressions"):
        raise AssertionError("matchExpressions are not used in these manifests; extend `selects` first")
    wanted = cast(dict[str, str], selector.get("matchLabels", {}))
    return all(labels.get(key) == value for key, value in wanted.items())


def pod_labels(deployment: Manifest) -> dict[str, str]:
    return cast(dict[str, str], deployment["spec"]["template"]["metadata"].get("labels", {}))
