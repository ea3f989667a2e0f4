"""`alliance-token` as a person runs it from the `make run` banner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from alliance_shared.auth.devtokens import ensure_keys


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_DEV_KEYS_DIR"}
    command = [sys.executable, "-m", "alliance_shared.auth.devtokens", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_mint_signs_with_the_checkouts_key_and_names_the_person(tmp_path: Path) -> None:
    ensure_keys(tmp_path / "var" / "dev-keys")
    done = run_cli("mint", "--role", "funding_approver", "--sub", "approver-li", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    claims = jwt.decode(done.stdout.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["roles"]) == ("approver-li", ["funding_approver"])


def test_mint_without_the_key_refuses_instead_of_making_a_new_one(tmp_path: Path) -> None:
    done = run_cli("mint", "--role", "auditor", cwd=tmp_path)
    assert done.returncode == 2
    assert "no dev signing key" in done.stderr
    assert not (tmp_path / "var").exists()
