"""Use cases of recipients' settings: preferences (regulatory notices cannot be muted) and
the members of the role groups. Both are replaced as a whole, with If-Match."""

from __future__ import annotations

from collections.abc import Sequence

from alliance_notifications.domain.preferences import Category, Preferences
from alliance_notifications.domain.quiet_hours import QuietHours
from alliance_notifications.domain.recipients import GroupMember, RoleGroup, RoleGroupRoster
from alliance_notifications.service.notifier import Notifier
from alliance_shared.contract.notifications import Channel
from alliance_shared.persistence.versioned_store import AuditNote
from alliance_shared.persistence.write_path import Decision, Outcome, execute


async def replace_preferences(
    notifier: Notifier,
    recipient_id: str,
    expected: int,
    muted: dict[Category, list[Channel]],
    quiet_hours: QuietHours | None,
    actor_id: str,
) -> Outcome[Preferences]:
    """Replace a recipient's choices (If-Match ``expected``, 0 for one who never chose);
    muting a regulatory category is refused (422)."""
    now = notifier.clock.now()

    def decide(_: object) -> Decision[Preferences]:
        prefs = Preferences.defaults(recipient_id)
        for category, channels in muted.items():
            for channel in channels:
                prefs.set_channel(category, channel, False, now, actor_id)
        prefs.set_quiet_hours(quiet_hours, now, actor_id)
        after = prefs.model_dump(mode="python", exclude={"version"})
        return Decision(prefs, AuditNote("preferences.replaced", "preferences", recipient_id, after=after))

    return await execute(notifier.repos.preferences, recipient_id, decide, expected=expected)


async def replace_role_group(
    notifier: Notifier, group: RoleGroup, expected: int, members: Sequence[GroupMember]
) -> Outcome[RoleGroupRoster]:
    """Replace the members of a role group (If-Match ``expected``, 0 for a new group)."""

    def decide(_: object) -> Decision[RoleGroupRoster]:
        roster = RoleGroupRoster.replace(group, members)
        after = roster.model_dump(mode="python")
        return Decision(roster, AuditNote("role_group.replaced", "role_group", group.value, after=after))

    outcome = await execute(notifier.repos.groups, group.value, decide, expected=expected)
    notifier.directory_changed()
    return outcome
