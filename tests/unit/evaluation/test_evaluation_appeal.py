from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_evaluation.domain.appeal import Appeal, AppealPolicy, AppealStatus
from alliance_evaluation.domain.panel import Panel, PanelMember, PanelRole
from alliance_evaluation.domain.result import EvaluationResult, ResultStatus, evaluate_agreement
from alliance_evaluation.domain.working_days import WEEKDAYS_ONLY, OfficialCalendar
from alliance_evaluation.settings import Settings
from alliance_shared.contract.college import CollegeReport
from alliance_shared.contract.evaluation import AppealDecided, AppealDecision, AppealLodged, ResultSuperseded
from alliance_shared.errors import DomainError, InvalidTransition

from .evaluation_support import (
    AGREEMENT_ID,
    COLLEGE_ID,
    WINDOW,
    agreement,
    placed,
    published_default,
    scoring_cycle,
    survey,
)

# Friday 5 December 2025, 10:00 in Beijing.
RECORDED = datetime(2025, 12, 5, 2, 0, tzinfo=UTC)
POLICY = AppealPolicy()


def holidays(*days: date) -> OfficialCalendar:
    return OfficialCalendar(holidays=frozenset(days))


CN_2026 = Settings(official_calendars=("cn-mainland-2026",)).official_calendar()


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = date(2025, 12, 5)
    assert WEEKDAYS_ONLY.add_working_days(friday, 1) == date(2025, 12, 8)
    assert WEEKDAYS_ONLY.add_working_days(friday, 10) == date(2025, 12, 19)
    assert holidays(date(2025, 12, 8), date(2025, 12, 9)).add_working_days(friday, 10) == date(2025, 12, 23)
    assert WEEKDAYS_ONLY.add_working_days(friday, 0) == friday


def test_make_up_working_days_count_and_a_day_cannot_be_both() -> None:
    saturday = date(2026, 2, 28)
    assert not WEEKDAYS_ONLY.is_working_day(saturday)
    assert OfficialCalendar(make_up_working_days=frozenset({saturday})).is_working_day(saturday)
    with pytest.raises(ValueError, match="both a holiday and a make-up working day"):
        OfficialCalendar(holidays=frozenset({saturday}), make_up_working_days=frozenset({saturday}))


def test_the_shipped_2026_calendar_follows_the_state_council_notice() -> None:
    # 33 days off in seven holidays; six weekend days worked in exchange.
    assert len(CN_2026.holidays) == 33
    assert sorted(CN_2026.make_up_working_days) == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)
    ]  # fmt: skip
    assert all(d.weekday() >= 5 for d in CN_2026.make_up_working_days)
    # Spring Festival: Saturday 14 February worked, 15–23 February off.
    assert CN_2026.is_working_day(date(2026, 2, 14))
    assert not any(CN_2026.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    # From Friday 18 September: Sunday 20 is worked, 25–27 September and 1–7 October are off,
    # so the 10th working day is Friday 9 October (Friday 2 October on weekdays alone).
    assert CN_2026.add_working_days(date(2026, 9, 18), 10) == date(2026, 10, 9)
    assert WEEKDAYS_ONLY.add_working_days(date(2026, 9, 18), 10) == date(2026, 10, 2)


def test_extra_days_and_calendar_files_from_the_settings_join_the_shipped_calendar(tmp_path: Path) -> None:
    next_year = tmp_path / "cn-mainland-2027.json"
    next_year.write_text('{"holidays": ["2027-01-01"], "make_up_working_days": ["2027-01-02"]}', encoding="utf-8")
    calendar = Settings(
        calendar_files=(next_year,),
        appeal_holidays=frozenset({date(2026, 3, 2)}),
        make_up_working_days=frozenset({date(2026, 3, 7)}),
    ).official_calendar()
    assert CN_2026.holidays | {date(2026, 3, 2), date(2027, 1, 1)} == calendar.holidays
    assert {date(2026, 3, 7), date(2027, 1, 2)} <= calendar.make_up_working_days
    assert Settings(official_calendars=()).official_calendar() == WEEKDAYS_ONLY


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(1, 40),
    st.sampled_from([WEEKDAYS_ONLY, CN_2026]),
)
def test_adding_working_days_lands_on_a_working_day_after_exactly_that_many(
    start: date, days: int, calendar: OfficialCalendar
) -> None:
    end = calendar.add_working_days(start, days)
    assert calendar.is_working_day(end)
    between = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(calendar.is_working_day(d) for d in between) == days


def test_the_appeal_window_ends_after_the_tenth_working_day_on_the_alliance_calendar() -> None:
    # The 10th working day after Friday 5 December is Friday 19 December; the window
    # closes at midnight Beijing time, 16:00 UTC.
    assert POLICY.deadline(RECORDED) == datetime(2025, 12, 19, 16, 0, tzinfo=UTC)
    with_holidays = AppealPolicy(calendar=holidays(date(2025, 12, 15)))
    assert with_holidays.deadline(RECORDED) == datetime(2025, 12, 22, 16, 0, tzinfo=UTC)
    # Late on Friday UTC is already Saturday in Beijing: the count starts there.
    late_friday = datetime(2025, 12, 5, 17, 0, tzinfo=UTC)
    assert POLICY.deadline(late_friday) == datetime(2025, 12, 19, 16, 0, tzinfo=UTC)


def panel_with(evaluator: str) -> Panel:
    panel = Panel(panel_id="p", cycle_id="cyc-1", agreement_id=AGREEMENT_ID, party_ids=("col-1", "ent-1"))
    panel.add_member(PanelMember(evaluator_id=evaluator, role=PanelRole.SUPERVISOR))
    return panel


def result(
    reports: list[CollegeReport], *, result_id: str = "res-1", supersedes: EvaluationResult | None = None
) -> EvaluationResult:
    framework = published_default()
    return evaluate_agreement(
        result_id=result_id,
        cycle=scoring_cycle(framework, RECORDED),
        framework=framework,
        agreement=agreement(),
        reports=reports,
        manual=[],
        panel=panel_with("sup-on-panel"),
        previous=None,
        evaluated_on=WINDOW.end,
        now=RECORDED,
        actor_id="sup-on-panel",
        supersedes=supersedes,
    )


def lodge(of: EvaluationResult, at: datetime, party: str = COLLEGE_ID, policy: AppealPolicy = POLICY) -> Appeal:
    return Appeal.lodge(
        appeal_id="ap-1",
        result=of,
        appellant_party_id=party,
        grounds="placements were not counted",
        now=at,
        actor_id="college-user",
        policy=policy,
    )


def test_an_appeal_is_accepted_up_to_the_end_of_the_window_and_refused_after() -> None:
    first = result([survey("student", 3, 300)])
    appeal = lodge(first, datetime(2025, 12, 19, 15, 59, tzinfo=UTC))
    assert isinstance(appeal.events[0], AppealLodged)
    with pytest.raises(DomainError) as late:
        lodge(first, datetime(2025, 12, 19, 16, 0, tzinfo=UTC))
    assert late.value.code == "appeal.window_closed"
    with pytest.raises(DomainError) as holiday_shifted:
        lodge(first, datetime(2025, 12, 22, 12, 0, tzinfo=UTC))
    assert holiday_shifted.value.code == "appeal.window_closed"
    lodge(first, datetime(2025, 12, 22, 12, 0, tzinfo=UTC), policy=AppealPolicy(calendar=holidays(date(2025, 12, 15))))


def test_only_parties_appeal() -> None:
    with pytest.raises(DomainError) as raised:
        lodge(result([]), RECORDED + timedelta(hours=1), party="stranger")
    assert raised.value.code == "appeal.not_a_party"


def test_a_panel_member_cannot_decide_the_appeal() -> None:
    first = result([survey("student", 3, 300)])
    appeal = lodge(first, RECORDED + timedelta(days=1))
    with pytest.raises(DomainError) as raised:
        appeal.decide(AppealDecision.REJECTED, "no", first, RECORDED + timedelta(days=2), "sup-on-panel")
    assert raised.value.code == "appeal.decider_conflict"
    assert appeal.status is AppealStatus.LODGED


def test_a_rejected_appeal_changes_nothing_but_is_recorded() -> None:
    first = result([survey("student", 3, 300)])
    appeal = lodge(first, RECORDED + timedelta(days=1))
    appeal.decide(
        AppealDecision.REJECTED,
        "the reports arrived after the window",
        first,
        RECORDED + timedelta(days=2),
        "sup-neutral",
    )
    assert appeal.status is AppealStatus.REJECTED
    assert (appeal.decided_by, appeal.decision_reason) == ("sup-neutral", "the reports arrived after the window")
    decided = appeal.events[-1]
    assert isinstance(decided, AppealDecided)
    assert decided.decision is AppealDecision.REJECTED
    assert first.is_current
    with pytest.raises(InvalidTransition):
        appeal.decide(AppealDecision.UPHELD, "again", first, RECORDED + timedelta(days=3), "sup-neutral")


def test_an_upheld_appeal_rescores_and_the_new_result_supersedes_the_old() -> None:
    first = result([survey("student", 3, 300)])
    appeal = lodge(first, RECORDED + timedelta(days=1))
    appeal.decide(AppealDecision.UPHELD, "placements were missed", first, RECORDED + timedelta(days=2), "sup-neutral")
    assert appeal.status is AppealStatus.UPHELD
    corrected = [survey("student", 3, 300), *(placed(f"S{i}") for i in range(10))]
    second = result(corrected, result_id="res-2", supersedes=first)
    first.supersede(second, appeal.appeal_id, RECORDED + timedelta(days=3), "sup-neutral")
    assert first.status is ResultStatus.SUPERSEDED
    assert first.superseded_by_result_id == "res-2"
    assert second.supersedes_result_id == "res-1"
    assert second.is_current
    superseded = first.events[-1]
    assert isinstance(superseded, ResultSuperseded)
    assert (superseded.result_id, superseded.superseded_by_result_id, superseded.appeal_id) == (
        "res-1",
        "res-2",
        "ap-1",
    )
    tt01 = {i.code: i for i in second.indicators}["TT-01"]
    assert tt01.score_hundredths == 10_000
    with pytest.raises(DomainError) as gone:
        lodge(first, RECORDED + timedelta(days=4))
    assert gone.value.code == "appeal.result_superseded"
    with pytest.raises(InvalidTransition):
        first.supersede(second, appeal.appeal_id, RECORDED + timedelta(days=4), "sup-neutral")


def test_only_its_own_rescore_can_supersede_a_result() -> None:
    first = result([])
    unrelated = result([], result_id="res-9")
    with pytest.raises(DomainError) as raised:
        first.supersede(unrelated, "ap-1", RECORDED, "sup-neutral")
    assert raised.value.code == "result.not_its_rescore"
