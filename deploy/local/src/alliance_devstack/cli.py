"""`alliance`: the local development stack and the whole platform.

  alliance dev install             fetch Kafka's jars and build FerretDB once (cached)
  alliance dev up                  start Kafka, the MongoDB-wire server and the SMTP sink, detached
  alliance dev status              each server's health and URL (exit 1 unless all are healthy)
  alliance dev down                stop them
  alliance dev logs [COMPONENT]    the tail of kafka's, mongodb's or smtp's log (-f to follow)
  alliance dev env                 `export` lines for services run by hand
  alliance dev college ID          onboard a college: its Kafka user, topic and ACL; its client settings
  alliance run                     the servers and every service, in the foreground
  alliance demo                    the narrated scenario against `alliance run` (started if none runs)

Ports: --kafka-port/--mongo-port/--smtp-port, else ALLIANCE_KAFKA_PORT (9092),
ALLIANCE_MONGO_PORT (27017), ALLIANCE_SMTP_PORT (1025). Data: var/devstack.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alliance_devstack.components import Component, log_tail
from alliance_devstack.errors import PortTaken, StackError
from alliance_devstack.install import install_all
from alliance_devstack.paths import cache_dir, default_data_dir, repo_root
from alliance_devstack.platform import run
from alliance_devstack.stack import Stack

DEFAULT_PORTS = {
    "kafka": ("ALLIANCE_KAFKA_PORT", 9092),
    "mongo": ("ALLIANCE_MONGO_PORT", 27017),
    "smtp": ("ALLIANCE_SMTP_PORT", 1025),
}
COMPONENTS = ("kafka", "mongodb", "smtp")


def configured_port(component: str, flag: int | None) -> int:
    if flag is not None:
        return flag
    variable, default = DEFAULT_PORTS[component]
    value = os.environ.get(variable, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise StackError(f"{variable}={value!r} is not a port number") from exc


@contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """One `up`/`down` at a time per data folder (two shells, or make targets in parallel)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".cli.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def up(data_dir: Path, kafka_port: int, mongo_port: int, smtp_port: int) -> int:
    with _exclusive(data_dir):
        recorded = Stack.from_state(data_dir)
        if recorded is not None and all(c.running() for c in recorded.components):
            print("the local stack is already running:")
            return status(recorded)
        if recorded is not None and any(c.running() for c in recorded.components):
            # Some server died or was killed: bring back only what is missing, on its ports.
            stack = recorded
        else:
            stack = Stack.create(
                data_dir, kafka_port=kafka_port, mongo_port=mongo_port, smtp_port=smtp_port, detached=True
            )
        try:
            stack.start_components()
        except PortTaken as exc:
            raise StackError(
                f"{exc}.\nIs `make run` (or another checkout's stack) running? Stop it, or pick other ports "
                "with --kafka-port/--mongo-port/--smtp-port or ALLIANCE_KAFKA_PORT/ALLIANCE_MONGO_PORT/"
                "ALLIANCE_SMTP_PORT."
            ) from exc
        stack.save_state()
        print(f"the local stack is up (data in {data_dir}):")
        return status(stack)


def down(data_dir: Path) -> int:
    with _exclusive(data_dir):
        stack = Stack.from_state(data_dir)
        if stack is None:
            print("the local stack is not running")
            return 0
        stack.stop()
        stack.forget_state()
        print("the local stack is stopped (its data stays in place; `make clean` deletes it)")
        return 0


def status(stack: Stack | None) -> int:
    if stack is None:
        print("the local stack is not running (start it with: alliance dev up)")
        return 1
    all_healthy = True
    for component in stack.components:
        healthy = component.running() and component.is_healthy()
        all_healthy = all_healthy and healthy
        state = "healthy" if healthy else ("UNHEALTHY" if component.running() else "STOPPED")
        print(f"  {component.name:<8} {state:<10} {component.url:<28} log {component.log_path}")
    return 0 if all_healthy else 1


def env(stack: Stack | None) -> int:
    if stack is None:
        print("the local stack is not running (start it with: alliance dev up)", file=sys.stderr)
        return 1
    for key, value in stack.env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def college(data_dir: Path, college_id: str, show_password: bool) -> int:
    """Onboard a college on the running local Kafka (`alliance dev up`'s, else `make run`'s)."""
    from alliance_devstack.components import KafkaBroker
    from alliance_devstack.platform import RUN_FILE
    from alliance_shared.contract.topics import college_reports_topic

    stack = Stack.from_state(data_dir)
    if stack is not None and stack.kafka.running():
        security = stack.kafka.security_admin()
    else:
        run_file = repo_root() / "var" / "run" / RUN_FILE
        if not run_file.exists():
            raise StackError("no local Kafka is running (start one with `alliance dev up` or `make run`)")
        facts = json.loads(run_file.read_text())
        security = KafkaBroker.security_of(facts["kafka_bootstrap"], Path(facts["kafka_credentials"]))
    try:
        access = security.onboard_college(college_id)
    except ValueError as exc:
        raise StackError(str(exc)) from exc
    password = access.password if show_password else f"(in {security.credentials.path}; --show-password prints it)"
    print(f"college {college_id} may write {college_reports_topic(college_id)} and nothing else:")
    print(f"  bootstrap.servers={access.bootstrap_servers}")
    print(f"  security.protocol={access.security_protocol}")
    print(f"  sasl.mechanism={access.sasl_mechanism}")
    print(f"  sasl.username={access.username}")
    print(f"  sasl.password={password}")
    return 0


def logs(data_dir: Path, name: str, lines: int, follow: bool) -> int:
    stack = Stack.from_state(data_dir) or Stack.create(data_dir)
    component: Component = {c.name: c for c in stack.components}[name]
    print(log_tail(component.log_path, lines), flush=True)
    if follow:
        _follow(component.log_path)
    return 0


def _follow(path: Path) -> None:
    position = path.stat().st_size if path.exists() else 0
    try:
        while True:
            if path.exists():
                with path.open("rb") as log:
                    if path.stat().st_size < position:  # truncated or replaced: start over
                        position = 0
                    log.seek(position)
                    chunk = log.read()
                    position += len(chunk)
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                    sys.stdout.flush()
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alliance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="the local servers (Kafka, MongoDB-wire server, SMTP sink)")
    dev.add_argument("--data-dir", type=Path, default=default_data_dir(), help="default: var/devstack")
    actions = dev.add_subparsers(dest="action", required=True)
    actions.add_parser("install", help="fetch and build what the servers need, once")
    start = actions.add_parser("up", help="start the servers, detached")
    start.add_argument("--kafka-port", type=int)
    start.add_argument("--mongo-port", type=int)
    start.add_argument("--smtp-port", type=int)
    actions.add_parser("down", help="stop the servers")
    actions.add_parser("status", help="each server's health and URL")
    actions.add_parser("env", help="export lines for the services")
    onboard = actions.add_parser("college", help="onboard a college: Kafka user, reports topic, ACL")
    onboard.add_argument("college_id", help="the college's partner id, e.g. col-1a2b3c4d5e6f")
    onboard.add_argument("--show-password", action="store_true", help="print the college's password")
    tail = actions.add_parser("logs", help="the tail of a server's log")
    tail.add_argument("component", nargs="?", choices=COMPONENTS, default="kafka")
    tail.add_argument("-n", "--lines", type=int, default=60)
    tail.add_argument("-f", "--follow", action="store_true")
    platform = sub.add_parser("run", help="the servers and every service, until Ctrl-C")
    platform.add_argument("--data-dir", type=Path, default=repo_root() / "var" / "run")
    demo = sub.add_parser("demo", help="the narrated scenario against a running platform (or one it starts)")
    demo.add_argument("--data-dir", type=Path, default=repo_root() / "var" / "run")
    return parser


def dispatch(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data_dir: Path = args.data_dir.resolve()
    if args.command == "run":
        return run(data_dir)
    if args.command == "demo":
        from alliance_devstack.demo.runner import run_demo  # the demo's imports only when asked

        return run_demo(data_dir)
    if args.action == "install":
        install_all()
        print(f"the local stack is installed (cache: {cache_dir()})")
        return 0
    if args.action == "up":
        return up(
            data_dir,
            configured_port("kafka", args.kafka_port),
            configured_port("mongo", args.mongo_port),
            configured_port("smtp", args.smtp_port),
        )
    if args.action == "down":
        return down(data_dir)
    if args.action == "status":
        return status(Stack.from_state(data_dir))
    if args.action == "env":
        return env(Stack.from_state(data_dir))
    if args.action == "college":
        return college(data_dir, args.college_id, args.show_password)
    return logs(data_dir, args.component, args.lines, args.follow)


def main(argv: list[str] | None = None) -> None:
    try:
        code = dispatch(argv)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
