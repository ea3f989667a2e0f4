"""`python -m alliance_notifications` (what `alliance run` starts) serves and turns ready."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from alliance_devstack.provision import Infrastructure
from tests.conftest import service_env

pytestmark = pytest.mark.infra


async def test_the_service_process_starts_and_turns_ready(
    infra: Infrastructure, dev_keys_dir: Path, subprocess_env: dict[str, str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **subprocess_env,
        **service_env(
            infra, "NOTIFICATIONS_", f"notifications_proc_{uuid.uuid4().hex[:8]}", dev_keys_dir,
            http_port=port, smtp_host=infra.smtp.host, smtp_port=infra.smtp.port,
        ),
    }  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "alliance_notifications"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        ready = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    response = await http.get("/readyz")
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    ready = response.json()
                    break
                await asyncio.sleep(0.3)
        assert ready is not None, process.stderr.read().decode()[-2000:] if process.poll() is not None else "not ready"
        assert ready["status"] == "ready"
        assert ready["checks"] == {"mongodb": "ok", "kafka": "ok"}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
