"""`alliance demo`: tell the story against the running `make run`, or start one for it."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from alliance_devstack.components import KafkaBroker
from alliance_devstack.demo.access import PlatformAccess
from alliance_devstack.demo.console_links import console_url, narrate_links
from alliance_devstack.demo.story import Facts, Story
from alliance_devstack.errors import StackError
from alliance_devstack.platform import RUN_FILE
from alliance_devstack.services import ServiceProcess

#: The first start installs Kafka's jars and builds FerretDB: allow for it.
START_TIMEOUT_S = 900.0


def access_from(run_file: Path) -> PlatformAccess | None:
    """The running platform described by `make run`'s run file, if every service answers."""
    if not run_file.exists():
        return None
    facts = json.loads(run_file.read_text())
    for name, url in facts["urls"].items():
        port = int(url.rsplit(":", 1)[1])
        if not ServiceProcess(name, port, {}, Path("/dev/null")).ready():
            return None
    security = KafkaBroker.security_of(facts["kafka_bootstrap"], Path(facts["kafka_credentials"]))
    return PlatformAccess(
        urls=facts["urls"],
        keys_dir=Path(facts["keys_dir"]),
        kafka=security.access,
        kafka_security=security,
        maildir=Path(facts["maildir"]),
    )


def start_platform(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    print(f"no running platform found; starting one (`alliance run`, output in {log}) …", flush=True)
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "alliance_devstack.cli", "run", "--data-dir", str(data_dir)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def summary(facts: Facts) -> str:
    paid = facts.budget_execution.get("paid_minor", 0)
    return (
        f"\nThe story in numbers: {len(facts.partners)} organisations, {len(facts.agreements)} agreements, "
        f"{len(facts.awards)} awards, ¥{paid / 100:,.2f} paid, ledger consistent: {facts.ledger.get('consistent')}, "
        f"{len(facts.mail_subjects)} e-mails, {len(facts.webhook_types)} webhooks."
    )


async def tell_with_links(access: PlatformAccess, console: str | None) -> Facts:
    def say(line: str) -> None:
        print(line, flush=True)

    story = Story(access, say)
    if console is not None:
        story.interlude = narrate_links(console, lambda: story.facts, say)
    try:
        return await story.tell()
    finally:
        await access.close()


def run_demo(data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    run_file = data_dir / RUN_FILE
    access = access_from(run_file)
    started: subprocess.Popen[bytes] | None = None
    try:
        if access is None:
            started = start_platform(data_dir, data_dir / "demo-platform.log")
            deadline = time.monotonic() + START_TIMEOUT_S
            while (access := access_from(run_file)) is None:
                if started.poll() is not None:
                    raise StackError(
                        f"`alliance run` exited with {started.returncode}; see {data_dir / 'demo-platform.log'}"
                    )
                if time.monotonic() > deadline:
                    raise StackError(f"the platform was not ready after {START_TIMEOUT_S:.0f}s")
                time.sleep(1.0)
        console = console_url(run_file)
        print("The Cooperation Alliance Platform at work", flush=True)
        print(f"(console links: {console}, sign in as the role shown)\n" if console else "(no console running)\n")
        facts = asyncio.run(tell_with_links(access, console))
        print(summary(facts))
        return 0
    finally:
        if started is not None and started.poll() is None:
            print("stopping the platform the demo started …", flush=True)
            started.send_signal(signal.SIGINT)
            try:
                started.wait(timeout=60)
            except subprocess.TimeoutExpired:
                started.kill()
