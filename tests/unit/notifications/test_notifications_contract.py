from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alliance_shared.contract import notifications
from alliance_shared.contract.base import TYPE_PATTERN, EventPayload
from alliance_shared.contract.catalog import EventCatalog


def examples(model: type[EventPayload]) -> list[dict[str, Any]]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    found = extra["examples"]
    assert isinstance(found, list)
    return [dict(sample) for sample in found if isinstance(sample, dict)]


def test_the_notifications_events_are_delivered_and_failed() -> None:
    catalog = EventCatalog(notifications.NOTIFICATIONS_EVENTS)

    assert catalog.types == [
        "org.coopalliance.notifications.delivery.delivered.v1",
        "org.coopalliance.notifications.delivery.failed.v1",
    ]
    for model in notifications.NOTIFICATIONS_EVENTS:
        assert TYPE_PATTERN.match(model.event_type)
        assert model.aggregate_field == "delivery_id"
        assert model.__doc__


@pytest.mark.parametrize("model", notifications.NOTIFICATIONS_EVENTS)
def test_documented_examples_validate(model: type[EventPayload]) -> None:
    for sample in examples(model):
        event = model.model_validate(sample)
        assert event.aggregate_id() == sample["delivery_id"]


def test_failures_carry_a_machine_readable_code() -> None:
    sample = examples(notifications.DeliveryFailed)[0]

    with pytest.raises(ValidationError):
        notifications.DeliveryFailed.model_validate({**sample, "final_error_code": "Not A Code"})
    with pytest.raises(ValidationError):
        notifications.DeliveryFailed.model_validate({**sample, "occurred_at": "2026-05-06T09:41:00"})
