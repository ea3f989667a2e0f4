"""The servers of the local stack, each a real process listening on loopback only.

Every component can be installed, started, stopped (SIGTERM, then SIGKILL after a
timeout), killed (SIGKILL, for fault tests) and restarted on the same port with the
same data. A component can also be adopted by pid from a state file, so
`alliance dev status|down` work from another shell.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from alliance_devstack.errors import PortTaken, StackError
from alliance_devstack.install import ferretdb_binary, kafka_libs, mongod_binary, require_java
from alliance_devstack.kafka_security import ADMIN_USER, Credentials, KafkaSecurityAdmin
from alliance_shared.messaging.kafka import KafkaAccess

HOST = "127.0.0.1"
POLL_S = 0.25


def free_port() -> int:
    """A port nothing listens on now (the OS picks it); the caller binds it soon after."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something already holds the port (listening on loopback or on every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so that a port left in TIME_WAIT by our own previous run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even when called inside a running event loop."""
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
    name: ClassVar[str]
    start_timeout_s: ClassVar[float] = 60.0

    def __init__(self, data_dir: Path, port: int = 0, *, detached: bool = False) -> None:
        """`detached` servers outlive this Python process (`alliance dev up`); the others are
        stopped by their guard as soon as it ends, however it ends (see `guard`)."""
        self.data_dir = data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.detached = detached
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    # What each server defines.

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def install(self) -> None:
        """Fetch or build what the server needs, once (cached)."""

    @abstractmethod
    def is_healthy(self) -> bool: ...

    @abstractmethod
    def _command(self) -> list[str]: ...

    @abstractmethod
    def _prepare(self) -> None:
        """Write configuration and initialise storage just before a start."""

    def _ports(self) -> dict[str, int]:
        return {"port": self.port}

    @property
    def log_path(self) -> Path:
        """The server's own log (what `alliance dev logs` shows)."""
        return self.data_dir / f"{self.name}.log"

    @property
    def output_path(self) -> Path:
        """Where the process's stdout and stderr go."""
        return self.log_path

    # The common lifecycle.

    def start(self, timeout_s: float | None = None) -> None:
        if self.running():
            return
        self.install()
        taken = self.taken_ports()
        if taken:
            raise PortTaken(f"{'; '.join(taken)} already in use by another program")
        self._prepare()
        command = self._command()
        inherited: tuple[int, ...] = ()
        if not self.detached:
            lifeline_read, self._lifeline = os.pipe()
            inherited = (lifeline_read,)
            command = [sys.executable, "-m", "alliance_devstack.guard", str(lifeline_read), "--", *command]
        with self.output_path.open("ab") as output:
            output.write(f"\n--- {datetime.now(UTC).isoformat()} starting: {' '.join(command)}\n".encode())
            output.flush()
            try:
                self._process = subprocess.Popen(  # noqa: S603 - commands built from fixed parts
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=self.data_dir,
                    pass_fds=inherited,
                )
            except OSError as exc:
                self._forget()
                raise StackError(f"{self.name}: cannot run {command[0]}: {exc}") from exc
            finally:
                for descriptor in inherited:
                    os.close(descriptor)
        self.pid = self._process.pid
        try:
            self.wait_healthy(timeout_s if timeout_s is not None else self.start_timeout_s)
        except BaseException:
            self.kill()
            raise

    def taken_ports(self) -> list[str]:
        """The ports this server needs that another program holds, described for an error message."""
        return [f"{self.name} {label} 127.0.0.1:{port}" for label, port in self._ports().items() if port_in_use(port)]

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.running():
                code = self._process.returncode if self._process is not None else None
                raise StackError(self.failure(f"{self.name} exited (code {code}) while starting"))
            if self.is_healthy():
                return
            if time.monotonic() >= deadline:
                raise StackError(self.failure(f"{self.name} was not healthy after {timeout_s:.0f}s"))
            time.sleep(POLL_S)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.running():
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.running():
                self._signal(signal.SIGKILL)
        self._forget()

    def kill(self) -> None:
        if self.running():
            self._signal(signal.SIGKILL)
        self._forget()

    def restart(self, timeout_s: float | None = None) -> None:
        self.stop()
        self.start(timeout_s)

    def running(self) -> bool:
        if self.pid is None:
            return False
        if self._process is not None:
            return self._process.poll() is None
        return _is_our_process(self.pid, self.data_dir)

    def adopt(self, pid: int) -> None:
        """Take over a process started by another `alliance` invocation (from the state file)."""
        self.pid = pid
        self._process = None

    def failure(self, headline: str) -> str:
        parts = [headline, f"last lines of {self.log_path}:", log_tail(self.log_path)]
        if self.output_path != self.log_path:
            parts += [f"last lines of {self.output_path}:", log_tail(self.output_path)]
        return "\n".join(parts)

    def _signal(self, sig: signal.Signals) -> None:
        if self.pid is not None:
            # The whole session: a wrapper's children go too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    def _forget(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
        else:
            deadline = time.monotonic() + 10
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.1)
        self._process = None
        self.pid = None
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None


def _is_our_process(pid: int, data_dir: Path) -> bool:
    """Alive, not a zombie, and still ours: every command names its data folder (guards pid reuse)."""
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command_line = (proc / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            return False
        return state != "Z" and str(data_dir) in command_line
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class KafkaBroker(Component):
    """Apache Kafka as one KRaft node (broker + controller) on loopback, with authentication
    and ACLs as in production: clients authenticate with SASL/SCRAM-SHA-512, the
    StandardAuthorizer denies whatever no ACL allows, and the admin principal (a super user
    whose SCRAM credential is written when the storage is formatted) provisions the others
    (``kafka_security``). The controller listener takes SASL/PLAIN from the admin only:
    SCRAM cannot authenticate the controller's own listener."""

    name = "kafka"
    start_timeout_s = 120.0

    def __init__(self, data_dir: Path, port: int = 0, controller_port: int = 0, *, detached: bool = False) -> None:
        super().__init__(data_dir, port, detached=detached)
        self.controller_port = controller_port or free_port()

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def credentials(self) -> Credentials:
        """The stack's Kafka passwords (the file's path is what the run file names)."""
        return Credentials(self.data_dir / "credentials.json")

    @property
    def admin_access(self) -> KafkaAccess:
        """The super user: provisioning, tools and the tests' own clients."""
        return KafkaAccess.scram(self.bootstrap_servers, ADMIN_USER, self.credentials.password(ADMIN_USER))

    def security_admin(self) -> KafkaSecurityAdmin:
        return self.security_of(self.bootstrap_servers, self.credentials.path)

    @staticmethod
    def security_of(bootstrap_servers: str, credentials_file: Path) -> KafkaSecurityAdmin:
        """Provisioning on a running local broker, from its address and its credentials file."""
        credentials = Credentials(credentials_file)
        admin = KafkaAccess.scram(bootstrap_servers, ADMIN_USER, credentials.password(ADMIN_USER))
        return KafkaSecurityAdmin(admin, credentials)

    @property
    def url(self) -> str:
        return self.bootstrap_servers

    @property
    def output_path(self) -> Path:
        return self.data_dir / "kafka.out"

    @property
    def _properties(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def _storage(self) -> Path:
        return self.data_dir / "kraft-data"

    def install(self) -> None:
        require_java()
        kafka_libs()

    def _ports(self) -> dict[str, int]:
        return {"port": self.port, "controller port": self.controller_port}

    def _prepare(self) -> None:
        password = self.credentials.password(ADMIN_USER)
        scram_login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{password}";'
        )
        plain_login = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN_USER}" password="{password}" user_{ADMIN_USER}="{password}";'
        )
        self._properties.touch(mode=0o600)
        self._properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{HOST}:{self.controller_port}",
                    f"listeners=CLIENT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=CLIENT://{HOST}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=CLIENT",
                    "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
                    "sasl.enabled.mechanisms=SCRAM-SHA-512",
                    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
                    f"listener.name.client.scram-sha-512.sasl.jaas.config={scram_login}",
                    "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                    "sasl.mechanism.controller.protocol=PLAIN",
                    f"listener.name.controller.plain.sasl.jaas.config={plain_login}",
                    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                    "allow.everyone.if.no.acl.found=false",
                    f"super.users=User:{ADMIN_USER}",
                    f"log.dirs={self._storage}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "num.partitions=3",
                    # The platform creates its topics itself, with the partitions it needs.
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        if (self._storage / "meta.properties").exists():
            return
        # A 22-character base64url uuid; it may start with "-", hence --cluster-id=.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        try:
            result = subprocess.run(  # noqa: S603
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    "-c",
                    str(self._properties),
                    "--add-scram",
                    f"SCRAM-SHA-512=[name={ADMIN_USER},password={password}]",
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise StackError("formatting Kafka's storage did not finish within 120 s") from exc
        if result.returncode != 0:
            raise StackError(f"formatting Kafka's storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")

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
            f"{kafka_libs()}/*",
        ]

    def _command(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self._properties)]

    def is_healthy(self) -> bool:
        return accepts_connections(self.port) and kafka_answers(self.admin_access)


def kafka_answers(kafka: KafkaAccess) -> bool:
    """Whether the Kafka broker answers metadata requests and lists itself (unfenced)."""
    try:
        return bool(_run_async(_broker_registered(kafka)))
    except Exception:
        return False


async def _broker_registered(kafka: KafkaAccess) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**kafka.options(), request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 5)
        cluster = await asyncio.wait_for(admin.describe_cluster(), 5)
        return bool(cluster.get("brokers"))
    finally:
        await admin.close()


class MongoWireServer(Component):
    """`mongod` when one is on PATH, otherwise FerretDB v1 with its SQLite backend."""

    name = "mongodb"

    def __init__(self, data_dir: Path, port: int = 0, *, detached: bool = False) -> None:
        super().__init__(data_dir, port, detached=detached)
        # FerretDB's debug (metrics) listener is internal: any free port will do, chosen once
        # and kept, so a restart never picks the listen port it has just freed.
        self.debug_port = free_port()
        while self.debug_port == self.port:
            self.debug_port = free_port()

    @property
    def kind(self) -> str:
        return "mongod" if mongod_binary() else "ferretdb"

    @property
    def url(self) -> str:
        return f"mongodb://{HOST}:{self.port}/"

    def install(self) -> None:
        if mongod_binary() is None:
            ferretdb_binary()

    def _prepare(self) -> None:
        (self.data_dir / "db").mkdir(parents=True, exist_ok=True)

    def _ports(self) -> dict[str, int]:
        return {"port": self.port} if mongod_binary() else {"port": self.port, "debug port": self.debug_port}

    def _command(self) -> list[str]:
        storage = self.data_dir / "db"
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

    def is_healthy(self) -> bool:
        from pymongo import MongoClient
        from pymongo.errors import PyMongoError

        client: MongoClient[dict[str, Any]] = MongoClient(
            self.url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, directConnection=True
        )
        try:
            client.admin.command("ping")
            return True
        except PyMongoError:
            return False
        finally:
            client.close()


class SmtpSink(Component):
    """A real SMTP server that files every message it receives (see `smtp_sink`)."""

    name = "smtp"
    start_timeout_s = 30.0

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "mail"

    def install(self) -> None:
        try:
            import aiosmtpd  # noqa: F401
        except ImportError as exc:
            raise StackError(
                "the SMTP sink needs aiosmtpd (a dependency of alliance-devstack: run make setup)"
            ) from exc

    def _prepare(self) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)

    def _command(self) -> list[str]:
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

    def is_healthy(self) -> bool:
        try:
            with smtplib.SMTP(HOST, self.port, timeout=2) as client:
                return client.noop()[0] == 250
        except (OSError, smtplib.SMTPException):
            return False
