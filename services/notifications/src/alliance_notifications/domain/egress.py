"""Where webhooks may go: https to public addresses only, so a registered URL cannot aim the
platform at its own network (SSRF).

Checked twice: the URL at registration (scheme, credentials, literal addresses, names of
the cluster), and every address its host resolves to — at registration and again at each
connection, which then goes to the address that was checked (a name that resolves to a
public address at registration and to 10.0.0.1 later — DNS rebinding — is refused).
Hosts an operator allow-lists (``NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS``, the local demo's
and the tests' receivers on 127.0.0.1) skip the address checks and may use plain http.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from alliance_shared.errors import DomainError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Names that only resolve inside a cluster or a machine; single-label names are refused
#: too (a resolver's search list would complete them to cluster services).
_INTERNAL_SUFFIXES = (".svc", ".cluster.local", ".local", ".localhost", ".internal", ".localdomain")


def _blocked_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return "." not in name or name == "localhost" or name.endswith(_INTERNAL_SUFFIXES)


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class EgressPolicy:
    """``allowed_hosts``: exact host names or literal addresses exempt from the address
    checks; ``blocked_networks``: the cluster's own ranges (service and pod CIDRs) when they
    are public addresses, refused like private ones."""

    allowed_hosts: frozenset[str] = frozenset()
    blocked_networks: tuple[IpNetwork, ...] = field(default=())

    def is_allow_listed(self, host: str) -> bool:
        return host.lower() in self.allowed_hosts

    def check_url(self, url: str) -> str:
        """The URL if its form may receive webhooks; the host's addresses are checked apart."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.username or parts.password:
            raise DomainError("webhook.url_credentials", "put credentials in the signing secret, not in the URL")
        if not host:
            raise DomainError("webhook.url_invalid", "a webhook URL needs a host")
        if self.is_allow_listed(host):
            if parts.scheme not in ("https", "http"):
                raise DomainError("webhook.url_not_https", f"webhook URLs must use https, got {url!r}")
            return url
        if parts.scheme != "https":
            raise DomainError("webhook.url_not_https", f"webhook URLs must use https, got {url!r}")
        literal = _literal_address(host)
        if literal is not None:
            self.check_address(str(literal))
        elif _blocked_name(host):
            raise DomainError("webhook.url_not_public", "webhook URLs must name a public host")
        return url

    def check_address(self, address: str) -> None:
        """Refuse an address that is not public (loopback, private, link-local, multicast,
        shared, reserved, unspecified) or lies in the cluster's own networks."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global or ip.is_multicast or any(ip in net for net in self.blocked_networks):
            raise DomainError("webhook.address_not_public", "webhook URLs must resolve to public addresses only")

    def check_addresses(self, addresses: Iterable[str]) -> None:
        """Every address a host resolves to must be public: one private answer refuses it."""
        found = list(addresses)
        if not found:
            raise DomainError("webhook.url_unresolvable", "the webhook host does not resolve")
        for address in found:
            self.check_address(address)

    @classmethod
    def of(cls, allowed_hosts: Iterable[str], blocked_networks: Iterable[str]) -> EgressPolicy:
        return cls(
            allowed_hosts=frozenset(h.strip().lower() for h in allowed_hosts if h.strip()),
            blocked_networks=tuple(
                ipaddress.ip_network(n.strip(), strict=False) for n in blocked_networks if n.strip()
            ),
        )
