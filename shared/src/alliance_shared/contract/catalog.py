"""The event catalog: CloudEvents ``type`` → payload model, for every event of the platform."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alliance_shared.contract.base import EventPayload


class UnknownEventType(LookupError):
    pass


class EventCatalog:
    def __init__(self, models: Iterable[type[EventPayload]]) -> None:
        self._models: dict[str, type[EventPayload]] = {}
        for model in models:
            if model.event_type in self._models:
                raise ValueError(f"event type {model.event_type} is declared twice")
            self._models[model.event_type] = model

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._models

    def __iter__(self) -> Any:
        return iter(self._models.values())

    def model_for(self, event_type: str) -> type[EventPayload]:
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def parse(self, event_type: str, data: dict[str, Any]) -> EventPayload:
        """Validate ``data`` against the model of ``event_type`` (pydantic ValidationError on failure)."""
        return self.model_for(event_type).model_validate(data)

    @property
    def types(self) -> list[str]:
        return sorted(self._models)
