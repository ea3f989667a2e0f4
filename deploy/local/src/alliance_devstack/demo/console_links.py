"""Where each step's result can be seen in the web console: printed after the step, with
the role to sign in as (the console asks for sign-in first and then opens the link)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from alliance_devstack.demo.story import Facts, Narrate

#: The console's default port in `make run` (alliance_devstack.services.CONSOLE_PORT).
DEFAULT_CONSOLE_PORT = 8000

Link = tuple[str, str]  # (the role to sign in as, the console path)


def console_url(run_file: Path) -> str | None:
    """The running console: the run file's ``console_url`` when `make run` writes one, else
    the console `make run` starts on CONSOLE_PORT — if it answers as the console."""
    facts = json.loads(run_file.read_text()) if run_file.exists() else {}
    url = str(facts.get("console_url") or f"http://127.0.0.1:{os.environ.get('CONSOLE_PORT', DEFAULT_CONSOLE_PORT)}")
    try:
        # /auth/dev is the console's own page (a service answers 404 there).
        with urllib.request.urlopen(url + "/auth/dev", timeout=2) as response:  # noqa: S310 - loopback
            return url if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def links_after(step: str, facts: Facts) -> list[Link]:
    """The console pages showing what ``step`` (a Story method's name) produced."""
    cycles = {key: str(result.get("cycle_id", "")) for key, result in facts.results.items()}
    # College staff sign in with their partner: the one the step is about.
    szpu, gdlg = (f"college staff, partner {facts.partners.get(key, '?')}" for key in ("college-szpu", "college-gdlg"))
    match step:
        case "alliance":
            return [("registry admin", "/registry/partners")]
        case "agreements":
            return [("registry admin", "/registry/agreements"), (szpu, "/partner/agreements")]
        case "college_integration":
            return [(szpu, "/partner/webhooks")]
        case "programme_and_applications":
            return [
                ("funding officer", f"/funding/programmes/{facts.programme_id}"),
                ("funding officer", "/funding/applications"),
            ]
        case "first_tranches":
            return [("funding officer", f"/funding/awards/{award}") for award in facts.awards.values()] + [
                ("funding approver", "/funding/approvals")
            ]
        case "college_reports":
            return [(szpu, "/partner/inbox")]
        case "mid_term_evaluation" if cycles.get("mid_term/A1"):
            return [("supervisor", f"/evaluation/cycles/{cycles['mid_term/A1']}")]
        case "annual_evaluation_fails" if cycles.get("annual/A2"):
            return [
                ("supervisor", f"/evaluation/cycles/{cycles['annual/A2']}"),
                ("supervisor", "/evaluation/rectifications"),
            ]
        case "rectification_and_appeal":
            return [(gdlg, "/partner/results"), ("funding officer", f"/funding/awards/{facts.awards['A2']}")]
        case "notifications_seen":
            return [(gdlg, "/partner/inbox")]
        case "final_report":
            return [("funding officer", "/funding/budget"), ("auditor", f"/funding/programmes/{facts.programme_id}")]
    return []


def narrate_links(console: str, facts: Callable[[], Facts], say: Narrate) -> Callable[[str], Awaitable[None]]:
    """A story interlude that prints the console links of the step just told."""

    async def interlude(step: str) -> None:
        for role, path in links_after(step, facts()):
            say(f"   ↗ console ({role}): {console}{path}")

    return interlude
