"""`make demo` prints, after each step, the console pages that show its result: every link
must be a console page (not a 404), and the console is found only where it really runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from alliance_console.app import create_app
from alliance_console.settings import ConsoleSettings
from alliance_devstack.components import free_port
from alliance_devstack.demo.console_links import console_url, links_after
from alliance_devstack.demo.story import Facts, Story

STEPS = [name for name in vars(Story) if not name.startswith("_")]


def told() -> Facts:
    """Facts as the whole story leaves them (the ids only need to look like ids)."""
    return Facts(
        partners={"college-szpu": "P-1", "college-gdlg": "P-2"},
        programme_id="PRG-1",
        awards={"A1": "AW-1", "A2": "AW-2"},
        results={key: {"cycle_id": f"CY-{n}"} for n, key in enumerate(("mid_term/A1", "annual/A2", "rescored/A2"))},
    )


def test_every_step_of_the_story_links_to_console_pages() -> None:
    app = TestClient(create_app(ConsoleSettings(cookie_secure=False, session_secret="s" * 32)))
    linked = {step: links_after(step, told()) for step in STEPS}
    assert {step for step, links in linked.items() if links} >= {
        "alliance", "agreements", "college_integration", "programme_and_applications", "first_tranches",
        "college_reports", "mid_term_evaluation", "annual_evaluation_fails", "rectification_and_appeal",
        "notifications_seen", "final_report",
    }  # fmt: skip
    for step, links in linked.items():
        for _role, path in links:
            # A console page sends a stranger to sign in and back; an unknown path is a 404.
            answer = app.get(path, follow_redirects=False)
            assert answer.status_code == 303, (step, path, answer.status_code)
            assert answer.headers["location"].startswith("/auth/login?next=")


@pytest.fixture
def running_console(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    settings = ConsoleSettings(cookie_secure=False, session_secret="s" * 32, dev_login=True, dev_keys_dir=str(tmp_path))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_console_is_found_where_it_runs_and_nowhere_else(running_console: str, tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"console_url": running_console}))
    assert console_url(run_file) == running_console
    nothing_there = f"http://127.0.0.1:{free_port()}"
    run_file.write_text(json.dumps({"console_url": nothing_there}))
    assert console_url(run_file) is None
