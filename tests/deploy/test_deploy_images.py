"""deploy/docker/Dockerfile: one multi-stage file, a slim non-root runtime target per service and the console."""

from __future__ import annotations

import email.message
import importlib.util
import io
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.manifests import (
    CONSOLE,
    DEPLOY_DIR,
    DEPLOYABLES,
    REPO_ROOT,
    console_facts,
    http_port,
    service_facts,
)
from tests.deploy.policies import image_pinned

DOCKERFILE = DEPLOY_DIR / "docker" / "Dockerfile"
HEALTHCHECK_SCRIPT = DEPLOY_DIR / "docker" / "healthcheck.py"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [arguments for instruction, arguments in self.instructions if instruction == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], dict[str, Stage]]:
    """Global ARG defaults and the stages by name, each with its instructions (continuations joined)."""
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        keyword, arguments = keyword.upper(), " ".join(arguments.split())
        if keyword == "FROM":
            base, _, name = arguments.partition(" AS ")
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), base)
            current = stages[name] = Stage(name=name, base=base)
        elif current is None and keyword == "ARG":
            key, _, default = arguments.partition("=")
            global_args[key] = default
        elif current is not None:
            current.instructions.append((keyword, arguments))
    return global_args, stages


def runtime_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """A stage and the stages it is built FROM, nearest first."""
    chain = [stages[name]]
    while chain[-1].base in stages:
        chain.append(stages[chain[-1].base])
    return chain


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())[1]


def test_every_base_image_is_pinned_python_3_11_slim(stages: dict[str, Stage]) -> None:
    external = {stage.base for stage in stages.values() if stage.base not in stages}
    assert all(image_pinned(image) for image in external), external
    assert len(external) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", external.pop())


def _listen_env(service: str) -> str:
    """What the target sets so the process listens on every interface of the container at its port."""
    if service == CONSOLE:
        prefix = console_facts().env_prefix
        return f"{prefix}HOST=0.0.0.0 {prefix}PORT={http_port(CONSOLE)}"
    return f"{service_facts(service).env_prefix}HTTP_HOST=0.0.0.0"


@pytest.mark.parametrize("service", DEPLOYABLES)
def test_service_target_runs_the_service_as_non_root(stages: dict[str, Stage], service: str) -> None:
    chain = runtime_chain(stages, service)
    instructions = [(keyword, args) for stage in chain for keyword, args in stage.instructions]
    keywords = {keyword for keyword, _ in instructions}
    assert stages[service].args_of("EXPOSE") == [str(http_port(service))]
    assert stages[service].args_of("CMD") == [f'["python", "-m", "alliance_{service}"]']
    environment = " ".join(stages[service].args_of("ENV"))
    assert _listen_env(service) in environment
    # the image HEALTHCHECK finds its port through ALLIANCE_SERVICE
    assert f"ALLIANCE_SERVICE={service}" in environment
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users
    assert re.fullmatch(r"\d+(:\d+)?", users[0]), "the runtime user must be numeric"
    assert users[0].split(":")[0] != "0"
    healthchecks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert healthchecks
    assert "/app/healthcheck.py" in healthchecks[0]
    labels = " ".join(args for keyword, args in instructions if keyword == "LABEL")
    assert "org.opencontainers.image.version=" in labels
    assert "org.opencontainers.image.source=" in labels
    # the runtime carries no package manager runs and no compilers: only the copied venv
    assert "RUN" not in {k for stage in chain[:-1] for k, _ in stage.instructions}
    assert not any("apt-get" in args or "pip install" in args for _, args in instructions)
    assert "COPY" in keywords
    copied = [args for args in stages[service].args_of("COPY") if args.startswith("--from=")]
    assert copied == [f"--from=build-{service} /app/.venv /app/.venv"]


@pytest.mark.parametrize("service", DEPLOYABLES)
def test_build_stage_installs_only_the_service_from_the_lock_file(stages: dict[str, Stage], service: str) -> None:
    runs = " ".join(stages[f"build-{service}"].args_of("RUN"))
    assert f"uv sync --frozen --no-dev --no-editable --package alliance-{service}" in runs


def test_dockerignore_admits_only_what_the_build_copies() -> None:
    rules = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "**", "exclude everything by default"
    admitted = {rule[1:] for rule in rules if rule.startswith("!")}
    assert {
        "pyproject.toml",
        "uv.lock",
        "shared/src/**",
        "services/*/src/**",
        "deploy/docker/healthcheck.py",
    } <= admitted
    assert not any(path.startswith((".venv", "var", "tests", ".git")) for path in admitted)


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alliance_container_healthcheck", HEALTHCHECK_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Response(io.BytesIO):
    def __init__(self, status: int) -> None:
        super().__init__(b"{}")
        self.status = status


class _Opener:
    def __init__(self, outcome: int | OSError) -> None:
        self.outcome = outcome
        self.urls: list[str] = []

    def open(self, url: str, timeout: float) -> _Response:
        self.urls.append(url)
        if isinstance(self.outcome, OSError):
            raise self.outcome
        return _Response(self.outcome)


def test_make_images_builds_every_target(stages: dict[str, Stage]) -> None:
    recipe = (REPO_ROOT / "Makefile").read_text().split("\nimages:", 1)[1].split("\n\n", 1)[0]
    listed = re.search(r"for svc in ([a-z ]+); do", recipe)
    assert listed is not None
    assert listed.group(1).split() == list(DEPLOYABLES)
    assert set(DEPLOYABLES) <= set(stages)


@pytest.mark.parametrize(
    ("outcome", "exit_code"),
    [
        (200, 0),
        (204, 1),
        (urllib.error.HTTPError("http://x", 503, "unavailable", email.message.Message(), io.BytesIO()), 1),
        (urllib.error.URLError("connection refused"), 1),
        (TimeoutError("timed out"), 1),
    ],
)
def test_healthcheck_probes_healthz_on_the_service_port(
    monkeypatch: pytest.MonkeyPatch, outcome: int | OSError, exit_code: int
) -> None:
    healthcheck = _load_healthcheck()
    opener = _Opener(outcome)
    monkeypatch.setenv("ALLIANCE_SERVICE", "funding")
    monkeypatch.setenv("FUNDING_HTTP_PORT", "9123")

    def build_opener(*handlers: Any) -> _Opener:
        # an empty ProxyHandler: a proxy in the environment must not intercept the loopback probe
        assert any(isinstance(h, urllib.request.ProxyHandler) and vars(h).get("proxies") == {} for h in handlers)
        return opener

    monkeypatch.setattr(urllib.request, "build_opener", build_opener)
    assert healthcheck.main() == exit_code
    assert opener.urls == ["http://127.0.0.1:9123/healthz"]


def test_healthcheck_probes_the_console_on_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    healthcheck = _load_healthcheck()
    opener = _Opener(200)
    monkeypatch.setenv("ALLIANCE_SERVICE", "console")
    monkeypatch.delenv("CONSOLE_HTTP_PORT", raising=False)
    monkeypatch.setenv("CONSOLE_PORT", "9124")
    monkeypatch.setattr(urllib.request, "build_opener", lambda *_handlers: opener)
    assert healthcheck.main() == 0
    assert opener.urls == ["http://127.0.0.1:9124/healthz"]
