"""The whole local stack: Kafka, the MongoDB-wire server and the SMTP sink together."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from alliance_devstack.components import HOST, Component, KafkaBroker, MongoWireServer, SmtpSink
from alliance_devstack.errors import PortTaken, StackError
from alliance_devstack.kafka_security import service_principal
from alliance_devstack.services import SERVICES, prefix_of, servers_env
from alliance_shared.messaging.kafka import KafkaAccess

SERVICE_PREFIXES = tuple(prefix_of(name) for name in SERVICES)
STATE_FILE = "stack.json"


@dataclass
class Stack:
    data_dir: Path
    kafka: KafkaBroker
    mongo: MongoWireServer
    smtp: SmtpSink

    @classmethod
    def create(
        cls,
        data_dir: Path,
        *,
        kafka_port: int = 0,
        mongo_port: int = 0,
        smtp_port: int = 0,
        detached: bool = False,
    ) -> Stack:
        """The stack's components, not started yet; a port of 0 means any free port.

        Servers of a `detached` stack outlive this process (`alliance dev up`); otherwise
        they stop when it ends, even if it is killed.
        """
        data_dir = data_dir.resolve()
        return cls(
            data_dir,
            KafkaBroker(data_dir / "kafka", kafka_port, detached=detached),
            MongoWireServer(data_dir / "mongodb", mongo_port, detached=detached),
            SmtpSink(data_dir / "smtp", smtp_port, detached=detached),
        )

    @classmethod
    def start(cls, data_dir: Path, *, kafka_port: int = 0, mongo_port: int = 0, smtp_port: int = 0) -> Stack:
        """A started stack (installing what is missing); a port of 0 means any free port."""
        stack = cls.create(data_dir, kafka_port=kafka_port, mongo_port=mongo_port, smtp_port=smtp_port)
        return stack.start_components()

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.kafka, self.mongo, self.smtp)

    def install(self) -> None:
        for component in self.components:
            component.install()

    def start_components(self) -> Stack:
        """Start whatever is not running yet; on any failure stop what this call started."""
        # Installs first and one at a time, so their progress messages do not interleave.
        self.install()
        not_running = [c for c in self.components if not c.running()]
        taken = [port for c in not_running for port in c.taken_ports()]
        if taken:
            raise PortTaken(f"{'; '.join(taken)} already in use by another program")
        # Kafka's JVM and the database start in parallel: it roughly halves the wait.
        with ThreadPoolExecutor(max_workers=len(self.components)) as pool:
            futures = [(c, pool.submit(c.start)) for c in not_running]
            failures = [(c, f.exception()) for c, f in futures if f.exception() is not None]
        if failures:
            for component in not_running:
                component.stop()
            first = failures[0][1]
            if len(failures) == 1 and isinstance(first, StackError):
                raise first
            details = "\n\n".join(str(e) for _, e in failures)
            raise StackError(f"the local stack did not start:\n{details}") from first
        # The services' principals and ACLs (idempotent: a restarted stack keeps them).
        try:
            self.kafka.security_admin().provision_services()
        except BaseException:
            for component in not_running:
                component.stop()
            raise
        return self

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()

    def __enter__(self) -> Stack:
        return self.start_components()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def kafka_services(self) -> dict[str, KafkaAccess]:
        """Each service's own Kafka principal."""
        admin = self.kafka.security_admin()
        return {name: admin.principal(service_principal(name)) for name in SERVICES}

    def env(self) -> dict[str, str]:
        """The environment variables the four services need to use this stack."""
        return servers_env(self.kafka_services, self.mongo.url, HOST, self.smtp.port)

    # The state file lets `alliance dev status|down|env` work from another shell.

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    def save_state(self) -> None:
        state: dict[str, Any] = {
            "kafka": {
                "pid": self.kafka.pid,
                "port": self.kafka.port,
                "controller_port": self.kafka.controller_port,
                "url": self.kafka.url,
            },
            "mongodb": {"pid": self.mongo.pid, "port": self.mongo.port, "kind": self.mongo.kind, "url": self.mongo.url},
            "smtp": {"pid": self.smtp.pid, "port": self.smtp.port, "url": self.smtp.url},
        }
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(partial, self.state_file)

    def forget_state(self) -> None:
        self.state_file.unlink(missing_ok=True)

    @classmethod
    def from_state(cls, data_dir: Path) -> Stack | None:
        """The stack recorded in `data_dir`, its live processes adopted; None if there is no record."""
        data_dir = data_dir.resolve()
        path = data_dir / STATE_FILE
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
            # Only detached stacks are recorded, and what they restart stays detached.
            stack = cls(
                data_dir,
                KafkaBroker(
                    data_dir / "kafka", state["kafka"]["port"], state["kafka"]["controller_port"], detached=True
                ),
                MongoWireServer(data_dir / "mongodb", state["mongodb"]["port"], detached=True),
                SmtpSink(data_dir / "smtp", state["smtp"]["port"], detached=True),
            )
            for component in stack.components:
                pid = state[component.name]["pid"]
                if pid is not None:
                    component.adopt(int(pid))
        except (ValueError, KeyError, TypeError) as exc:
            raise StackError(f"{path} is unreadable ({exc}); stop the servers by hand and delete it") from exc
        return stack
