"""`alliance`: the local development stack and the whole platform.

alliance dev install            fetch Kafka's jars and build FerretDB once (cached)
alliance dev up|down|status     the servers alone, detached, in var/devstack
alliance dev logs COMPONENT     the tail of kafka, mongodb or smtp's log
alliance dev env                export lines for services run by hand
alliance run                    servers + every service, in the foreground
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from alliance_devstack.components import log_tail
from alliance_devstack.errors import StackError
from alliance_devstack.install import install_all
from alliance_devstack.paths import default_data_dir, repo_root
from alliance_devstack.platform import run
from alliance_devstack.stack import Stack


def _ports() -> dict[str, int]:
    return {
        "kafka_port": int(os.environ.get("ALLIANCE_KAFKA_PORT", 9092)),
        "mongo_port": int(os.environ.get("ALLIANCE_MONGO_PORT", 27017)),
        "smtp_port": int(os.environ.get("ALLIANCE_SMTP_PORT", 1025)),
    }


def dev(command: str, data_dir: Path, component: str | None) -> int:
    if command == "install":
        install_all()
        print("local stack installed (cache: ~/.cache/coop-alliance)")
        return 0
    running = Stack.from_state(data_dir)
    if command == "up":
        if running and all(c.running() for c in running.components):
            print("the local stack is already running:")
            return dev("status", data_dir, None)
        stack = Stack.create(data_dir, **_ports()).start()
        stack.save_state()
        print("local stack up")
        return dev("status", data_dir, None)
    if running is None:
        print("the local stack is not running (alliance dev up)")
        return 0 if command in ("down", "status") else 1
    if command == "down":
        running.stop()
        running.state_file.unlink(missing_ok=True)
        print("local stack stopped")
    elif command == "status":
        for c in running.components:
            state = "healthy" if c.running() and c.is_healthy() else ("running" if c.running() else "stopped")
            print(f"  {c.name:<8} {state:<8} 127.0.0.1:{c.port}   log {c.log_path}")
    elif command == "env":
        for key, value in running.env().items():
            print(f"export {key}={value}")
    elif command == "logs":
        target = {c.name: c for c in running.components}.get(component or "kafka")
        if target is None:
            print("components: kafka, mongodb, smtp")
            return 1
        print(log_tail(target.log_path, 60))
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="alliance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dev_parser = sub.add_parser("dev", help="the local stack")
    dev_parser.add_argument("action", choices=["install", "up", "down", "status", "logs", "env"])
    dev_parser.add_argument("component", nargs="?")
    dev_parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    run_parser = sub.add_parser("run", help="the stack and every service, until Ctrl-C")
    run_parser.add_argument("--data-dir", type=Path, default=repo_root() / "var" / "run")
    args = parser.parse_args()
    try:
        code = dev(args.action, args.data_dir, args.component) if args.command == "dev" else run(args.data_dir)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
