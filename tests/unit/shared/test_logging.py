"""Logs are JSON with the context's ids, and an exception's log keeps no local variables."""

from __future__ import annotations

import json

import pytest

from alliance_shared.logging import configure_logging, get_logger


def test_an_exception_is_logged_without_the_frames_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("probe")

    def connect(password: str) -> None:
        secret_token = "eyJ-a-bearer-token"  # noqa: F841 - a local a traceback with locals would show
        raise ConnectionError("refused")

    try:
        connect("hunter2-the-password")
    except ConnectionError:
        get_logger("test").exception("connection failed")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["message"] == "connection failed"
    assert record["service"] == "probe"
    assert record["exception"][0]["exc_type"] == "ConnectionError"
    assert "hunter2-the-password" not in line
    assert "eyJ-a-bearer-token" not in line
