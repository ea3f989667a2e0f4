"""What every use case works with: the typed stores, the one clock, the service's settings,
and where late refusals are dead-lettered."""

from __future__ import annotations

from dataclasses import dataclass

from alliance_evaluation.service.ports import DeadLetterSink
from alliance_evaluation.service.repositories import Repositories
from alliance_evaluation.settings import Settings
from alliance_shared.clock import Clock


@dataclass(frozen=True)
class Context:
    repos: Repositories
    clock: Clock
    settings: Settings
    dead_letters: DeadLetterSink
