from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_evaluation.domain.framework import DEFAULT_PANEL_ROLE_WEIGHTS
from alliance_evaluation.domain.panel import Panel, PanelMember, PanelRole, combine_roles, trimmed_mean
from alliance_shared.errors import DomainError

NOW = datetime(2025, 12, 1, tzinfo=UTC)


def panel() -> Panel:
    return Panel(panel_id="p1", cycle_id="c1", agreement_id="a1", party_ids=("col-1", "ent-1"))


def test_trimmed_mean_drops_one_highest_and_one_lowest_from_five_scores() -> None:
    assert trimmed_mean([0, 70, 80, 90, 100]) == 80
    assert trimmed_mean([10, 10, 10, 10, 100, 100]) == Fraction(130, 4)


def test_fewer_than_five_scores_take_the_plain_mean() -> None:
    assert trimmed_mean([0, 70, 80, 100]) == Fraction(250, 4)
    assert trimmed_mean([55]) == 55


@given(st.lists(st.integers(0, 100), min_size=1, max_size=30))
def test_trimmed_mean_is_within_the_scores_and_ignores_one_extreme_each_side(scores: list[int]) -> None:
    mean = trimmed_mean(scores)
    assert min(scores) <= mean <= max(scores)
    if len(scores) >= 5:
        ordered = sorted(scores)
        assert mean == Fraction(sum(ordered[1:-1]), len(ordered) - 2)
        # Moving the extremes further out changes nothing.
        assert trimmed_mean([*ordered[1:-1], 0, 100]) == mean
    else:
        assert mean == Fraction(sum(scores), len(scores))


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


def test_panel_measurement_trims_per_role_and_weights_roles() -> None:
    board = panel()
    for i in range(5):
        board.add_member(PanelMember(evaluator_id=f"x{i}", role=PanelRole.INDUSTRY_EXPERT))
    board.add_member(PanelMember(evaluator_id="s1", role=PanelRole.STUDENT_REPRESENTATIVE))
    for i, value in enumerate([0, 60, 70, 80, 100]):
        board.record_score(f"x{i}", "PN-01", value, NOW)
    board.record_score("s1", "PN-01", 40, NOW)
    weights = {PanelRole.INDUSTRY_EXPERT: 3000, PanelRole.STUDENT_REPRESENTATIVE: 1000}
    measurement = board.measurement("PN-01", weights)
    assert measurement.value == Fraction(70 * 3000 + 40 * 1000, 4000)
    assert "(trimmed)" in measurement.how
    assert board.measurement("PN-02", weights).value is None


def test_a_panel_survives_its_document_form() -> None:
    board = panel()
    board.add_member(PanelMember(evaluator_id="sup", role=PanelRole.SUPERVISOR))
    board.record_score("sup", "PN-01", 90, NOW)
    assert Panel.from_document({"_id": 1, **board.to_document()}) == board
