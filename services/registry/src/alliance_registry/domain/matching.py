"""Partner matching: which enterprises a college could cooperate with next.

A pure, deterministic ranking. Each candidate enterprise earns points for explicit,
weighted reasons, and every suggestion lists them (code, text, points), so a user sees
why an enterprise ranks where it does:

- ``match.sector_fit``: its industry serves the requested majors (share of the majors served);
- ``match.same_region`` / ``match.same_province``: it is in the college's region (6-digit
  code) or, failing that, the same province (first two digits);
- ``match.certified``: it is a certified industry-education integration enterprise;
- ``match.spare_capacity``: it has few active cooperations (points fall with each one);
- ``match.existing_partner``: it already cooperates with the college — a penalty, since
  the aim is new partners, but it stays listed.

Ties are broken by partner id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from alliance_registry.domain.codes import province_of

#: DEFAULT CONFIGURATION — major-catalogue category (2-digit prefix of a vocational major
#: code, 2021 catalogue) → GB/T 4754 industry codes whose enterprises employ its
#: graduates. A sector code matches an enterprise whose own code starts with it ("C"
#: matches "C3911"). Deployments may pass their own mapping; a longer prefix ("4601")
#: overrides its category.
DEFAULT_MAJOR_SECTORS: Mapping[str, tuple[str, ...]] = {
    "41": ("A",),  # agriculture, forestry, animal husbandry and fishery
    "42": ("B", "N77"),  # resources, environment and safety
    "43": ("D", "C31", "C32"),  # energy, power and materials
    "44": ("E",),  # civil engineering and construction
    "45": ("N76", "E"),  # water conservancy
    "46": ("C",),  # equipment manufacturing
    "47": ("C26", "C27"),  # biology and chemical engineering
    "48": ("C17", "C18", "C19"),  # light industry and textiles
    "49": ("C13", "C14", "C27"),  # food, drugs and grain
    "50": ("G",),  # transport
    "51": ("I", "C39"),  # electronics and information
    "52": ("Q",),  # medicine and health
    "53": ("J", "F"),  # finance and commerce
    "54": ("H",),  # tourism
    "55": ("R",),  # culture and arts
    "56": ("R86",),  # journalism and communication
    "57": ("P", "R89"),  # education and sports
}


class MatchWeights(BaseModel):
    """Points per reason; the defaults favour industry fit, then locality and certification."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sector_fit: int = Field(default=40, ge=0, description="for serving every requested major")
    same_region: int = Field(default=20, ge=0)
    same_province: int = Field(default=10, ge=0)
    certified: int = Field(default=15, ge=0)
    spare_capacity: int = Field(default=15, ge=0, description="with no active cooperation")
    capacity_step: int = Field(default=3, ge=0, description="spare-capacity points lost per active cooperation")
    existing_partner_penalty: int = Field(default=10, ge=0)


class CollegeForMatching(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    region_code: str
    majors: tuple[str, ...] = ()


class EnterpriseCandidate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    name: str
    region_code: str
    sector_code: str
    certified: bool
    active_cooperations: int = Field(ge=0)
    already_partner_of_college: bool


class MatchReason(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    text: str
    points: int


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    name: str
    score: int
    reasons: tuple[MatchReason, ...]


def sectors_for_major(major: str, mapping: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The sector codes of the longest prefix of ``major`` in ``mapping`` (none when no prefix is mapped)."""
    for length in range(len(major), 0, -1):
        sectors = mapping.get(major[:length])
        if sectors is not None:
            return tuple(sectors)
    return ()


def serves_major(sector_code: str, major: str, mapping: Mapping[str, Sequence[str]]) -> bool:
    return any(sector_code.startswith(target) for target in sectors_for_major(major, mapping))


def suggest_partners(
    college: CollegeForMatching,
    requested_majors: Collection[str],
    candidates: Sequence[EnterpriseCandidate],
    *,
    mapping: Mapping[str, Sequence[str]] = DEFAULT_MAJOR_SECTORS,
    weights: MatchWeights = MatchWeights(),  # noqa: B008 - immutable default
    limit: int | None = None,
) -> list[Suggestion]:
    """Candidates ranked best first (score descending, then partner id).

    ``requested_majors``: the majors the college seeks partners for; empty means all the
    college's majors.
    """
    majors = tuple(sorted(set(requested_majors) or set(college.majors)))
    suggestions = [_suggest(college, majors, candidate, mapping, weights) for candidate in candidates]
    suggestions.sort(key=lambda s: (-s.score, s.partner_id))
    return suggestions if limit is None else suggestions[:limit]


def _suggest(
    college: CollegeForMatching,
    majors: tuple[str, ...],
    candidate: EnterpriseCandidate,
    mapping: Mapping[str, Sequence[str]],
    weights: MatchWeights,
) -> Suggestion:
    reasons: list[MatchReason] = []
    served = [m for m in majors if serves_major(candidate.sector_code, m, mapping)]
    if served:
        reasons.append(
            MatchReason(
                code="match.sector_fit",
                text=f"industry {candidate.sector_code} serves {len(served)} of {len(majors)} requested majors "
                f"({', '.join(served)})",
                points=weights.sector_fit * len(served) // len(majors),
            )
        )
    if candidate.region_code == college.region_code:
        reasons.append(
            MatchReason(
                code="match.same_region",
                text=f"in the college's region {college.region_code}",
                points=weights.same_region,
            )
        )
    elif province_of(candidate.region_code) == province_of(college.region_code):
        reasons.append(
            MatchReason(
                code="match.same_province",
                text=f"in the college's province ({province_of(college.region_code)})",
                points=weights.same_province,
            )
        )
    if candidate.certified:
        reasons.append(
            MatchReason(
                code="match.certified",
                text="certified industry-education integration enterprise",
                points=weights.certified,
            )
        )
    capacity = max(0, weights.spare_capacity - weights.capacity_step * candidate.active_cooperations)
    if capacity:
        count = candidate.active_cooperations
        reasons.append(
            MatchReason(
                code="match.spare_capacity",
                text=f"{count} active cooperation{'' if count == 1 else 's'}: room for more",
                points=capacity,
            )
        )
    if candidate.already_partner_of_college and weights.existing_partner_penalty:
        reasons.append(
            MatchReason(
                code="match.existing_partner",
                text="already cooperates with the college; the aim is new partners",
                points=-weights.existing_partner_penalty,
            )
        )
    return Suggestion(
        partner_id=candidate.partner_id,
        name=candidate.name,
        score=sum(r.points for r in reasons),
        reasons=tuple(reasons),
    )
