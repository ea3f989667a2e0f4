"""Frameworks: the default one at start-up, drafts, publishing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from alliance_evaluation.adapters.repositories import Repositories, framework_key
from alliance_evaluation.domain.default_framework import DEFAULT_FRAMEWORK_ID, default_framework
from alliance_evaluation.domain.framework import Framework, GradeBands, IndicatorDefinition, NoEvidencePolicy
from alliance_evaluation.domain.panel import PanelRole
from alliance_shared.errors import Conflict, DomainError, NotFound
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded
from alliance_shared.persistence.versioned_store import AuditNote

log = get_logger(__name__)


@dataclass(frozen=True)
class DraftEdits:
    """What a supervisor may change in a draft; None leaves a part as it is."""

    name: str | None = None
    no_evidence_policy: NoEvidencePolicy | None = None
    grade_bands: GradeBands | None = None
    panel_role_weights: Mapping[PanelRole, int] | None = None
    indicators: Sequence[IndicatorDefinition] | None = None


async def ensure_default_framework(repos: Repositories, *, actor_id: str = "system") -> None:
    """Store and publish the default framework (v1) when no framework exists yet."""
    if await repos.frameworks.store.find({}, limit=1):
        return
    framework = default_framework()
    framework.publish(datetime.now(UTC), actor_id)
    key = framework_key(framework.framework_id, framework.version)
    try:
        await repos.frameworks.store.create(
            key,
            repos.frameworks.state_of(framework),
            (),
            AuditNote("framework.seeded", "framework", key, None, {"version": framework.version}),
        )
        log.info("default framework published", framework_id=DEFAULT_FRAMEWORK_ID)
    except Conflict:
        pass  # another replica was first


async def list_frameworks(repos: Repositories) -> list[Loaded[Framework]]:
    return await repos.frameworks.find({})


async def get_framework(repos: Repositories, framework_id: str, version: int) -> Loaded[Framework]:
    return await repos.frameworks.require(
        framework_key(framework_id, version), "framework.not_found", f"framework {framework_id} version"
    )


async def latest_version(repos: Repositories, framework_id: str) -> Loaded[Framework] | None:
    versions = await repos.frameworks.find({"framework_id": framework_id})
    return max(versions, key=lambda f: f.item.version, default=None)


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


async def new_draft(repos: Repositories, framework_id: str, edits: DraftEdits) -> Loaded[Framework]:
    """The next version of a framework as a draft, from the latest version's content."""
    latest = await latest_version(repos, framework_id)
    if latest is None:
        raise NotFound("framework.not_found", f"no framework {framework_id}")
    if not latest.item.is_published:
        raise Conflict(
            "framework.draft_exists",
            f"version {latest.item.version} of {framework_id} is still a draft; edit or publish it",
        )
    draft = latest.item.next_draft()
    _apply(draft, edits)
    key = framework_key(framework_id, draft.version)
    await repos.frameworks.store.create(
        key, repos.frameworks.state_of(draft), (), AuditNote("framework.draft_created", "framework", key, None, None)
    )
    return Loaded(draft, 1)


async def edit_draft(
    repos: Repositories, framework_id: str, version: int, expected: int, edits: DraftEdits
) -> Loaded[Framework]:
    loaded = await get_framework(repos, framework_id, version)
    framework = loaded.item
    if framework.is_published:
        raise DomainError(
            "framework.published_immutable",
            f"framework {framework_id} v{version} is published and cannot change; derive the next draft version",
        )
    before = repos.frameworks.state_of(framework)
    _apply(framework, edits)
    key = framework_key(framework_id, version)
    written = await repos.frameworks.save(
        key, expected, framework, AuditNote("framework.draft_edited", "framework", key, before, None), events=()
    )
    assert written is not None
    return Loaded(framework, written)


async def publish(
    repos: Repositories, framework_id: str, version: int, expected: int, actor_id: str
) -> Loaded[Framework]:
    loaded = await get_framework(repos, framework_id, version)
    framework = loaded.item
    framework.publish(datetime.now(UTC), actor_id)
    key = framework_key(framework_id, version)
    written = await repos.frameworks.save(
        key,
        expected,
        framework,
        AuditNote("framework.published", "framework", key, None, {"version": version}),
        events=(),
    )
    assert written is not None
    return Loaded(framework, written)
