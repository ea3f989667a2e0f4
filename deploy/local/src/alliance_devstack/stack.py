"""The whole local stack: Kafka, the MongoDB-wire server and the SMTP sink together."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from alliance_devstack.components import Component, KafkaBroker, MongoWireServer, SmtpSink

SERVICE_PREFIXES = ("REGISTRY_", "FUNDING_", "EVALUATION_", "NOTIFICATIONS_")


@dataclass
class Stack:
    data_dir: Path
    kafka: KafkaBroker
    mongo: MongoWireServer
    smtp: SmtpSink

    @classmethod
    def create(cls, data_dir: Path, *, kafka_port: int = 0, mongo_port: int = 0, smtp_port: int = 0) -> Stack:
        return cls(
            data_dir,
            KafkaBroker(data_dir / "kafka", kafka_port),
            MongoWireServer(data_dir / "mongodb", mongo_port),
            SmtpSink(data_dir / "smtp", smtp_port),
        )

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.kafka, self.mongo, self.smtp)

    def start(self) -> Stack:
        # Kafka's JVM and the database start in parallel: it halves the wait.
        with ThreadPoolExecutor(max_workers=3) as pool:
            for future in [pool.submit(c.start) for c in self.components]:
                future.result()
        return self

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """What the services need to use this stack, for every service prefix."""
        env: dict[str, str] = {}
        for prefix in SERVICE_PREFIXES:
            env[f"{prefix}KAFKA_BOOTSTRAP_SERVERS"] = self.kafka.bootstrap_servers
            env[f"{prefix}MONGO_URL"] = self.mongo.url
        env["NOTIFICATIONS_SMTP_HOST"] = "127.0.0.1"
        env["NOTIFICATIONS_SMTP_PORT"] = str(self.smtp.port)
        return env

    # State file: lets `alliance dev status|down` work from another shell.
    @property
    def state_file(self) -> Path:
        return self.data_dir / "stack.json"

    def save_state(self) -> None:
        self.state_file.write_text(
            json.dumps(
                {
                    "kafka": {
                        "pid": self.kafka.pid,
                        "port": self.kafka.port,
                        "controller_port": self.kafka.controller_port,
                    },
                    "mongodb": {"pid": self.mongo.pid, "port": self.mongo.port, "kind": self.mongo.kind},
                    "smtp": {"pid": self.smtp.pid, "port": self.smtp.port},
                },
                indent=2,
            )
        )

    @classmethod
    def from_state(cls, data_dir: Path) -> Stack | None:
        path = data_dir / "stack.json"
        if not path.exists():
            return None
        state = json.loads(path.read_text())
        stack = cls(
            data_dir,
            KafkaBroker(data_dir / "kafka", state["kafka"]["port"], state["kafka"]["controller_port"]),
            MongoWireServer(data_dir / "mongodb", state["mongodb"]["port"]),
            SmtpSink(data_dir / "smtp", state["smtp"]["port"]),
        )
        for component, key in ((stack.kafka, "kafka"), (stack.mongo, "mongodb"), (stack.smtp, "smtp")):
            component.pid = state[key]["pid"]
        return stack
