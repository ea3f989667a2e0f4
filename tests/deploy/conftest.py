"""Fixtures of the deploy tests: kustomize builds of every overlay, the compose file."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import cast

import pytest
import yaml

from tests.deploy.manifests import DEPLOY_DIR, K8S_DIR, OVERLAYS, Manifest, load_yaml_stream
from tests.deploy.tooling import ToolUnavailableError, kustomize_binary, kustomize_build

Built = dict[str, list[Manifest]]


@pytest.fixture(scope="session")
def built_overlays() -> Built:
    """Every overlay rendered once by the pinned kustomize (built on first use, then cached)."""
    try:
        kustomize_binary()
    except ToolUnavailableError as error:
        pytest.fail(f"kustomize is required for the deploy tests: {error}", pytrace=False)
    return {overlay: load_yaml_stream(kustomize_build(K8S_DIR / "overlays" / overlay)) for overlay in OVERLAYS}


@pytest.fixture
def fresh_copy(built_overlays: Built) -> Callable[[str], list[Manifest]]:
    """A deep copy of one overlay's objects, for a test to break."""
    return lambda overlay: copy.deepcopy(built_overlays[overlay])


@pytest.fixture(scope="session")
def compose() -> Manifest:
    return cast(Manifest, yaml.safe_load((DEPLOY_DIR / "compose.yaml").read_text()))
