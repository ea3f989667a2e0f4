"""Preferences: ``partner:<id>``'s are managed by that partner's users, ``member:<id>``'s
by that member (see ``access``); regulatory notices cannot be muted (422)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from alliance_notifications.adapters.http.access import ManagedRecipient
from alliance_notifications.adapters.http.deps import NotifierDep
from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.service import queries
from alliance_notifications.service.recipients import replace_preferences
from alliance_shared.auth.dependencies import CurrentPrincipal
from alliance_shared.contract.base import UtcDateTime
from alliance_shared.contract.notifications import Channel
from alliance_shared.web.conditional import IfMatch, set_etag

router = APIRouter(tags=["preferences"])


class PreferencesIn(BaseModel):
    """The complete choices: anything not muted is on; ``quiet_hours`` null switches them off."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"muted": {"operational": ["email"], "digest_only": ["email"]},
                 "quiet_hours": {"start": "22:00", "end": "07:00"}}
            ]
        },
    )  # fmt: skip

    muted: dict[Category, list[Channel]] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = None


class PreferencesOut(BaseModel):
    recipient_id: str
    muted: dict[Category, list[Channel]]
    quiet_hours: QuietHours | None
    updated_at: UtcDateTime | None
    updated_by: str | None
    version: int

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesOut:
        return cls.model_validate(prefs.model_dump())


@router.get(
    "/recipients/{recipient_id}/preferences",
    summary="A recipient's preferences (defaults until changed); ETag for If-Match",
)
async def read_preferences(recipient_id: ManagedRecipient, notifier: NotifierDep, response: Response) -> PreferencesOut:
    prefs = await queries.preferences(notifier, recipient_id)
    set_etag(response, prefs.version)
    return PreferencesOut.of(prefs)


@router.put(
    "/recipients/{recipient_id}/preferences",
    summary="Replace a recipient's preferences (If-Match; regulatory cannot be muted)",
    responses={422: {"description": "preferences.regulatory_mandatory"}, 428: {"description": "If-Match"}},
)
async def write_preferences(
    recipient_id: ManagedRecipient,
    expected: IfMatch,
    body: PreferencesIn,
    principal: CurrentPrincipal,
    notifier: NotifierDep,
    response: Response,
) -> PreferencesOut:
    outcome = await replace_preferences(
        notifier, recipient_id, expected, body.muted, body.quiet_hours, principal.subject
    )
    set_etag(response, outcome.version)
    return PreferencesOut.of(outcome.item)
