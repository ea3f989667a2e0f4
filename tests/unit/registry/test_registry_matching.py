"""Partner matching: weighted, explained, deterministic ranking of enterprises for a college."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from alliance_registry.domain.matching import (
    DEFAULT_MAJOR_SECTORS,
    CollegeForMatching,
    EnterpriseCandidate,
    MatchReason,
    MatchWeights,
    sectors_for_major,
    serves_major,
    suggest_partners,
)

COLLEGE = CollegeForMatching(partner_id="col-001", region_code="440305", majors=("460103", "510201", "530302"))
SECTORS = ("C34", "C39", "C3911", "I65", "J66", "F51", "G54", "Q84", "E47", "H61", "A01")
REGIONS = ("440305", "440306", "440103", "330106", "110108")


def candidate(partner_id: str, **changes: object) -> EnterpriseCandidate:
    fields: dict[str, object] = {
        "partner_id": partner_id,
        "name": f"enterprise {partner_id}",
        "region_code": "110108",
        "sector_code": "A01",
        "certified": False,
        "active_cooperations": 5,
        "already_partner_of_college": False,
    }
    fields.update(changes)
    return EnterpriseCandidate.model_validate(fields)


def seeded_candidates(seed: int, count: int = 60) -> list[EnterpriseCandidate]:
    rng = random.Random(seed)
    return [
        candidate(
            f"ent-{index:03d}",
            region_code=rng.choice(REGIONS),
            sector_code=rng.choice(SECTORS),
            certified=rng.random() < 0.3,
            active_cooperations=rng.randint(0, 8),
            already_partner_of_college=rng.random() < 0.2,
        )
        for index in range(count)
    ]


def test_default_mapping_covers_the_common_major_groups() -> None:
    assert sectors_for_major("460103", DEFAULT_MAJOR_SECTORS) == ("C",)
    assert sectors_for_major("510201", DEFAULT_MAJOR_SECTORS) == ("I", "C39")
    assert sectors_for_major("530302", DEFAULT_MAJOR_SECTORS) == ("J", "F")
    assert sectors_for_major("470201", DEFAULT_MAJOR_SECTORS) == ("C26", "C27")
    assert sectors_for_major("990101", DEFAULT_MAJOR_SECTORS) == ()
    assert serves_major("C3911", "460103", DEFAULT_MAJOR_SECTORS)
    assert not serves_major("I65", "460103", DEFAULT_MAJOR_SECTORS)


def test_a_longer_prefix_overrides_its_category() -> None:
    mapping = {**DEFAULT_MAJOR_SECTORS, "4601": ("C34",)}
    assert sectors_for_major("460103", mapping) == ("C34",)
    assert sectors_for_major("460301", mapping) == ("C",)


def test_ranking_with_explanations() -> None:
    candidates = [
        # serves 2 of 3 majors (C39 fits 46 and 51), same district, certified, 1 cooperation
        candidate("ent-b", region_code="440305", sector_code="C39", certified=True, active_cooperations=1),
        # serves 1 of 3 (I65 fits 51), same province, no cooperation
        candidate("ent-a", region_code="440103", sector_code="I65", active_cooperations=0),
        # the same as ent-a: the tie goes to the smaller id
        candidate("ent-c", region_code="440103", sector_code="I65", active_cooperations=0),
        # a good fit but already a partner
        candidate(
            "ent-d",
            region_code="440305",
            sector_code="C3911",
            certified=True,
            active_cooperations=1,
            already_partner_of_college=True,
        ),
        # nothing in its favour
        candidate("ent-e"),
    ]
    ranked = suggest_partners(COLLEGE, set(), candidates)
    assert [(s.partner_id, s.score) for s in ranked] == [
        ("ent-b", 26 + 20 + 15 + 12),
        ("ent-d", 26 + 20 + 15 + 12 - 10),
        ("ent-a", 13 + 10 + 15),
        ("ent-c", 13 + 10 + 15),
        ("ent-e", 0),
    ]
    assert ranked[0].reasons == (
        MatchReason(
            code="match.sector_fit", text="industry C39 serves 2 of 3 requested majors (460103, 510201)", points=26
        ),
        MatchReason(code="match.same_region", text="in the college's region 440305", points=20),
        MatchReason(code="match.certified", text="certified industry-education integration enterprise", points=15),
        MatchReason(code="match.spare_capacity", text="1 active cooperation: room for more", points=12),
    )
    assert ranked[1].reasons[-1] == MatchReason(
        code="match.existing_partner", text="already cooperates with the college; the aim is new partners", points=-10
    )
    assert [r.code for r in ranked[2].reasons] == ["match.sector_fit", "match.same_province", "match.spare_capacity"]
    assert ranked[4].reasons == ()


def test_requested_majors_narrow_the_fit() -> None:
    finance = candidate("ent-f", sector_code="J66")
    [only_finance] = suggest_partners(COLLEGE, {"530302"}, [finance])
    assert only_finance.reasons[0].points == 40
    [all_majors] = suggest_partners(COLLEGE, set(), [finance])
    assert all_majors.reasons[0].points == 13


def test_weights_are_configurable() -> None:
    weights = MatchWeights(certified=100, existing_partner_penalty=0)
    ranked = suggest_partners(
        COLLEGE,
        set(),
        [candidate("ent-1", sector_code="C39"), candidate("ent-2", certified=True, already_partner_of_college=True)],
        weights=weights,
    )
    assert [s.partner_id for s in ranked] == ["ent-2", "ent-1"]
    assert [r.code for r in ranked[0].reasons] == ["match.certified"]


def test_seeded_data_set_is_ranked_by_score_then_id_and_explained() -> None:
    candidates = seeded_candidates(seed=2026)
    ranked = suggest_partners(COLLEGE, set(), candidates)
    assert sorted(s.partner_id for s in ranked) == sorted(c.partner_id for c in candidates)
    assert [(s.score, s.partner_id) for s in ranked] == sorted(
        ((s.score, s.partner_id) for s in ranked), key=lambda k: (-k[0], k[1])
    )
    by_id = {c.partner_id: c for c in candidates}
    for suggestion in ranked:
        assert suggestion.score == sum(r.points for r in suggestion.reasons)
        source = by_id[suggestion.partner_id]
        codes = {r.code for r in suggestion.reasons}
        assert ("match.certified" in codes) == source.certified
        assert ("match.existing_partner" in codes) == source.already_partner_of_college
        assert ("match.same_region" in codes) == (source.region_code == COLLEGE.region_code)
        assert "match.same_region" not in codes or "match.same_province" not in codes
    top = ranked[0]
    assert by_id[top.partner_id].region_code == COLLEGE.region_code
    assert suggest_partners(COLLEGE, set(), candidates, limit=5) == ranked[:5]


def test_a_new_partner_outranks_an_existing_one_that_is_otherwise_equal() -> None:
    candidates = seeded_candidates(seed=7)
    twins = [
        candidate("ent-zzz", region_code="440305", sector_code="C39"),
        candidate("ent-aaa", region_code="440305", sector_code="C39", already_partner_of_college=True),
    ]
    ranked = [s.partner_id for s in suggest_partners(COLLEGE, set(), [*candidates, *twins])]
    assert ranked.index("ent-zzz") < ranked.index("ent-aaa")


@given(st.integers(min_value=0, max_value=10_000), st.randoms(use_true_random=False))
def test_the_ranking_does_not_depend_on_the_input_order(seed: int, shuffler: random.Random) -> None:
    candidates = seeded_candidates(seed, count=25)
    shuffled = list(candidates)
    shuffler.shuffle(shuffled)
    assert suggest_partners(COLLEGE, set(), shuffled) == suggest_partners(COLLEGE, set(), candidates)
