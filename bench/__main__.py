"""`make bench`: starts its own servers (like the tests) and runs every benchmark."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alliance_devstack.provision import provision_infrastructure
from bench import runtime_bench
from bench.stats import write_result


def main() -> None:
    only = set(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as work, provision_infrastructure(Path(work)) as infra:
        print(f"servers: kafka {infra.kafka_bootstrap}, mongodb-wire {infra.mongo_url} ({infra.kind})")
        if not only or "runtime" in only:
            result = asyncio.run(runtime_bench.run(infra.kafka_bootstrap, infra.mongo_url))
            path = write_result("runtime", result)
            raw, rt = result["raw_aiokafka"], result["shared_runtime"]
            print("\nruntime: outbox → Kafka → idempotent consumer → MongoDB, vs raw aiokafka")
            print(f"  {'path':<16}{'events':>8}{'events/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
            for name, figures in (("raw aiokafka", raw), ("shared runtime", rt)):
                print(
                    f"  {name:<16}{figures['events']:>8}{figures['events_per_s']:>12.0f}"
                    f"{figures['p50_ms']:>10.1f}{figures['p99_ms']:>10.1f}"
                )
            print(f"  throughput ratio runtime/raw: {result['throughput_ratio_runtime_vs_raw']:.3f}  → {path}")


if __name__ == "__main__":
    main()
