"""The notifier: what every use case of the service works with — the repositories, the
due list, the two outside channels, the clock — and the recipient directory routing reads.

Built once by the composition root (on MongoDB, SMTP and httpx) and by the use-case
tests (on in-memory twins); consumers, background loops and the API share it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import timedelta

from alliance_notifications.domain.circuit_breaker import CircuitBreaker
from alliance_notifications.domain.default_rules import DEFAULT_RULES
from alliance_notifications.domain.preferences import Preferences
from alliance_notifications.domain.rate_limit import SlidingWindowLimit
from alliance_notifications.domain.recipients import RecipientDirectory
from alliance_notifications.domain.routing import RoutingRule
from alliance_notifications.domain.rule_set import RULE_SET_ID, RuleSet
from alliance_notifications.domain.templates import TemplateRenderer
from alliance_notifications.service.ports import DueList, EmailChannel, Resolver, WebhookChannel
from alliance_notifications.service.repositories import DeliveryRecord, Repositories
from alliance_notifications.service.slots import EndpointSlots
from alliance_notifications.settings import Settings
from alliance_shared.clock import Clock
from alliance_shared.logging import get_logger
from alliance_shared.persistence.repository import Loaded

log = get_logger(__name__)


class Notifier:
    def __init__(
        self,
        repos: Repositories,
        settings: Settings,
        *,
        clock: Clock,
        due: DueList,
        email: EmailChannel,
        webhooks: WebhookChannel,
        resolver: Resolver,
        renderer: TemplateRenderer | None = None,
        default_rules: Sequence[RoutingRule] = DEFAULT_RULES,
    ) -> None:
        self.repos = repos
        self.settings = settings
        self.clock = clock
        self.due = due
        self.email = email
        self.webhooks = webhooks
        self.resolver = resolver
        self.egress = settings.egress_policy
        self.verify_limit = SlidingWindowLimit(
            settings.verify_rate_limit, timedelta(seconds=settings.verify_rate_window_seconds)
        )
        self.renderer = renderer or TemplateRenderer()
        #: The rules seeded as the first rule set, and followed while nobody changes them.
        self.default_rules = tuple(default_rules)
        self.policy = settings.retry_policy
        self.rng = random.SystemRandom()
        #: Per endpoint and per process (see docs/notifications.md, Circuit breaker).
        self.breakers: dict[str, CircuitBreaker] = {}
        #: Deliveries this process planned, due now, as written: the worker starts them
        #: without a claim and without reading them back.
        self.planned_now: dict[str, Loaded[DeliveryRecord]] = {}
        self.wake = asyncio.Event()
        self.planning = asyncio.Semaphore(settings.planning_concurrency)
        #: Webhook attempts at once, per endpoint and in all (the worker's and planning's).
        self.webhook_slots = EndpointSlots(settings.webhook_concurrency, settings.webhook_concurrency_per_endpoint)
        #: First attempts that outlasted the planning that started them, and the saves of
        #: their outcomes: kept here so they run to their end (or are cancelled at close).
        self.detached: set[asyncio.Task[None]] = set()
        self.outcome_saves = asyncio.Semaphore(settings.planning_concurrency)
        self._directory: tuple[float, RecipientDirectory] | None = None
        self._rules: tuple[float, Loaded[RuleSet]] | None = None

    async def directory(self) -> RecipientDirectory:
        """The recipient directory, read again at most every ``directory_cache_seconds``
        (and at once after this process changed it). Routing reads it for every event;
        another replica's change shows within the cache time."""
        now = asyncio.get_running_loop().time()  # monotonic: a cache age, not a business time
        cached = self._directory
        if cached is not None and now - cached[0] < self.settings.directory_cache_seconds:
            return cached[1]
        directory = await self.read_directory()
        self._directory = (now, directory)
        return directory

    def directory_changed(self) -> None:
        self._directory = None

    async def rule_set(self) -> Loaded[RuleSet]:
        """The routing rule set in force, read again at most every ``rules_cache_seconds``
        (and at once after this process wrote a new version). Before one is stored (the
        first start seeds it) the default rules apply, as version 0."""
        now = asyncio.get_running_loop().time()  # monotonic: a cache age, not a business time
        cached = self._rules
        if cached is not None and now - cached[0] < self.settings.rules_cache_seconds:
            return cached[1]
        loaded = await self.repos.rule_sets.get(RULE_SET_ID)
        if loaded is None:
            loaded = Loaded(RuleSet.of_defaults(self.default_rules, self.clock.now()), 0)
        self._rules = (now, loaded)
        return loaded

    def rules_changed(self) -> None:
        self._rules = None

    async def read_directory(self) -> RecipientDirectory:
        directory = RecipientDirectory()
        for contact in await self.repos.contacts.find({}):
            directory.upsert_contact(contact.item)
        for roster in await self.repos.groups.find({}):
            directory.set_group_members(roster.item.group, roster.item.members)
        for endpoint in await self.repos.endpoints.find({}):
            directory.add_endpoint(endpoint.item)
        return directory

    async def preferences_of(self, recipient_ids: Sequence[str]) -> dict[str, Preferences]:
        """Each recipient's preferences, the settings' defaults for those who never chose."""
        wanted = sorted(set(recipient_ids))
        if not wanted:
            return {}
        # One query for all (most recipients never chose: a lookup each would miss).
        stored = {
            found.item.recipient_id: found.item for found in await self.repos.preferences.find({"_id": {"$in": wanted}})
        }
        return {rid: stored.get(rid) or self.settings.default_preferences(rid) for rid in wanted}

    def breaker(self, endpoint_id: str) -> CircuitBreaker:
        breaker = self.breakers.get(endpoint_id)
        if breaker is None:
            breaker = CircuitBreaker(
                endpoint_id=endpoint_id,
                failure_threshold=self.settings.breaker_failure_threshold,
                cool_down_seconds=self.settings.breaker_cool_down_seconds,
            )
            self.breakers[endpoint_id] = breaker
        return breaker

    def detach(self, task: asyncio.Task[None]) -> None:
        self.detached.add(task)
        task.add_done_callback(self._detached_ended)

    def _detached_ended(self, task: asyncio.Task[None]) -> None:
        self.detached.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("a detached delivery step failed; the due list has it after a restart", error=repr(error))

    async def close(self) -> None:
        for task in list(self.detached):
            task.cancel()  # abandoned: the delivery is recorded pending, the due list has it after a restart
        await asyncio.gather(*self.detached, return_exceptions=True)
        await self.webhooks.close()
        await self.email.close()
