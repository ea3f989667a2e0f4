"""Issue #15 item 17: /metrics and the API docs are served on the internal ops port only.

A real service process started the way `make run` starts it (``python -m alliance_registry``
with ``REGISTRY_HTTP_PORT`` and ``REGISTRY_OPS_PORT``), spoken to over TCP: the public port,
the one the Ingress routes to, answers the operational paths 404 problem+json; the ops port
serves them; both answer the probes.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alliance_devstack.components import HOST, free_port
from alliance_devstack.errors import StackError
from alliance_devstack.provision import Infrastructure
from alliance_devstack.services import SERVICES, Platform, ServiceProcess, console_process, isolated_env, prefix_of
from alliance_shared.contract.topics import EVENT_TOPICS
from alliance_shared.web.ops import OPS_PATHS
from tests.support.kafka_io import skip_history

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def service_env(infra: Infrastructure, dev_keys_dir: Path) -> dict[str, str]:
    env = isolated_env(
        infra.kafka_services, infra.mongo_url, infra.smtp.host, infra.smtp.port, dev_keys_dir / "jwks.json",
        f"ops_{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    asyncio.run(skip_history(infra.kafka_admin, env[prefix_of("registry") + "KAFKA_CONSUMER_GROUP"], EVENT_TOPICS))
    return env


@pytest.fixture(scope="module")
def registry(service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    logs = tmp_path_factory.mktemp("ops-port")
    platform = Platform.create(service_env, logs, ports={"registry": free_port()}, only=("registry",))
    try:
        platform.start()
        yield platform["registry"]
    finally:
        platform.stop()


def test_the_public_port_hides_metrics_and_docs_and_the_ops_port_serves_them(registry: ServiceProcess) -> None:
    assert registry.ops_url is not None
    assert registry.ops_port != registry.port
    with httpx.Client(timeout=10) as http:
        for path in OPS_PATHS:
            hidden = http.get(registry.url + path)
            assert hidden.status_code == 404, (path, hidden.text)
            assert hidden.headers["content-type"].startswith("application/problem+json")
            assert hidden.json()["code"] == "route.not_found"
        metrics = http.get(registry.ops_url + "/metrics")
        assert metrics.status_code == 200
        assert "alliance_outbox_backlog" in metrics.text
        schema = http.get(registry.ops_url + "/openapi.json").json()
        assert "/partners" in schema["paths"]  # the public API's description, not the ops port's
        assert not set(OPS_PATHS) & set(schema["paths"])
        for page in ("/docs", "/redoc"):
            served = http.get(registry.ops_url + page)
            assert served.status_code == 200
            assert served.headers["content-type"].startswith("text/html")
            assert "/openapi.json" in served.text
        for base in (registry.url, registry.ops_url):
            assert http.get(base + "/healthz").status_code == 200
            assert http.get(base + "/readyz").json()["status"] == "ready"


def test_a_service_whose_ops_port_is_taken_does_not_run_unobserved(service_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen()
        taken = int(holder.getsockname()[1])
        service = ServiceProcess("registry", free_port(), service_env, tmp_path / "registry.log", ops_port=taken)
        service.start()
        try:
            with pytest.raises(StackError, match="exited with") as exited:
                service.wait_ready(60)
            assert "address already in use" in str(exited.value)
        finally:
            service.stop()


def test_the_console_serves_its_metrics_on_its_ops_port_only(dev_keys_dir: Path, tmp_path: Path) -> None:
    console = console_process({name: "http://127.0.0.1:9" for name in SERVICES}, tmp_path, dev_keys_dir, free_port())
    assert console is not None
    console.start()
    try:
        console.wait_ready(60)
        with httpx.Client(timeout=10) as http:
            assert http.get(console.url + "/metrics").status_code == 404
            assert http.get(console.url + "/openapi.json").status_code == 404
            assert "console_http_requests_total" in http.get(console.ops_url + "/metrics").text
            assert http.get(console.ops_url + "/readyz").status_code == 200
    finally:
        console.stop()
