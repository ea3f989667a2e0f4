"""The platform's default routing rules: who hears about which event.

Categories follow one principle: a decision with legal or financial effect on a partner
(certification, funding decisions, results, rectification, recovery) is *regulatory* and
cannot be muted; a step in a workflow somebody must act on or wants to follow is
*operational*; broadcasts (a programme opening or closing) are *digest_only*.
Within one event the stricter rule is listed first: a partner selected twice keeps the
first rule's category.

Reminders (``reminder.*``) are internal routing types: they are not published events,
``reminders.py`` schedules them and routes them through these rules when they fire.
"""

from __future__ import annotations

from alliance_notifications.domain.preferences import Category
from alliance_notifications.domain.routing import RoutingRule
from alliance_shared.contract.notifications import Channel

REMINDER_RECTIFICATION_DUE = "reminder.rectification_due"
REMINDER_PROGRAMME_CLOSING = "reminder.programme_closing"
REMINDER_TRANCHE_AWAITING_APPROVAL = "reminder.tranche_awaiting_approval"

ALL_CHANNELS = (Channel.EMAIL, Channel.WEBHOOK, Channel.INBOX)
#: Role-group members are people: no webhooks.
PEOPLE_CHANNELS = (Channel.EMAIL, Channel.INBOX)

REG = Category.REGULATORY
OPS = Category.OPERATIONAL
DIGEST = Category.DIGEST_ONLY


def event_type_of(short_name: str) -> str:
    """``funding.tranche.paid`` → ``org.coopalliance.funding.tranche.paid.v1``; reminders stay as they are."""
    if short_name.startswith("reminder."):
        return short_name
    return f"org.coopalliance.{short_name}.v1"


def _rule(
    short_name: str,
    selectors: tuple[str, ...],
    category: Category,
    channels: tuple[Channel, ...] = ALL_CHANNELS,
    *,
    when: dict[str, str] | None = None,
    exclude_field: str | None = None,
) -> RoutingRule:
    return RoutingRule(
        event_type=event_type_of(short_name),
        selectors=selectors,
        category=category,
        channels=channels,
        template=short_name,
        when=when or {},
        exclude_field=exclude_field,
    )


DEFAULT_RULES: tuple[RoutingRule, ...] = (
    # registry
    # Self-service applications wait for a registry admin's decision.
    _rule("registry.certification.applied", ("role_group:registry_admins",), OPS, PEOPLE_CHANNELS),
    _rule("registry.certification.rejected", ("partner",), REG),
    _rule("registry.membership.changed", ("partner",), REG),
    _rule(
        "registry.membership.changed",
        ("role_group:registry_admins",),
        OPS,
        PEOPLE_CHANNELS,
        when={"action": "apply"},
    ),
    _rule("registry.certification.granted", ("partner",), REG),
    _rule("registry.certification.revoked", ("partner",), REG),
    _rule("registry.certification.revoked", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("registry.certification.expired", ("partner",), REG),
    # The incentive register: the enterprise learns of each entry; a revocation's suspensions
    # reach the enterprise and the agency that granted the entry (funding officers already
    # hear of the revocation itself).
    _rule("registry.incentive.recorded", ("partner",), REG),
    _rule("registry.incentive.suspended", ("partner",), REG),
    _rule("registry.incentive.suspended", ("granting_agency",), OPS),
    # Signing: every party is asked when the draft is ready, then whoever has not signed yet.
    _rule("registry.agreement.drafted", ("agreement_parties",), OPS),
    _rule("registry.agreement.party_signed", ("pending_parties",), OPS),
    _rule("registry.agreement.signed", ("agreement_parties",), OPS),
    _rule("registry.agreement.activated", ("agreement_parties",), OPS),
    _rule("registry.agreement.suspended", ("agreement_parties",), REG),
    _rule("registry.agreement.suspended", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    # A suspension's outcome: resumed (held tranches are released again).
    _rule("registry.agreement.resumed", ("agreement_parties",), OPS),
    _rule("registry.agreement.resumed", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("registry.agreement.terminated", ("agreement_parties",), REG),
    _rule("registry.agreement.terminated", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("registry.agreement.completed", ("agreement_parties",), OPS),
    # An amendment takes effect only once every party signed it: the parties are asked.
    _rule("registry.agreement.amendment_proposed", ("agreement_parties",), OPS),
    _rule("registry.agreement.amendment_signed", ("pending_parties",), OPS),
    _rule("registry.agreement.amendment_withdrawn", ("agreement_parties",), OPS),
    _rule("registry.agreement.amended", ("agreement_parties",), OPS),
    # funding
    _rule("funding.programme.opened", ("all_partners",), DIGEST),
    _rule("funding.programme.closed", ("all_partners",), DIGEST),
    # The officers' and supervisors' daily digest: what happened, without a mail each time.
    _rule("funding.programme.opened", ("role_group:funding_officers",), DIGEST, PEOPLE_CHANNELS),
    _rule("funding.programme.closed", ("role_group:funding_officers",), DIGEST, PEOPLE_CHANNELS),
    _rule("funding.application.submitted", ("applicant",), OPS),
    _rule("funding.application.submitted", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.application.approved", ("applicant", "agreement_parties"), REG),
    _rule("funding.application.rejected", ("applicant", "agreement_parties"), REG),
    _rule("funding.application.returned", ("applicant",), OPS),
    _rule("funding.award.granted", ("agreement_parties",), REG),
    _rule("funding.award.terminated", ("agreement_parties",), REG),
    _rule("funding.tranche.eligible", ("award_recipient",), OPS),
    _rule("funding.tranche.eligible", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.tranche.withheld", ("agreement_parties",), REG),
    _rule("funding.tranche.withheld", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.tranche.requested", ("role_group:funding_approvers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.tranche.requested", ("award_recipient",), DIGEST),
    _rule("funding.tranche.approved", ("award_recipient",), OPS),
    _rule("funding.tranche.paid", ("award_recipient",), OPS),
    _rule("funding.tranche.paid", ("role_group:funding_officers",), DIGEST, PEOPLE_CHANNELS),
    _rule("funding.recovery.ordered", ("award_recipient",), REG),
    _rule("funding.recovery.settled", ("award_recipient",), OPS),
    # recovery deadlines: the recipient is reminded and told; officers pursue; approvers decide on escalation
    _rule("funding.recovery.due_soon", ("award_recipient",), OPS),
    _rule("funding.recovery.overdue", ("award_recipient",), REG),
    _rule("funding.recovery.overdue", ("role_group:funding_officers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.recovery.escalated", ("award_recipient",), REG),
    _rule("funding.recovery.escalated", ("role_group:funding_approvers",), OPS, PEOPLE_CHANNELS),
    _rule("funding.recovery.written_off", ("award_recipient",), REG),
    # evaluation
    _rule("evaluation.cycle.opened", ("agreement_parties",), OPS),
    # The seated evaluator is asked to score (a person: e-mail if in a role group, inbox always).
    _rule("evaluation.panel.member_seated", ("evaluator",), OPS, PEOPLE_CHANNELS),
    _rule("evaluation.result.completed", ("agreement_parties",), REG),
    _rule("evaluation.result.completed", ("role_group:supervisors",), DIGEST, PEOPLE_CHANNELS),
    _rule("evaluation.rectification.ordered", ("responsible_party",), REG),
    _rule("evaluation.rectification.ordered", ("agreement_parties",), OPS),
    # The supervisor who issued the order checks the response.
    _rule("evaluation.rectification.responded", ("order_issuer",), OPS, PEOPLE_CHANNELS),
    _rule("evaluation.rectification.returned", ("responsible_party",), REG),
    _rule("evaluation.rectification.overdue", ("responsible_party",), REG),
    _rule("evaluation.rectification.overdue", ("role_group:supervisors",), OPS, PEOPLE_CHANNELS),
    # Still unanswered after the escalation period: the party again, the supervisors and the administrators.
    _rule("evaluation.rectification.escalated", ("responsible_party",), REG),
    _rule("evaluation.rectification.escalated", ("role_group:supervisors",), OPS, PEOPLE_CHANNELS),
    _rule("evaluation.rectification.escalated", ("role_group:registry_admins",), OPS, PEOPLE_CHANNELS),
    _rule("evaluation.rectification.closed", ("agreement_parties",), OPS),
    _rule("evaluation.rectification.closed", ("role_group:supervisors",), DIGEST, PEOPLE_CHANNELS),
    _rule("evaluation.formality_risk.flagged", ("agreement_parties",), REG),
    _rule("evaluation.formality_risk.flagged", ("role_group:supervisors",), OPS, PEOPLE_CHANNELS),
    # An appeal is decided by a supervisor who did not sit on the panel: only they are asked.
    _rule(
        "evaluation.appeal.lodged",
        ("role_group:supervisors",),
        OPS,
        PEOPLE_CHANNELS,
        exclude_field="panel_evaluator_ids",
    ),
    _rule("evaluation.appeal.decided", ("agreement_parties",), REG),
    # The college system reads the rejection event itself; its contact gets a readable notice.
    _rule("evaluation.college_report.rejected", ("college",), OPS),  # the college system too: it sent the report
    # reminders
    _rule(REMINDER_RECTIFICATION_DUE, ("responsible_party",), REG),
    _rule(REMINDER_PROGRAMME_CLOSING, ("all_partners",), DIGEST, PEOPLE_CHANNELS),
    _rule(REMINDER_TRANCHE_AWAITING_APPROVAL, ("role_group:funding_approvers",), OPS, PEOPLE_CHANNELS),
)
