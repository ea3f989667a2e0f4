"""deploy/compose.yaml runs the same services, ports and settings as the code declares."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from tests.deploy.manifests import Manifest
from tests.deploy.policies import check_compose


def test_compose_matches_the_code(compose: Manifest) -> None:
    assert check_compose(compose) == []


def test_compose_services_are_hardened_and_wait_for_smtp(compose: Manifest) -> None:
    notifications = compose["services"]["notifications"]
    assert notifications["depends_on"]["mailpit"]["condition"] == "service_healthy"
    for name in ("registry", "funding", "evaluation", "notifications", "console"):
        service = compose["services"][name]
        assert service["user"] == "10001:10001"
        assert service["cap_drop"] == ["ALL"]


def _unpinned_kafka(compose: Manifest) -> None:
    compose["services"]["kafka"]["image"] = "apache/kafka:latest"


def _kafka_3(compose: Manifest) -> None:
    compose["services"]["kafka"]["image"] = "apache/kafka:3.9.1"


def _missing_topic(compose: Manifest) -> None:
    env = compose["services"]["kafka-init"]["environment"]
    env["TOPICS"] = env["TOPICS"].replace("alliance.funding.events", "")


def _no_dlq(compose: Manifest) -> None:
    compose["services"]["kafka-init"]["command"] = ["kafka-topics.sh --create --topic $${topic}"]


def _starts_before_topics(compose: Manifest) -> None:
    del compose["services"]["funding"]["depends_on"]["kafka-init"]


def _wrong_port(compose: Manifest) -> None:
    compose["services"]["evaluation"]["ports"] = ["127.0.0.1:8080:8080"]


def _loopback_host(compose: Manifest) -> None:
    compose["services"]["registry"]["environment"]["REGISTRY_HTTP_HOST"] = "127.0.0.1"


def _other_prefix(compose: Manifest) -> None:
    env = compose["services"]["funding"]["environment"]
    env["REGISTRY_MONGO_URL"] = env.pop("FUNDING_MONGO_URL")


def _no_jwks(compose: Manifest) -> None:
    del compose["services"]["notifications"]["environment"]["NOTIFICATIONS_JWKS_FILE"]


def _no_smtp(compose: Manifest) -> None:
    del compose["services"]["notifications"]["environment"]["NOTIFICATIONS_SMTP_HOST"]


def _wrong_target(compose: Manifest) -> None:
    compose["services"]["funding"]["build"]["target"] = "registry"


def _writable_root(compose: Manifest) -> None:
    compose["services"]["registry"]["read_only"] = False


def _undeclared_volume(compose: Manifest) -> None:
    del compose["volumes"]["mongo-data"]


def _service_missing(compose: Manifest) -> None:
    del compose["services"]["notifications"]


def _console_missing(compose: Manifest) -> None:
    del compose["services"]["console"]


def _console_before_registry(compose: Manifest) -> None:
    del compose["services"]["console"]["depends_on"]["registry"]


def _console_api_url_wrong(compose: Manifest) -> None:
    compose["services"]["console"]["environment"]["CONSOLE_REGISTRY_URL"] = "http://registry:8000"


def _console_without_sign_in(compose: Manifest) -> None:
    compose["services"]["console"]["environment"]["CONSOLE_DEV_LOGIN"] = "false"


def _console_public(compose: Manifest) -> None:
    compose["services"]["console"]["ports"] = ["8000:8000"]


def _console_no_session_secret(compose: Manifest) -> None:
    del compose["services"]["console"]["environment"]["CONSOLE_SESSION_SECRET"]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (_unpinned_kafka, "apache/kafka:latest' is not pinned"),
        (_kafka_3, "must be apache/kafka pinned to a 4.x tag"),
        (_missing_topic, "TOPICS"),
        (_no_dlq, ".dlq twin"),
        (_starts_before_topics, "funding: must wait for kafka-init"),
        (_wrong_port, "evaluation: port 8003 not published"),
        (_loopback_host, "REGISTRY_HTTP_HOST is '127.0.0.1'"),
        (_other_prefix, "sets variables with registry's prefix"),
        (_no_jwks, "NOTIFICATIONS_JWKS_URL or NOTIFICATIONS_JWKS_FILE not set"),
        (_no_smtp, "NOTIFICATIONS_SMTP_HOST not set"),
        (_wrong_target, "must build deploy/docker/Dockerfile --target funding"),
        (_writable_root, "registry: must run with a read-only root filesystem"),
        (_undeclared_volume, "mongo-data is not a declared named volume"),
        (_service_missing, "service notifications missing"),
        (_console_missing, "service console missing"),
        (_console_before_registry, "console: must wait for registry (service_healthy)"),
        (_console_api_url_wrong, "CONSOLE_REGISTRY_URL is 'http://registry:8000'"),
        (_console_without_sign_in, "CONSOLE_OIDC_ISSUER not set (OpenID Connect is the only sign-in)"),
        (_console_public, "console: publish on 127.0.0.1 only"),
        (_console_no_session_secret, "CONSOLE_SESSION_SECRET not set"),
    ],
)
def test_compose_check_reports_a_broken_copy(
    compose: Manifest, break_it: Callable[[Manifest], None], expected: str
) -> None:
    broken = copy.deepcopy(compose)
    break_it(broken)
    problems = check_compose(broken)
    assert any(expected in problem for problem in problems), problems
