"""HTTP API of the notifications service, one router per resource: the inbox (with a live
SSE stream), preferences, webhook endpoints, role groups and the delivery log. Who may
do what is said in each module; object-level checks are in ``access``."""

from __future__ import annotations

from fastapi import APIRouter

from alliance_notifications.adapters.http import deliveries, inbox, preferences, role_groups, webhooks

ROUTERS: tuple[APIRouter, ...] = (
    inbox.router,
    preferences.router,
    webhooks.router,
    role_groups.router,
    deliveries.router,
)
