"""The routing rules as one versioned rule set an admin manages.

Version 1 is seeded from the shipped defaults (``default_rules.py``); an admin writes a
new version as a whole. A rule set nobody has changed (``source`` ``defaults``) follows
the shipped defaults: when they change, the next start writes them as a new version.
Once an admin wrote a version it is theirs, and shipped changes no longer replace it.

A new version must make sense against the platform: every rule's event type is a
published event (or one of the internal reminder types) and every template exists in
each language a recipient can have. ``rule_problems`` says which rule breaks what.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.domain.recipients import Locale
from alliance_notifications.domain.routing import RoutingRule
from alliance_shared.contract.base import UtcDateTime

#: The id of the one rule-set aggregate: its versions are the rule set's history.
RULE_SET_ID = "routing"
#: The most rules one version may hold (today's defaults are ~75).
MAX_RULES = 1000


class RuleSetSource(StrEnum):
    DEFAULTS = "defaults"  # the shipped defaults, followed while nobody changes them
    ADMIN = "admin"  # written by an admin through the API


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[RoutingRule, ...] = Field(max_length=MAX_RULES)
    source: RuleSetSource
    changed_by: str
    changed_at: UtcDateTime
    note: str | None = Field(default=None, max_length=500)

    @classmethod
    def of_defaults(cls, rules: Sequence[RoutingRule], now: datetime) -> RuleSet:
        return cls(rules=tuple(rules), source=RuleSetSource.DEFAULTS, changed_by="system", changed_at=now)

    def follows(self, defaults: Sequence[RoutingRule]) -> bool:
        """True when this set should be replaced by ``defaults``: nobody changed it and they differ."""
        return self.source is RuleSetSource.DEFAULTS and self.rules != tuple(defaults)


class RuleProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_index: int = Field(description="position of the offending rule in the submitted list, from 0")
    field: str
    detail: str


def rule_problems(
    rules: Sequence[RoutingRule],
    known_event_types: Collection[str],
    template_exists: Callable[[str, Locale], bool],
) -> list[RuleProblem]:
    """Every problem of a proposed rule set, in rule order; empty when it may be stored.

    Selectors, categories and channels are checked by ``RoutingRule`` itself."""
    problems: list[RuleProblem] = []
    for index, rule in enumerate(rules):
        if rule.event_type not in known_event_types:
            problems.append(
                RuleProblem(
                    rule_index=index,
                    field="event_type",
                    detail=f"{rule.event_type!r} is not an event of the platform's catalog",
                )
            )
        missing = [locale.value for locale in Locale if not template_exists(rule.template, locale)]
        if missing:
            problems.append(
                RuleProblem(
                    rule_index=index,
                    field="template",
                    detail=f"template {rule.template!r} has no text in {', '.join(missing)}",
                )
            )
    return problems
