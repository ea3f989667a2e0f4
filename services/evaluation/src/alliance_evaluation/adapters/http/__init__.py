"""HTTP API of the evaluation service, one router per resource.

Roles: ``supervisor`` runs cycles, panels, rectification and appeals; ``evaluator``
scores the panels it sits on (the token's subject is the evaluator id); ``college`` and
``enterprise`` see what concerns their own agreements, respond to their rectification
orders and appeal their results; ``auditor`` reads everything and writes nothing.
Updates need ``If-Match``; rankings and the dashboard answer JSON or CSV
(``?format=csv`` or ``Accept: text/csv``).
"""

from __future__ import annotations

from fastapi import APIRouter

from alliance_evaluation.adapters.http import (
    appeals,
    cycles,
    evidence,
    frameworks,
    panels,
    rankings,
    rectifications,
    results,
)

ROUTERS: tuple[APIRouter, ...] = (
    frameworks.router,
    evidence.router,
    cycles.router,
    panels.router,
    rankings.router,
    results.router,
    appeals.router,
    rectifications.router,
)
