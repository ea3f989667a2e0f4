"""The servers of the local stack, each a real process on loopback.

Every component can be started, stopped (SIGTERM, then SIGKILL), killed (SIGKILL, for
fault tests) and restarted on the same port with the same data.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from alliance_devstack.errors import StackError
from alliance_devstack.install import ferretdb_binary, kafka_libs, mongod_binary

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((HOST, port)) == 0


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class Component(ABC):
    name: str

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def is_healthy(self) -> bool: ...

    @abstractmethod
    def prepare(self) -> None:
        """Install and initialise storage; called before each start."""

    def start(self, timeout_s: float = 90.0) -> None:
        if self.running():
            return
        if port_in_use(self.port):
            raise StackError(f"{self.name}: port {HOST}:{self.port} is already taken by another program")
        self.prepare()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - commands built from fixed parts
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.data_dir,
            env=self.environment(),
        )
        self.pid = self.process.pid
        self.wait_healthy(timeout_s)

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def running(self) -> bool:
        if self.pid is None:
            return False
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise StackError(f"{self.name} exited while starting. Log tail:\n{log_tail(self.log_path)}")
            if self.is_healthy():
                return
            time.sleep(0.3)
        raise StackError(f"{self.name} was not healthy after {timeout_s:.0f}s. Log tail:\n{log_tail(self.log_path)}")

    def _signal(self, sig: signal.Signals) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, timeout_s: float = 20.0) -> None:
        if not self.running():
            return
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.running():
            self._signal(signal.SIGKILL)
        self._reap()

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self._reap()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _reap(self) -> None:
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        else:
            deadline = time.monotonic() + 10
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        self.process = None
        self.pid = None


class KafkaBroker(Component):
    """Apache Kafka as one KRaft node (broker + controller) on loopback."""

    name = "kafka"

    def __init__(self, data_dir: Path, port: int = 0, controller_port: int = 0) -> None:
        super().__init__(data_dir, port)
        self.controller_port = controller_port or free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def _properties(self) -> Path:
        return self.data_dir / "server.properties"

    def prepare(self) -> None:
        self._libs = kafka_libs()
        storage = self.data_dir / "kraft-data"
        self._properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{HOST}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={storage}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "message.max.bytes=2097152",
                    "",
                ]
            )
        )
        if not (storage / "meta.properties").exists():
            # A leading "-" in a base64url id would read as an option, hence --cluster-id=.
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            result = subprocess.run(  # noqa: S603
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(self._properties),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

    def _java(self) -> list[str]:
        log_config = Path(__file__).parent / "log4j2.properties"
        return [
            "java",
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseSerialGC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            f"{self._libs}/*",
        ]

    def command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self._properties)]

    def is_healthy(self) -> bool:
        if not port_in_use(self.port):
            return False
        try:
            return bool(_run_async(_kafka_answers(self.bootstrap_servers)))
        except Exception:
            return False


async def _kafka_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    await asyncio.wait_for(admin.start(), 5)
    try:
        await asyncio.wait_for(admin.describe_cluster(), 5)
        return True
    finally:
        await admin.close()


class MongoWireServer(Component):
    """`mongod` when one is on PATH, otherwise FerretDB v1 with its SQLite backend."""

    name = "mongodb"

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        super().__init__(data_dir, port)
        self.debug_port = free_port()
        self.kind = "mongod" if mongod_binary() else "ferretdb"

    @property
    def url(self) -> str:
        return f"mongodb://{HOST}:{self.port}/"

    def command(self) -> list[str]:
        storage = self.data_dir / "db"
        storage.mkdir(parents=True, exist_ok=True)
        mongod = mongod_binary()
        if mongod:
            return [mongod, "--dbpath", str(storage), "--bind_ip", HOST, "--port", str(self.port), "--quiet"]
        return [
            str(ferretdb_binary()),
            "--handler=sqlite",
            f"--sqlite-url=file:{storage}/",
            f"--listen-addr={HOST}:{self.port}",
            f"--debug-addr={HOST}:{self.debug_port}",
            "--telemetry=disable",
            "--log-level=warn",
            f"--state-dir={self.data_dir}",
        ]

    def prepare(self) -> None:
        if self.kind == "ferretdb":
            ferretdb_binary()
        if port_in_use(self.debug_port):
            self.debug_port = free_port()

    def is_healthy(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient[dict[str, Any]] = MongoClient(self.url, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()


class SmtpSink(Component):
    """A real SMTP server that keeps every message it receives in a maildir-like folder."""

    name = "smtp"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "alliance_devstack.smtp_sink",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--maildir",
            str(self.maildir),
        ]

    def prepare(self) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)

    def is_healthy(self) -> bool:
        return port_in_use(self.port)
