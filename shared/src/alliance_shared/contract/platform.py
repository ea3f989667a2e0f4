"""The catalog of every event of the platform, assembled from each context's models."""

from __future__ import annotations

from alliance_shared.contract.audit import AUDIT_EVENTS
from alliance_shared.contract.catalog import EventCatalog
from alliance_shared.contract.college import COLLEGE_REPORTS
from alliance_shared.contract.evaluation import EVALUATION_EVENTS
from alliance_shared.contract.funding import FUNDING_EVENTS
from alliance_shared.contract.notifications import NOTIFICATIONS_EVENTS
from alliance_shared.contract.registry import REGISTRY_EVENTS

PLATFORM_CATALOG = EventCatalog(
    [*REGISTRY_EVENTS, *COLLEGE_REPORTS, *EVALUATION_EVENTS, *FUNDING_EVENTS, *NOTIFICATIONS_EVENTS, *AUDIT_EVENTS]
)
