"""The four services as real processes: started, health-checked, killed and restarted.

Used by `alliance run`, by the system tests (which kill services with SIGKILL in the
middle of a busy flow) and by `alliance demo` when no platform is running.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alliance_devstack.components import free_port
from alliance_devstack.errors import StackError
from alliance_shared.messaging.kafka import KafkaAccess

SERVICES = {"registry": 8001, "funding": 8002, "evaluation": 8003, "notifications": 8004}
#: Each service's internal ops port under `make run`: /metrics and the API docs
#: (/docs, /redoc, /openapi.json) are served there only (alliance_shared/web/ops.py).
OPS_PORTS = {"registry": 9001, "funding": 9002, "evaluation": 9003, "notifications": 9004}
HOST = "127.0.0.1"


#: The web console (services/console): a front for people, not one of the event-driven services.
CONSOLE_PORT = 8000
#: Its /metrics under `make run`.
CONSOLE_OPS_PORT = 9000


def console_process(
    urls: Mapping[str, str], logs: Path, keys_dir: Path, port: int = CONSOLE_PORT, ops_port: int | None = None
) -> ServiceProcess | None:
    """The console in front of ``urls``, with the development sign-in page (dev tokens from
    ``keys_dir``); None when this checkout has no console. ``ops_port`` None: a free one."""
    if importlib.util.find_spec("alliance_console.app") is None:
        return None
    env = {
        "CONSOLE_HOST": HOST,
        "CONSOLE_PORT": str(port),
        "CONSOLE_PUBLIC_URL": f"http://{HOST}:{port}",
        "CONSOLE_SESSION_SECRET": secrets.token_hex(32),
        "CONSOLE_DEV_LOGIN": "true",
        "CONSOLE_DEV_KEYS_DIR": str(keys_dir),
        "CONSOLE_COOKIE_SECURE": "false",
        **{f"CONSOLE_{name.upper()}_URL": url for name, url in urls.items()},
    }
    return ServiceProcess("console", port, env, logs / "console.log", ops_port=ops_port or free_port())


def available_services() -> dict[str, int]:
    """The services whose composition root exists in this checkout, with their default ports."""
    return {name: port for name, port in SERVICES.items() if importlib.util.find_spec(f"alliance_{name}.app")}


def prefix_of(service: str) -> str:
    return service.upper() + "_"


def servers_env(kafka: Mapping[str, KafkaAccess], mongo_url: str, smtp_host: str, smtp_port: int) -> dict[str, str]:
    """What every service needs to find the servers (each reads its own prefix) and to sign
    in to Kafka as itself (``kafka``: each service's principal)."""
    env: dict[str, str] = {}
    for name in SERVICES:
        env.update(kafka[name].settings_env(prefix_of(name)))
        env[prefix_of(name) + "MONGO_URL"] = mongo_url
    env["NOTIFICATIONS_SMTP_HOST"] = smtp_host
    env["NOTIFICATIONS_SMTP_PORT"] = str(smtp_port)
    # The demo's and the tests' webhook receivers listen on loopback, which webhooks may
    # reach only when an operator allow-lists it (docs/notifications.md, Endpoints).
    env["NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
    return env


def isolated_env(
    kafka: Mapping[str, KafkaAccess], mongo_url: str, smtp_host: str, smtp_port: int, jwks_file: Path, run_id: str
) -> dict[str, str]:
    """A platform of its own on shared servers: fresh databases and consumer groups per run
    (system tests, benchmarks), outbox sweeps and periodic checks every second. A group
    keeps the ``alliance-<service>`` prefix its principal may use."""
    env = servers_env(kafka, mongo_url, smtp_host, smtp_port)
    for name in SERVICES:
        prefix = prefix_of(name)
        env[prefix + "MONGO_DATABASE"] = f"{name}_{run_id}"
        env[prefix + "KAFKA_CONSUMER_GROUP"] = f"alliance-{name}-{run_id}"
        env[prefix + "JWKS_FILE"] = str(jwks_file)
        env[prefix + "OUTBOX_SCAN_SECONDS"] = "1"
    env["EVALUATION_OVERDUE_CHECK_SECONDS"] = "1"
    return env


async def start_at_topic_ends(kafka: KafkaAccess, group: str, topics: Sequence[str]) -> None:
    """Commit ``group``'s offsets at the topics' ends, creating missing topics: a platform of
    its own on shared servers reads only what happens after it starts, not the history.
    Every college's reports topic there is now counts as history too. ``kafka``: a
    principal that may create topics and use the group (the admin)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from alliance_shared.contract.topics import college_of_topic
    from alliance_shared.messaging.kafka import ensure_topics, settings_for

    await ensure_topics(settings_for(kafka), topics)
    admin = AIOKafkaAdminClient(**kafka.options())
    await admin.start()
    try:
        colleges = [t for t in await admin.list_topics() if college_of_topic(t) is not None]
        described = await admin.describe_topics(sorted({*topics, *colleges}))
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


def resident_memory_bytes(pid: int) -> int:
    """VmRSS of a process (Linux /proc); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


@dataclass
class ServiceProcess:
    """One service run as ``python -m alliance_<name>``, its output appended to ``log``;
    ``ops_port``: where it serves /metrics (and a service its API docs), chosen free once
    unless given, so a restart keeps it."""

    name: str
    port: int
    env: Mapping[str, str]
    log: Path
    ops_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ops_url(self) -> str:
        return f"http://{HOST}:{self.ops_port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            prefix_of(self.name) + "HTTP_PORT": str(self.port),
            prefix_of(self.name) + "OPS_PORT": str(self.ops_port),
        }
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", f"alliance_{self.name}"],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:  # noqa: S310 - loopback
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise StackError(f"{self.name} exited with {code} while starting:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.3)
        raise StackError(f"{self.name} ({self.url}) was not ready after {timeout_s:.0f}s; see {self.log}")

    def log_tail(self, lines: int = 20) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown hook runs."""
        self.send_signal(signal.SIGKILL)
        self.wait_exit(10.0)

    def stop(self, timeout_s: float = 30.0) -> None:
        self.send_signal(signal.SIGTERM)
        if not self.wait_exit(timeout_s):
            self.kill()

    def restart(self, timeout_s: float = 90.0) -> None:
        self.stop()
        self.start()
        self.wait_ready(timeout_s)

    def send_signal(self, sig: signal.Signals) -> None:
        if self.running() and self.process is not None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def wait_exit(self, timeout_s: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True


@dataclass
class Platform:
    """Every available service against one set of servers."""

    services: dict[str, ServiceProcess]

    @classmethod
    def create(
        cls,
        env: Mapping[str, str],
        logs: Path,
        *,
        ports: Mapping[str, int] | None = None,
        ops_ports: Mapping[str, int] | None = None,
        only: Iterable[str] | None = None,
    ) -> Platform:
        """``ops_ports`` not named are chosen free now, once: a restarted service keeps its ports."""
        chosen = available_services()
        if only is not None:
            wanted = set(only)
            chosen = {name: port for name, port in chosen.items() if name in wanted}
        ports = ports or {}
        ops_ports = ops_ports or {}
        return cls(
            {
                name: ServiceProcess(
                    name,
                    ports.get(name, default),
                    env,
                    logs / f"{name}.log",
                    ops_port=ops_ports.get(name) or free_port(),
                )
                for name, default in chosen.items()
            }
        )

    def start(self, timeout_s: float = 90.0) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready(timeout_s)

    def stop(self) -> None:
        for service in self.services.values():
            service.send_signal(signal.SIGTERM)
        for service in self.services.values():
            if not service.wait_exit(30.0):
                service.kill()

    def exited(self) -> list[ServiceProcess]:
        return [s for s in self.services.values() if s.process is not None and not s.running()]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]
