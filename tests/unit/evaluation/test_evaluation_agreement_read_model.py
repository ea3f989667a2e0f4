"""The agreement read model folds registry events tolerantly and in order."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alliance_evaluation.service.agreements import fold
from alliance_evaluation.service.evidence import reason_code
from alliance_shared.contract.vocabulary import CooperationMode, Depth, ObligationMetric

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TYPE = "org.coopalliance.registry.agreement.{}.v1"
FULL = {
    "agreement_id": "agr-1",
    "version": 2,
    "status": "active",
    "parties": [
        {"partner_id": "col-1", "kind": "college", "role": "trainer", "region_code": "330106"},
        {"partner_id": "ent-1", "kind": "enterprise", "role": "host", "region_code": "330110"},
    ],
    "modes": ["internship_base", "not_a_mode"],
    "declared_depth": "deep",
    "obligations": [
        {"party_id": "ent-1", "metric": "internship_posts", "quantity": 10, "period": "per_year"},
        {"party_id": "ent-1", "metric": "unknown_metric", "quantity": 1, "period": "per_year"},
    ],
    "start_date": "2025-01-01",
    "end_date": "2027-12-31",
    "occurred_at": "2025-01-02T08:00:00Z",
    "some_future_field": {"ignored": True},
}


def test_a_full_event_gives_parties_regions_modes_and_obligations() -> None:
    view = fold(None, TYPE.format("activated"), FULL, NOW)
    assert view.is_active
    assert view.party_ids == ("col-1", "ent-1")
    assert view.college_ids == ("col-1",)
    assert view.enterprise_ids == ("ent-1",)
    assert view.region_codes == ("330106", "330110")
    assert view.modes == (CooperationMode.INTERNSHIP_BASE,)
    assert view.declared_depth is Depth.DEEP
    assert [o.metric for o in view.obligations] == [ObligationMetric.INTERNSHIP_POSTS]
    assert view.active_since == date(2025, 1, 2)
    assert view.snapshot().term_end == date(2027, 12, 31)


def test_a_status_only_event_keeps_the_structure() -> None:
    view = fold(None, TYPE.format("activated"), FULL, NOW)
    suspended = fold(view, TYPE.format("suspended"), {"agreement_id": "agr-1", "reason": "audit"}, NOW)
    assert suspended.status == "suspended"
    assert not suspended.is_active
    assert suspended.party_ids == view.party_ids
    resumed = fold(suspended, TYPE.format("resumed"), {"agreement_id": "agr-1"}, NOW)
    assert resumed.is_active
    assert resumed.active_since == view.active_since


def test_an_older_version_does_not_roll_the_structure_back() -> None:
    view = fold(None, TYPE.format("amended"), FULL, NOW)
    older = {**FULL, "version": 1, "parties": [], "status": "active"}
    after = fold(view, TYPE.format("amended"), older, NOW)
    assert after.party_ids == view.party_ids
    assert after.registry_version == 2


def test_an_older_version_does_not_roll_the_status_back() -> None:
    view = fold(None, TYPE.format("activated"), FULL, NOW)
    older = {**FULL, "version": 1, "status": "signing"}
    after = fold(view, TYPE.format("signed"), older, NOW)
    assert after.status == "active"
    assert after.is_active
    assert after.active_periods == view.active_periods


def test_dead_letter_reasons_become_report_codes() -> None:
    assert reason_code("event.invalid_payload") == "report.invalid"
    assert reason_code("envelope.malformed_json") == "report.malformed_envelope"
    assert reason_code("report.college_not_party") == "report.college_not_party"
    assert reason_code("record.oversized") == "report.oversized"
