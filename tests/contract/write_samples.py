"""Stores each event type's documented examples as replay samples (tests/contract/samples).

Run when a NEW event type or version is added: `uv run python -m tests.contract.write_samples`.
Existing samples are never overwritten — they are the record of what was once valid.
"""

from __future__ import annotations

import json
from pathlib import Path

from alliance_shared.contract.platform import PLATFORM_CATALOG

SAMPLES_DIR = Path(__file__).parent / "samples"


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
    missing = [m.event_type for m in PLATFORM_CATALOG if not (SAMPLES_DIR / m.event_type).exists()]
    print(f"wrote {written} samples; types without any: {missing}")


if __name__ == "__main__":
    main()
