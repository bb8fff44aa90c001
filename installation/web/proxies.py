"""Who a request comes from, behind reverse proxies that are trusted by configuration and by nothing else.

`X-Forwarded-For` is a header anyone can send. It says who the visitor is only when the connection itself comes from
a proxy the technician named (`dstrtd web --trusted-proxies`, `WebSettings.trusted_proxies`; none by default): then
the visitor is the right-most address of the header that is not one of those proxies (each proxy appends the address
it was reached from, so everything left of that may be the visitor's own invention). `ForwardedFor` puts that
address into the request's `client`, so the login throttle, the logs and every route see one answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # why: the settings import this module, and `dstrtd --help` builds every parser
    from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 20  # why: a real chain is one or two proxies; a header with more is read only this far


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """'127.0.0.1', '10.0.0.0/8', '::1' (commas allowed inside a value) as networks; ValueError naming a value that
    is none (the settings turn it into their own error)."""
    networks = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                try:
                    networks.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError:
                    raise ValueError(f"trusted proxy {part.strip()!r} is not an IP address or network (such as "
                                     "127.0.0.1, 10.0.0.0/8 or ::1)") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:4711", as RFC 7239 writes it
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.9:4711"
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    def trusts(self, host: str) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The visitor's address: `peer` itself unless it is a trusted proxy; else the right-most address of the
        `X-Forwarded-For` value that is not a trusted proxy. A malformed entry ends the walk at the last trusted hop."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        client = peer
        for hop in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
            address = _address(hop)
            if address is None:
                return client
            client = str(address)
            if not any(address in network for network in self.networks):
                return client
        return client


class ForwardedFor:
    """Replace the request's `client` with the visitor's address when the connection comes from a trusted proxy."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies.networks and scope.get("client"):
            values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
            peer = scope["client"][0]
            client = self.proxies.client(peer, ",".join(values) if values else None)
            if client != peer:
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)
