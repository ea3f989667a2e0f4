"""`alliance run`: the local stack plus every service as its own process, until Ctrl-C."""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from alliance_devstack.errors import StackError
from alliance_devstack.paths import default_data_dir, repo_root
from alliance_devstack.services import (
    CONSOLE_OPS_PORT,
    CONSOLE_PORT,
    OPS_PORTS,
    SERVICES,
    Platform,
    ServiceProcess,
    console_process,
    prefix_of,
)
from alliance_devstack.stack import Stack
from alliance_shared.auth.principal import PARTNER_BOUND_ROLES
from alliance_shared.contract.vocabulary import Role

#: Written once every service is ready, removed on stop: how `alliance demo` finds the platform.
RUN_FILE = "platform.json"


def write_run_file(
    data_dir: Path, platform: Platform, stack: Stack, keys_dir: Path, console: ServiceProcess | None = None
) -> None:
    facts = {
        "urls": {name: service.url for name, service in platform.services.items()},
        "keys_dir": str(keys_dir),
        "kafka_bootstrap": stack.kafka.bootstrap_servers,
        # Where the passwords are (owner-only file), never the passwords themselves.
        "kafka_credentials": str(stack.kafka.credentials.path),
        "maildir": str(stack.smtp.maildir),
        # The demo prints console links to it when it attaches to this run.
        "console_url": console.url if console is not None else None,
    }
    (data_dir / RUN_FILE).write_text(json.dumps(facts, indent=2) + "\n")


def ports_from_env() -> dict[str, int]:
    """Each service's port: <SERVICE>_HTTP_PORT if set, else its default."""
    return {name: int(os.environ.get(prefix_of(name) + "HTTP_PORT", port)) for name, port in SERVICES.items()}


def ops_ports_from_env() -> dict[str, int]:
    """Each service's ops port (metrics, API docs): <SERVICE>_OPS_PORT if set, else its default."""
    return {name: int(os.environ.get(prefix_of(name) + "OPS_PORT", port)) for name, port in OPS_PORTS.items()}


def run(data_dir: Path) -> int:
    from alliance_shared.auth.devtokens import ensure_keys

    data_dir.mkdir(parents=True, exist_ok=True)
    lock_file = (data_dir / "run.lock").open("w")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            "The platform is already running from this checkout (another `make run`). "
            "Use that one, or stop it with Ctrl-C first.",
            file=sys.stderr,
        )
        return 1
    keys_dir = repo_root() / "var" / "dev-keys"
    ensure_keys(keys_dir)
    logs = repo_root() / "var" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # Servers already brought up with `alliance dev up` are used as they are, and left running.
    shared_stack = Stack.from_state(default_data_dir())
    if shared_stack is not None and all(c.running() for c in shared_stack.components):
        stack, owns_stack = shared_stack, False
    else:
        stack = Stack.create(
            data_dir / "stack",
            kafka_port=int(os.environ.get("ALLIANCE_KAFKA_PORT", 9092)),
            mongo_port=int(os.environ.get("ALLIANCE_MONGO_PORT", 27017)),
            smtp_port=int(os.environ.get("ALLIANCE_SMTP_PORT", 1025)),
        )
        owns_stack = True
    platform: Platform | None = None
    console: ServiceProcess | None = None
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print("starting Kafka, the MongoDB-wire server and the SMTP sink …", flush=True)
        stack.start_components()
        env = {**stack.env(), "ALLIANCE_DEV_KEYS_DIR": str(keys_dir)}
        env.update({prefix_of(name) + "JWKS_FILE": str(keys_dir / "jwks.json") for name in SERVICES})
        platform = Platform.create(env, logs, ports=ports_from_env(), ops_ports=ops_ports_from_env())
        print(f"starting {', '.join(platform.services)} …", flush=True)
        platform.start()
        urls = {name: service.url for name, service in platform.services.items()}
        console = console_process(
            urls,
            logs,
            keys_dir,
            int(os.environ.get("CONSOLE_PORT", CONSOLE_PORT)),
            int(os.environ.get("CONSOLE_OPS_PORT", CONSOLE_OPS_PORT)),
        )
        if console is not None:
            console.start()
            console.wait_ready()
        write_run_file(data_dir, platform, stack, keys_dir, console)
        print_banner(stack, platform, logs, console)
        while not stopping:
            for service in platform.exited():
                print(f"{service.name} exited; see {service.log}", file=sys.stderr)
                stopping = True
            time.sleep(0.5)
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping …", flush=True)
        (data_dir / RUN_FILE).unlink(missing_ok=True)
        if console is not None:
            console.stop()
        if platform is not None:
            platform.stop()
        if owns_stack:
            stack.stop()
        print("stopped.")


def print_banner(stack: Stack, platform: Platform, logs: Path, console: ServiceProcess | None = None) -> None:
    print("\nCooperation Alliance Platform is running (Ctrl-C stops everything)\n")
    if console is not None:
        print(f"  console        {console.url}   sign in at {console.url}/auth/dev (development sign-in)\n")
    for name, service in platform.services.items():
        print(f"  {name:<14} {service.url}   API docs {service.ops_url}/docs (ops port: also /metrics)")
    missing = sorted(set(SERVICES) - set(platform.services))
    if missing:
        print(f"  (not built yet: {', '.join(missing)})")
    print(f"\n  Kafka          {stack.kafka.bootstrap_servers} (SASL/SCRAM-SHA-512, one principal per service)")
    print("                 a college's user, topic and ACL: .tools/bin/uv run --frozen alliance dev college <id>")
    print(f"  MongoDB-wire   {stack.mongo.url} ({stack.mongo.kind})")
    print(f"  SMTP sink      127.0.0.1:{stack.smtp.port} → mail filed in {stack.smtp.maildir}")
    print(f"  logs           {logs}/<service>.log, {stack.data_dir}/<server>/")
    mint = f"(cd {shlex.quote(str(repo_root()))} && .tools/bin/uv run --frozen alliance-token mint"
    print(f"\n  a token:       {mint} --role funding_officer --sub officer-zhang)")
    print(f"  a second person (maker-checker): {mint} --role funding_approver --sub approver-li)")
    bound = "/".join(role.value for role in Role if role in PARTNER_BOUND_ROLES)
    print(f"                 roles: {' '.join(role.value for role in Role if role not in PARTNER_BOUND_ROLES)}")
    print(f"                        {bound} need --partner <partner id>")
