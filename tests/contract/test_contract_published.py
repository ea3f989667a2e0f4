"""The checked-in contract in docs/contract matches the payload models, and every
stored sample event of every version still validates against the current models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alliance_shared.contract.base import TYPE_PATTERN
from alliance_shared.contract.export import render
from alliance_shared.contract.platform import PLATFORM_CATALOG

REPO = Path(__file__).resolve().parents[2]
CONTRACT_DIR = REPO / "docs" / "contract"
SAMPLES_DIR = Path(__file__).parent / "samples"


def test_checked_in_contract_matches_the_models() -> None:
    expected = render()
    on_disk = {str(path.relative_to(CONTRACT_DIR)): path.read_text() for path in CONTRACT_DIR.rglob("*.json")}
    stale = sorted(set(on_disk) - set(expected))
    missing = sorted(set(expected) - set(on_disk))
    changed = sorted(name for name in expected if name in on_disk and on_disk[name] != expected[name])
    drift = {"missing": missing, "stale": stale, "changed": changed}
    assert drift == {"missing": [], "stale": [], "changed": []}, "docs/contract drifted: run `make contract`"


def test_every_event_type_follows_the_naming_rule_and_has_a_topic() -> None:
    asyncapi = json.loads(render()["asyncapi.json"])
    published = {m["name"] for m in asyncapi["components"]["messages"].values()}
    assert published == set(PLATFORM_CATALOG.types)
    for event_type in PLATFORM_CATALOG.types:
        assert TYPE_PATTERN.match(event_type), event_type


def _samples() -> list[tuple[str, Path]]:
    return [(path.parent.name, path) for path in sorted(SAMPLES_DIR.glob("*/*.json"))]


def test_every_event_type_has_a_stored_sample() -> None:
    sampled = {event_type for event_type, _ in _samples()}
    assert sampled >= set(PLATFORM_CATALOG.types), sorted(set(PLATFORM_CATALOG.types) - sampled)


@pytest.mark.parametrize(("event_type", "path"), _samples(), ids=lambda v: getattr(v, "name", v))
def test_stored_samples_of_every_version_validate_against_the_current_models(event_type: str, path: Path) -> None:
    sample = json.loads(path.read_text())
    model = PLATFORM_CATALOG.model_for(event_type)
    model.model_validate(sample)
