"""Frameworks: the default one at start-up, drafts, publishing. Frameworks emit no events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from alliance_evaluation.domain.default_framework import DEFAULT_FRAMEWORK_ID, default_framework
from alliance_evaluation.domain.framework import Framework, GradeBands, IndicatorDefinition, NoEvidencePolicy
from alliance_evaluation.domain.panel import PanelRole
from alliance_evaluation.service import queries
from alliance_evaluation.service.context import Context
from alliance_evaluation.service.repositories import framework_key
from alliance_shared.errors import Conflict, DomainError, NotFound
from alliance_shared.logging import get_logger
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, create, update

log = get_logger(__name__)

NOT_FOUND = "framework.not_found"


@dataclass(frozen=True)
class DraftEdits:
    """What a supervisor may change in a draft; None leaves a part as it is."""

    name: str | None = None
    no_evidence_policy: NoEvidencePolicy | None = None
    grade_bands: GradeBands | None = None
    panel_role_weights: Mapping[PanelRole, int] | None = None
    indicators: Sequence[IndicatorDefinition] | None = None


async def ensure_default_framework(ctx: Context, *, actor_id: str = "system") -> None:
    """Store and publish the default framework (v1) when no framework exists yet."""
    if await queries.any_framework_exists(ctx):
        return
    framework = default_framework()
    framework.publish(ctx.clock.now(), actor_id)
    key = framework_key(framework.framework_id, framework.version)
    audit = AuditNote("framework.seeded", "framework", key, None, {"version": framework.version})
    try:
        await create(ctx.repos.frameworks, key, framework, audit, events=())
        log.info("default framework published", framework_id=DEFAULT_FRAMEWORK_ID)
    except Conflict:
        pass  # another replica was first


def _apply(framework: Framework, edits: DraftEdits) -> None:
    try:
        if edits.name is not None:
            framework.name = edits.name
        if edits.no_evidence_policy is not None:
            framework.set_no_evidence_policy(edits.no_evidence_policy)
        if edits.grade_bands is not None:
            framework.set_grade_bands(edits.grade_bands)
        if edits.panel_role_weights is not None:
            framework.set_panel_role_weights(edits.panel_role_weights)
        if edits.indicators is not None:
            framework.indicators = tuple(edits.indicators)
    except ValidationError as exc:
        detail = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False)[:5])
        raise DomainError("framework.invalid", detail or "the framework is not valid") from exc


async def create_draft(ctx: Context, framework_id: str, edits: DraftEdits) -> Outcome[Framework]:
    """The next version of a framework as a draft, from the latest version's content."""
    latest = await queries.latest_framework_version(ctx, framework_id)
    if latest is None:
        raise NotFound(NOT_FOUND, f"no framework {framework_id}")
    if not latest.item.is_published:
        raise Conflict(
            "framework.draft_exists",
            f"version {latest.item.version} of {framework_id} is still a draft; edit or publish it",
        )
    draft = latest.item.next_draft()
    _apply(draft, edits)
    key = framework_key(framework_id, draft.version)
    audit = AuditNote("framework.draft_created", "framework", key, None, None)
    return await create(ctx.repos.frameworks, key, draft, audit, events=())


async def edit_draft(
    ctx: Context, framework_id: str, version: int, expected: int, edits: DraftEdits
) -> Outcome[Framework]:
    await queries.get_framework(ctx, framework_id, version)  # unknown: 404, whatever If-Match says
    key = framework_key(framework_id, version)

    def decide(framework: Framework) -> Decision[Framework]:
        if framework.is_published:
            raise DomainError(
                "framework.published_immutable",
                f"framework {framework_id} v{version} is published and cannot change; derive the next draft version",
            )
        before = ctx.repos.frameworks.state_of(framework)
        _apply(framework, edits)
        return Decision(framework, AuditNote("framework.draft_edited", "framework", key, before, None), events=())

    return await update(
        ctx.repos.frameworks, key, decide, not_found=(NOT_FOUND, f"framework {framework_id} version"), expected=expected
    )


async def publish_framework(
    ctx: Context, framework_id: str, version: int, expected: int, actor_id: str
) -> Outcome[Framework]:
    await queries.get_framework(ctx, framework_id, version)  # unknown: 404, whatever If-Match says
    key = framework_key(framework_id, version)

    def decide(framework: Framework) -> Decision[Framework]:
        framework.publish(ctx.clock.now(), actor_id)
        audit = AuditNote("framework.published", "framework", key, None, {"version": version})
        return Decision(framework, audit, events=())

    return await update(
        ctx.repos.frameworks, key, decide, not_found=(NOT_FOUND, f"framework {framework_id} version"), expected=expected
    )
