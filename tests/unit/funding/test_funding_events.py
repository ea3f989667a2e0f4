from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from alliance_shared.contract import funding
from alliance_shared.contract.base import TYPE_PATTERN, EventPayload
from alliance_shared.contract.catalog import EventCatalog

EXPECTED_TYPES = {
    f"org.coopalliance.funding.{name}.v1"
    for name in [
        "programme.opened",
        "programme.closed",
        "programme.finalised",
        "application.submitted",
        "application.approved",
        "application.rejected",
        "application.returned",
        "application.withdrawn",
        "award.granted",
        "award.terminated",
        "tranche.eligible",
        "tranche.withheld",
        "tranche.requested",
        "tranche.approved",
        "tranche.paid",
        "recovery.ordered",
        "recovery.settled",
        "recovery.due_soon",
        "recovery.overdue",
        "recovery.escalated",
        "recovery.written_off",
        "tranche.remainder_released",
        "surcharge_statement.issued",
    ]
}


def test_every_funding_event_type_is_defined_exactly_once() -> None:
    catalog = EventCatalog(funding.FUNDING_EVENTS)
    assert set(catalog.types) == EXPECTED_TYPES
    for model in funding.FUNDING_EVENTS:
        assert TYPE_PATTERN.match(model.event_type)
        assert model.__doc__
        assert model.aggregate_field in model.model_fields


def examples(model: type[EventPayload]) -> list[dict[str, Any]]:
    extra = model.model_config.get("json_schema_extra") or {}
    assert isinstance(extra, dict)
    found = extra.get("examples") or []
    assert isinstance(found, list)
    return [dict(example) for example in found if isinstance(example, dict)]


@pytest.mark.parametrize("model", [funding.AwardGranted, funding.TrancheApproved])
def test_documented_examples_are_valid_and_keyed_by_award(model: type[EventPayload]) -> None:
    [example] = examples(model)
    event = model.model_validate(example)
    assert event.aggregate_id() == "awd-2026-0007"
    assert model.model_validate_json(event.model_dump_json()) == event


def test_the_award_example_tranches_sum_to_the_award() -> None:
    event = funding.AwardGranted.model_validate(examples(funding.AwardGranted)[0])
    assert sum(t.scheduled_minor for t in event.tranches) == event.amount_minor
    assert sum(t.share_bp for t in event.tranches) == 10_000


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_minor": 1.5},
        {"amount_minor": -1},
        {"currency": "cny"},
        {"occurred_at": "2026-04-01T02:00:00"},
        {"unexpected": 1},
    ],
)
def test_money_is_integer_minor_units_and_times_are_aware(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        funding.AwardGranted.model_validate({**examples(funding.AwardGranted)[0], **changes})
