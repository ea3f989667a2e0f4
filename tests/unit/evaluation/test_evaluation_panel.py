from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_evaluation.domain.framework import DEFAULT_PANEL_ROLE_WEIGHTS
from alliance_evaluation.domain.panel import (
    CorrectionSource,
    Panel,
    PanelMember,
    PanelRole,
    ScoreCorrection,
    combine_roles,
)
from alliance_shared.errors import DomainError

NOW = datetime(2025, 12, 1, tzinfo=UTC)


def panel() -> Panel:
    return Panel(panel_id="p1", cycle_id="c1", agreement_id="a1", party_ids=("col-1", "ent-1"))


def seated(*members: tuple[str, PanelRole]) -> Panel:
    board = panel()
    for evaluator_id, role in members:
        board.add_member(PanelMember(evaluator_id=evaluator_id, role=role))
    return board


def test_the_documented_worked_example_trims_across_the_whole_panel_then_weights_roles() -> None:
    # docs/evaluation.md, "How a panel scores": the worked example, number for number.
    board = seated(
        ("zhao", PanelRole.SUPERVISOR),
        ("sun", PanelRole.INDUSTRY_EXPERT),
        ("zhou", PanelRole.INDUSTRY_EXPERT),
        ("ent", PanelRole.ENTERPRISE_REPRESENTATIVE),
        ("col", PanelRole.COLLEGE_SELF_ASSESSMENT),
    )
    for evaluator_id, score in [("zhao", 80), ("sun", 90), ("zhou", 40), ("ent", 95), ("col", 82)]:
        board.record_score(evaluator_id, "PR-01", score, NOW)
    measurement = board.measurement("PR-01", DEFAULT_PANEL_ROLE_WEIGHTS)
    # 40 (zhou) and 95 (ent) dropped; (3000 × 80 + 2500 × 90 + 1500 × 82) / 7000 = 84.
    assert measurement.value == 84
    assert measurement.evidence_count == 5
    assert "highest 95 (ent) and lowest 40 (zhou) dropped" in measurement.how


def test_fewer_than_five_scores_drop_nothing() -> None:
    board = seated(("zhao", PanelRole.SUPERVISOR), ("sun", PanelRole.INDUSTRY_EXPERT))
    board.add_member(PanelMember(evaluator_id="zhou", role=PanelRole.INDUSTRY_EXPERT))
    for evaluator_id, score in [("zhao", 80), ("sun", 90), ("zhou", 40)]:
        board.record_score(evaluator_id, "PR-01", score, NOW)
    measurement = board.measurement("PR-01", DEFAULT_PANEL_ROLE_WEIGHTS)
    assert measurement.value == Fraction(3000 * 80 + 2500 * 65, 5500)
    assert "none dropped" in measurement.how


def test_ties_at_the_extremes_drop_the_same_scores_whatever_the_order_they_came_in() -> None:
    members = [(f"e{i}", PanelRole.INDUSTRY_EXPERT) for i in range(3)] + [
        ("s1", PanelRole.STUDENT_REPRESENTATIVE),
        ("s2", PanelRole.STUDENT_REPRESENTATIVE),
    ]
    scores = [("e0", 50), ("e1", 50), ("e2", 70), ("s1", 50), ("s2", 90)]
    forwards, backwards = seated(*members), seated(*members)
    for evaluator_id, score in scores:
        forwards.record_score(evaluator_id, "PR-01", score, NOW)
    for evaluator_id, score in reversed(scores):
        backwards.record_score(evaluator_id, "PR-01", score, NOW)
    weights = DEFAULT_PANEL_ROLE_WEIGHTS
    assert forwards.measurement("PR-01", weights) == backwards.measurement("PR-01", weights)
    # (50, e0) is the lowest by evaluator id, (90, s2) the highest: experts 50 and 70, student 50.
    assert forwards.measurement("PR-01", weights).value == Fraction(2500 * 60 + 1500 * 50, 4000)


@given(st.lists(st.tuples(st.sampled_from(list(PanelRole)), st.integers(0, 100)), min_size=1, max_size=20))
def test_a_panel_score_lies_within_the_scores_and_ignores_one_extreme_each_side(
    given_scores: list[tuple[PanelRole, int]],
) -> None:
    board = seated(*((f"e{i:02}", role) for i, (role, _) in enumerate(given_scores)))
    for i, (_, score) in enumerate(given_scores):
        board.record_score(f"e{i:02}", "PR-01", score, NOW)
    value = board.measurement("PR-01", DEFAULT_PANEL_ROLE_WEIGHTS).value
    assert value is not None
    values = sorted(score for _, score in given_scores)
    kept = values[1:-1] if len(values) >= 5 else values
    assert min(kept) <= value <= max(kept)


@given(st.dictionaries(st.sampled_from(list(PanelRole)), st.fractions(0, 100), min_size=1))
def test_combined_role_scores_stay_within_the_role_means(means: dict[PanelRole, Fraction]) -> None:
    combined = combine_roles(means, DEFAULT_PANEL_ROLE_WEIGHTS)
    assert combined is not None
    assert min(means.values()) <= combined <= max(means.values())


def test_roles_combine_by_their_weights_over_the_roles_that_scored() -> None:
    weights = {PanelRole.SUPERVISOR: 3000, PanelRole.STUDENT_REPRESENTATIVE: 1000}
    assert (
        combine_roles({PanelRole.SUPERVISOR: Fraction(80), PanelRole.STUDENT_REPRESENTATIVE: Fraction(40)}, weights)
        == 70
    )
    assert combine_roles({PanelRole.INDUSTRY_EXPERT: Fraction(80)}, weights) is None


@pytest.mark.parametrize("role", [PanelRole.SUPERVISOR, PanelRole.INDUSTRY_EXPERT])
def test_an_evaluator_affiliated_with_a_party_cannot_sit_in_a_neutral_role(role: PanelRole) -> None:
    board = panel()
    with pytest.raises(DomainError) as raised:
        board.add_member(PanelMember(evaluator_id="e1", role=role, affiliation_partner_ids=("ent-1", "x")))
    assert raised.value.code == "panel.conflict_of_interest"
    assert raised.value.extensions["conflicting_partner_ids"] == ["ent-1"]
    assert "ent-1" in raised.value.detail
    assert board.members == ()


def test_party_representatives_and_unaffiliated_experts_may_sit() -> None:
    board = panel()
    board.add_member(
        PanelMember(evaluator_id="e1", role=PanelRole.ENTERPRISE_REPRESENTATIVE, affiliation_partner_ids=("ent-1",))
    )
    board.add_member(
        PanelMember(evaluator_id="e2", role=PanelRole.INDUSTRY_EXPERT, affiliation_partner_ids=("other-ent",))
    )
    assert board.evaluator_ids == {"e1", "e2"}
    with pytest.raises(DomainError) as raised:
        board.add_member(PanelMember(evaluator_id="e1", role=PanelRole.SUPERVISOR))
    assert raised.value.code == "panel.already_member"


def test_only_members_may_score_and_a_new_score_replaces_the_old() -> None:
    board = panel()
    board.add_member(PanelMember(evaluator_id="sup", role=PanelRole.SUPERVISOR))
    with pytest.raises(DomainError) as raised:
        board.record_score("stranger", "PN-01", 90, NOW)
    assert raised.value.code == "panel.not_a_member"
    board.record_score("sup", "PN-01", 50, NOW)
    board.record_score("sup", "PN-01", 70, NOW)
    assert [s.score for s in board.scores] == [70]


def test_trimming_is_across_the_panel_not_per_role() -> None:
    board = panel()
    for i in range(5):
        board.add_member(PanelMember(evaluator_id=f"x{i}", role=PanelRole.INDUSTRY_EXPERT))
    board.add_member(PanelMember(evaluator_id="s1", role=PanelRole.STUDENT_REPRESENTATIVE))
    for i, value in enumerate([0, 60, 70, 80, 100]):
        board.record_score(f"x{i}", "PN-01", value, NOW)
    board.record_score("s1", "PN-01", 40, NOW)
    weights = {PanelRole.INDUSTRY_EXPERT: 3000, PanelRole.STUDENT_REPRESENTATIVE: 1000}
    measurement = board.measurement("PN-01", weights)
    # Six scores: 0 and 100 dropped; experts 60, 70, 80 (mean 70), the student's 40 kept.
    assert measurement.value == Fraction(70 * 3000 + 40 * 1000, 4000)
    assert "highest 100 (x4) and lowest 0 (x0) dropped" in measurement.how
    assert board.measurement("PN-02", weights).value is None


def test_a_role_whose_only_score_is_trimmed_drops_out_of_the_weighting() -> None:
    board = seated(*((f"x{i}", PanelRole.INDUSTRY_EXPERT) for i in range(4)))
    board.add_member(PanelMember(evaluator_id="s1", role=PanelRole.STUDENT_REPRESENTATIVE))
    for i, value in enumerate([60, 70, 80, 90]):
        board.record_score(f"x{i}", "PN-01", value, NOW)
    board.record_score("s1", "PN-01", 0, NOW)
    weights = {PanelRole.INDUSTRY_EXPERT: 3000, PanelRole.STUDENT_REPRESENTATIVE: 1000}
    # 0 (s1) and 90 (x3) dropped: only the experts' 60, 70, 80 are left.
    assert board.measurement("PN-01", weights).value == 70


def test_a_panel_survives_its_document_form() -> None:
    board = panel()
    board.add_member(PanelMember(evaluator_id="sup", role=PanelRole.SUPERVISOR))
    board.record_score("sup", "PN-01", 90, NOW)
    assert Panel.from_document({"_id": 1, **board.to_document()}) == board


def test_an_appeal_correction_replaces_a_score_once_and_keeps_what_it_replaced() -> None:
    p = seated(("wu", PanelRole.INDUSTRY_EXPERT), ("li", PanelRole.INDUSTRY_EXPERT))
    p.record_score("wu", "PR-02", 40, NOW)
    p.record_score("li", "PR-02", 60, NOW)
    by_decider = ScoreCorrection(
        evaluator_id="wu",
        indicator_code="PR-02",
        score=80,
        given_by=CorrectionSource.DECIDING_SUPERVISOR,
        reason="base verified",
    )
    assert p.correct_score(by_decider, "apl-1", "sup-other", NOW)
    assert not p.correct_score(by_decider, "apl-1", "sup-other", NOW)  # applied again: nothing changes
    corrected = next(s for s in p.scores if s.evaluator_id == "wu")
    assert (corrected.score, corrected.previous_score, corrected.corrected_by) == (80, 40, "sup-other")
    measurement = p.measurement("PR-02", DEFAULT_PANEL_ROLE_WEIGHTS)
    assert measurement.value == 70
    assert "corrected on appeal: wu 40 → 80 (base verified)" in measurement.how
    by_evaluator = by_decider.model_copy(update={"evaluator_id": "li", "given_by": CorrectionSource.ORIGINAL_EVALUATOR})
    assert p.correct_score(by_evaluator, "apl-1", "sup-other", NOW)
    assert next(s for s in p.scores if s.evaluator_id == "li").corrected_by == "li"
    with pytest.raises(DomainError) as refused:
        p.correct_score(by_decider.model_copy(update={"indicator_code": "PR-01"}), "apl-1", "sup-other", NOW)
    assert refused.value.code == "panel.no_such_score"
