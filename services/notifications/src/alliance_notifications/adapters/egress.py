"""Webhook connections go only where the egress policy allows, checked when connecting.

``GuardedBackend`` is the httpx client's network backend: for each new connection it
resolves the host itself, refuses it if any address is not public (unless the host is
allow-listed) and connects to the addresses it checked — never resolving again, so a name
that answers differently a moment later (DNS rebinding) cannot slip through. TLS still
verifies the certificate and sends SNI for the URL's host name.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream

from alliance_notifications.domain.egress import EgressPolicy
from alliance_notifications.service.ports import Resolver
from alliance_shared.errors import DomainError

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class DnsResolver:
    """The system resolver (getaddrinfo in a thread, as asyncio does), bounded in time."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds

    async def addresses(self, host: str) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError, UnicodeError):
            return []
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressRefused(httpcore.ConnectError):
    """The host resolved to an address webhooks may not go to (httpx raises it as a
    ConnectError whose cause is this)."""


class GuardedBackend(AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        addresses = await self._resolver.addresses(host)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        if not self._policy.is_allow_listed(host):
            try:
                self._policy.check_addresses(addresses)
            except DomainError as refused:
                raise AddressRefused(refused.code) from None
        failure: Exception = httpcore.ConnectError(f"no address of {host} answered")
        for address in addresses:  # each checked; the next one if an address does not answer
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never go to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
