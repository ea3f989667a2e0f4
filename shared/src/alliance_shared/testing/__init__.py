"""Test twins of the runtime's ports: an in-memory versioned store and a settable clock.

They exist for fast use-case tests. Each passes the same contract tests as the real
implementation (tests/integration/shared/test_store_contract.py) and never replaces a
test on the real servers.
"""

from alliance_shared.testing.clock import ManualClock
from alliance_shared.testing.memory_store import InMemoryVersionedStore, matches

__all__ = ["InMemoryVersionedStore", "ManualClock", "matches"]
