"""The whole alliance at work across the four services running as separate processes:
the same story `make demo` narrates, asserted."""

from __future__ import annotations

import pytest

from alliance_devstack.demo.access import PlatformAccess
from alliance_devstack.demo.story import tell

pytestmark = pytest.mark.infra


async def test_the_whole_flow(access: PlatformAccess) -> None:
    lines: list[str] = []
    facts = await tell(access, lines.append)

    assert len(facts.partners) == 7
    assert len(facts.agreements) == 3
    assert facts.ineligible_rules, "the application with an uncertified enterprise names the failed rule"
    assert any("certif" in rule for rule in facts.ineligible_rules)
    assert facts.rejected_report_reason.startswith("report.")
    assert "planned_months" in facts.rejected_report_reason
    assert facts.results["mid_term/A1"]["grade"] != "fail"
    assert facts.results["mid_term/A2"]["grade"] != "fail"
    assert facts.results["annual/A2"]["grade"] == "fail"
    assert facts.results["rescored/A2"]["grade"] != "fail"
    assert facts.results["rescored/A2"]["supersedes_result_id"] == facts.results["annual/A2"]["result_id"]
    assert ("A2/2", "withheld") in facts.tranche_history
    assert facts.tranche_history.index(("A2/2", "withheld")) < len(facts.tranche_history) - 1
    assert facts.tranche_statuses["A1"][:2] == ["paid", "paid"]
    assert facts.tranche_statuses["A2"][:2] == ["paid", "paid"]
    assert facts.ledger["consistent"] is True
    assert facts.ledger["trial_balance"] == 0
    paid = 0.3 * 1_200_000_00 + 0.4 * 1_200_000_00 + 0.3 * 800_000_00 + 0.4 * 800_000_00
    assert facts.budget_execution["paid_minor"] == int(paid)
    assert facts.inbox
    assert facts.mail_subjects
    assert facts.webhook_signatures_valid
    assert any(t.endswith("college_report.rejected.v1") for t in facts.webhook_types)
    assert lines[0].startswith("1. ")
