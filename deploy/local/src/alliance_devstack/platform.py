"""`alliance run`: the local stack plus every service as its own process, until Ctrl-C."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from alliance_devstack.errors import StackError
from alliance_devstack.paths import default_data_dir, repo_root
from alliance_devstack.stack import Stack

SERVICES = {"registry": 8001, "funding": 8002, "evaluation": 8003, "notifications": 8004}


def available_services() -> dict[str, int]:
    """The services whose composition root exists in this checkout."""
    return {name: port for name, port in SERVICES.items() if importlib.util.find_spec(f"alliance_{name}.app")}


def service_env(stack: Stack, keys_dir: Path) -> dict[str, str]:
    env = {**os.environ, **stack.env(), "ALLIANCE_DEV_KEYS_DIR": str(keys_dir)}
    for name, port in SERVICES.items():
        prefix = name.upper() + "_"
        env[prefix + "HTTP_PORT"] = str(int(os.environ.get(prefix + "HTTP_PORT", port)))
        env.setdefault(prefix + "JWKS_FILE", str(keys_dir / "jwks.json"))
    return env


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise StackError(f"{url} exited with {process.returncode} while starting:\n{tail}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise StackError(f"{url} was not ready after {timeout_s:.0f}s; see {log}")


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
    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        print("starting Kafka, the MongoDB-wire server and the SMTP sink …", flush=True)
        stack.start_components()
        env = service_env(stack, keys_dir)
        services = available_services()
        for name in services:
            log_path = logs / f"{name}.log"
            processes[name] = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", f"alliance_{name}"],
                env=env,
                stdout=log_path.open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for name in services:
            wait_ready(f"http://127.0.0.1:{env[name.upper() + '_HTTP_PORT']}", processes[name], logs / f"{name}.log")
        print_banner(stack, services, env, logs)
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {logs / (name + '.log')}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
        return 0
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping …", flush=True)
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if owns_stack:
            stack.stop()
        print("stopped.")


def print_banner(stack: Stack, services: dict[str, int], env: dict[str, str], logs: Path) -> None:
    print("\nCooperation Alliance Platform is running (Ctrl-C stops everything)\n")
    for name in services:
        url = f"http://127.0.0.1:{env[name.upper() + '_HTTP_PORT']}"
        print(f"  {name:<14} {url}   API docs {url}/docs")
    missing = sorted(set(SERVICES) - set(services))
    if missing:
        print(f"  (not built yet: {', '.join(missing)})")
    print(f"\n  Kafka          {stack.kafka.bootstrap_servers}")
    print(f"  MongoDB-wire   {stack.mongo.url} ({stack.mongo.kind})")
    print(f"  SMTP sink      127.0.0.1:{stack.smtp.port} → mail filed in {stack.smtp.maildir}")
    print(f"  logs           {logs}/<service>.log, {stack.data_dir}/<server>/")
    print("\n  a token:       uv run alliance-token mint --role funding_officer")
    print("                 roles: registry_admin funding_officer funding_approver supervisor evaluator")
    print("                        auditor ops; college/enterprise need --partner <partner id>")
