"""`make bench`: starts its own servers (like the tests) and runs every benchmark.

A benchmark is a module ``bench/<name>_bench.py`` with ``TITLE``, ``async def
run(infra) -> dict`` (the figures, JSON-ready) and ``def table(result) -> Table``. They
are found by name, so adding one needs no change here. ``make bench ARGS="runtime"``
runs only the named ones. Results go to ``bench/results/<name>.json`` and, all
together, to ``docs/performance.md``.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import bench
from alliance_devstack.provision import provision_infrastructure
from bench.stats import machine, write_result

SUFFIX = "_bench"
PERFORMANCE_DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def benchmarks() -> dict[str, ModuleType]:
    found = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.endswith(SUFFIX))
    return {name.removesuffix(SUFFIX): importlib.import_module(f"bench.{name}") for name in found}


def main() -> None:
    available = benchmarks()
    chosen = sys.argv[1:] or list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}")
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as work, provision_infrastructure(Path(work)) as infra:
        print(f"servers: kafka {infra.kafka_bootstrap}, mongodb-wire {infra.mongo_url} ({infra.kind})")
        for name in chosen:
            module = available[name]
            print(f"\n{module.TITLE}", flush=True)
            result = asyncio.run(module.run(infra))
            path = write_result(name, result)
            table = module.table(result)
            print(table.render())
            print(f"  → {path}")
            sections.append(f"## {module.TITLE}\n\n{table.markdown()}\n")
    if not sys.argv[1:]:
        host = machine()
        PERFORMANCE_DOC.write_text(
            "# Performance\n\nWritten by `make bench` on "
            f"{host['date']} ({host['platform']}, {host['cpus']} CPUs, Python {host['python']}). "
            "Every figure is measured against a baseline taken in the same run on the same machine; "
            "raw figures are in `bench/results/*.json`.\n\n" + "\n".join(sections)
        )
        print(f"\nwrote {PERFORMANCE_DOC}")


if __name__ == "__main__":
    main()
