"""HTTP API of the notifications service, one router per resource: the inbox (with a live
SSE stream), preferences, webhook endpoints, role groups, the delivery log and the
routing rules. Who may do what is said in each module; object-level checks are in
``access``."""

from __future__ import annotations

from fastapi import APIRouter

from alliance_notifications.adapters.http import deliveries, inbox, preferences, role_groups, routing_rules, webhooks

ROUTERS: tuple[APIRouter, ...] = (
    inbox.router,
    preferences.router,
    webhooks.router,
    role_groups.router,
    deliveries.router,
    routing_rules.router,
)
