"""Stores replay samples of every event type (tests/contract/samples/<type>/).

A model's documented examples are stored as they are; a type without examples gets one
valid instance built by polyfactory from the model's own constraints. Run when a NEW
event type or version is added: `uv run python -m tests.contract.write_samples`.
Existing samples are never overwritten — they are the record of what was once valid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from polyfactory.factories.pydantic_factory import ModelFactory
from pydantic import ValidationError

from alliance_shared.contract.base import EventPayload
from alliance_shared.contract.platform import PLATFORM_CATALOG

SAMPLES_DIR = Path(__file__).parent / "samples"


class _AwareTimes(ModelFactory[Any]):
    """Event timestamps are UTC-aware; polyfactory's default datetimes are naive."""

    __is_base_factory__ = True

    @classmethod
    def get_provider_map(cls) -> dict[Any, Callable[[], Any]]:
        providers = super().get_provider_map()
        providers[datetime] = lambda: (
            datetime(2026, 3, 2, 8, 0, tzinfo=UTC) + timedelta(minutes=cls.__random__.randint(0, 200_000))
        )
        return providers


def _build_valid(model: type[EventPayload]) -> EventPayload:
    # Cross-field rules (an end after its start, …) may reject a draw: try other seeds.
    factory = _AwareTimes.create_factory(model)
    for seed in range(200):
        factory.seed_random(seed)
        try:
            return factory.build()
        except ValidationError:
            continue
    raise RuntimeError(f"could not build a valid {model.event_type}; give the model an example")


def main() -> None:
    written = 0
    for model in PLATFORM_CATALOG:
        examples = (model.model_config.get("json_schema_extra") or {}).get("examples") or []  # type: ignore[union-attr]
        for index, example in enumerate(examples):
            path = SAMPLES_DIR / model.event_type / f"example-{index + 1}.json"
            if path.exists():
                continue
            model.model_validate(example)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(example, indent=2, ensure_ascii=False) + "\n")
            written += 1
    for model in PLATFORM_CATALOG:
        folder = SAMPLES_DIR / model.event_type
        if folder.exists():
            continue
        instance = _build_valid(model)
        folder.mkdir(parents=True)
        (folder / "generated-1.json").write_text(
            json.dumps(instance.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
        )
        written += 1
    print(f"wrote {written} samples")


if __name__ == "__main__":
    main()
