"""`make bench`: starts its own servers (like the tests) and runs every benchmark.

A benchmark is a module ``bench/<name>_bench.py`` with ``TITLE``, ``async def
run(infra) -> dict`` (the figures, JSON-ready) and ``def table(result) -> Table``. They
are found by name, so adding one needs no change here. ``make bench ARGS="runtime"``
runs only the named ones. Results go to ``bench/results/<name>.json``; ``docs/performance.md``
is rewritten from the latest result of every benchmark.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import bench
from alliance_devstack.provision import provision_infrastructure
from bench.stats import RESULTS_DIR, write_result

SUFFIX = "_bench"
PERFORMANCE_DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
NOTES = Path(__file__).resolve().parent / "notes.md"
#: The first line of bench/notes.md: where the generated sections end.
NOTES_MARKER = "## Before and after"


def benchmarks() -> dict[str, ModuleType]:
    found = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.endswith(SUFFIX))
    return {name.removesuffix(SUFFIX): importlib.import_module(f"bench.{name}") for name in found}


def main() -> None:
    available = benchmarks()
    chosen = sys.argv[1:] or list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as work, provision_infrastructure(Path(work)) as infra:
        print(f"servers: kafka {infra.kafka_admin}, mongodb-wire {infra.mongo_url} ({infra.kind})")
        for name in chosen:
            module = available[name]
            print(f"\n{module.TITLE}", flush=True)
            result = asyncio.run(module.run(infra))
            path = write_result(name, result)
            table = module.table(result)
            print(table.render())
            print(f"  → {path}")
    write_performance_doc(available)


def write_performance_doc(available: dict[str, ModuleType]) -> None:
    """docs/performance.md from the latest result of every benchmark (each with its own date);
    a benchmark without a result here keeps the section the document already has, and
    bench/notes.md (before/after, the capacity model) closes it."""
    kept = previous_sections(PERFORMANCE_DOC.read_text() if PERFORMANCE_DOC.exists() else "")
    sections: list[str] = []
    for name, module in available.items():
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            if module.TITLE in kept:
                sections.append(kept[module.TITLE])
            continue
        result = json.loads(path.read_text())
        host = result.get("machine", {})
        sections.append(
            f"## {module.TITLE}\n\n`make bench ARGS={name}` on {host.get('date', '?')} "
            f"({host.get('cpus', '?')} CPUs, {host.get('platform', '?')}, Python {host.get('python', '?')})\n\n"
            f"{module.table(result).markdown()}\n"
        )
    notes = NOTES.read_text() if NOTES.exists() else ""
    PERFORMANCE_DOC.write_text(
        "# Performance\n\nWritten by `make bench` from the latest `bench/results/*.json`. Every figure "
        "is measured against a baseline taken in the same run on the same machine. The local "
        "MongoDB-wire server is FerretDB v1 on SQLite, which serialises writes: write-heavy figures "
        "are its ceiling, not the services'.\n\n" + "\n".join(sections) + ("\n" + notes if notes else "")
    )
    print(f"\nwrote {PERFORMANCE_DOC}")


def previous_sections(document: str) -> dict[str, str]:
    """The document's benchmark sections by title (up to the notes, which are rewritten)."""
    body = document.split(NOTES_MARKER, 1)[0]
    sections: dict[str, str] = {}
    for chunk in body.split("\n## ")[1:]:
        title = chunk.split("\n", 1)[0].strip()
        sections[title] = "## " + chunk.rstrip("\n") + "\n"
    return sections


if __name__ == "__main__":
    main()
