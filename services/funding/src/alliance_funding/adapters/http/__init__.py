"""HTTP API of the funding service, one router per resource: programmes and their
ledger, applications and their review, awards, tranches (maker-checker), recoveries,
surcharge credit statements, reports.

Updates need ``If-Match`` with the ETag read; ``POST`` accepts ``Idempotency-Key``;
reports answer JSON, CSV or XLSX (``?format=``). Who may call what: ``access.py``.
"""

from __future__ import annotations

from fastapi import APIRouter

from alliance_funding.adapters.http import (
    applications,
    awards,
    ledger,
    programmes,
    recoveries,
    reports,
    review,
    surcharge,
    tranches,
)

ROUTERS: tuple[APIRouter, ...] = (
    programmes.router,
    ledger.router,
    applications.router,
    review.router,
    awards.router,
    tranches.router,
    recoveries.router,
    surcharge.router,
    reports.router,
)
