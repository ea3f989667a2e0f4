"""Cooperation depth actually shown by the evidence, against the depth declared.

After the alliance's literature (as docs/evaluation.md quotes it):

- shallow: cooperation limited to recommending graduates or occasional visits;
- middle: regular internships, order classes or shared training bases;
- deep: teaching, production and research joined — joint R&D, co-built majors or an
  industry college, teacher exchange both ways.

As rules on the modes carried out in the window:

- deep when a joined mode (joint R&D centre, industry college, modern apprenticeship)
  is carried out together with at least one other training mode, or when teachers
  went to the enterprise *and* engineers taught at the college (exchange both ways)
  alongside a training mode;
- middle when any training mode (anything but employment recommendation) is carried
  out;
- shallow otherwise, including when nothing was carried out at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from alliance_shared.contract.vocabulary import CooperationMode, Depth

JOINED_MODES: frozenset[CooperationMode] = frozenset(
    {CooperationMode.JOINT_RD_CENTRE, CooperationMode.INDUSTRY_COLLEGE, CooperationMode.MODERN_APPRENTICESHIP}
)
SHALLOW_MODES: frozenset[CooperationMode] = frozenset({CooperationMode.EMPLOYMENT_RECOMMENDATION})

DEPTH_RANK: dict[Depth, int] = {Depth.SHALLOW: 0, Depth.MIDDLE: 1, Depth.DEEP: 2}


def actual_depth(carried_out: Collection[CooperationMode], two_way_teacher_exchange: bool) -> Depth:
    training = set(carried_out) - SHALLOW_MODES
    joined = training & JOINED_MODES
    if joined and len(training) >= 2:
        return Depth.DEEP
    if two_way_teacher_exchange and training - {CooperationMode.TEACHER_EXCHANGE}:
        return Depth.DEEP
    if training:
        return Depth.MIDDLE
    return Depth.SHALLOW


@dataclass(frozen=True)
class DepthComparison:
    declared: Depth
    actual: Depth

    @property
    def gap(self) -> int:
        """How many levels the declaration overstates the evidence (negative: understates)."""
        return DEPTH_RANK[self.declared] - DEPTH_RANK[self.actual]

    @property
    def overstated(self) -> bool:
        return self.gap > 0

    def explain(self) -> str:
        if self.gap > 0:
            return f"declared {self.declared}, evidence shows only {self.actual}"
        if self.gap < 0:
            return f"declared {self.declared}, evidence shows {self.actual}"
        return f"declared and shown depth agree: {self.actual}"


def compare_depth(
    declared: Depth, carried_out: Collection[CooperationMode], two_way_teacher_exchange: bool
) -> DepthComparison:
    return DepthComparison(declared=declared, actual=actual_depth(carried_out, two_way_teacher_exchange))
