"""SSRF guard for IVR API object URLs (shared/spec/ivr-api.md, "Object settings": ``url``).

A tenant chooses the URL the platform POSTs call data to, so without a check
the platform could be made to reach its own loopback services, cloud metadata
(169.254.169.254) or the operator's private network. :func:`check_url` allows
only ``http``/``https`` and refuses a URL when *any* address its host resolves
to is loopback, link-local, private (RFC 1918), unique-local (fc00::/7),
shared/CGNAT (100.64.0.0/10), unspecified, multicast or reserved — unless the
operator's allow-list (CIDRs, addresses, host names, ``*.suffix`` names)
permits it. IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are checked
as IPv4.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_BLOCKED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "unique-local"),
    ("fec0::/10", "site-local"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/96", "reserved (IPv4-compatible)"),
)
_BLOCKED_NETS: tuple[tuple[IpNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason) for net, reason in _BLOCKED
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlNotAllowed(ValueError):
    """The URL may not be called; ``reason`` says why (shown to the object's owner)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _embedded_ipv4(address: IpAddress) -> IpAddress:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def blocked_reason(address: IpAddress) -> str | None:
    """The category that makes ``address`` internal (``"loopback"`` …), or ``None`` if public."""
    plain = _embedded_ipv4(address)
    for network, reason in _BLOCKED_NETS:
        if plain.version == network.version and plain in network:
            return reason
    return None


class AllowList:
    """The operator's exceptions: networks, single addresses and host names."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks: list[IpNetwork] = []
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        for entry in entries:
            text = entry.strip().lower().rstrip(".")
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
                continue
            except ValueError:
                if "/" in text or not text:
                    raise ValueError(f"allow-list entry {entry!r} is not a CIDR or host") from None
            if text.startswith("*."):
                self.suffixes.append(text[1:])
            else:
                self.hosts.add(text)

    def permits_host(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def permits_address(self, address: IpAddress) -> bool:
        plain = _embedded_ipv4(address)
        return any(
            a.version == n.version and a in n for n in self.networks for a in {address, plain}
        )


async def system_resolver(host: str, port: int) -> list[str]:
    """Addresses of ``host`` from the system resolver (asyncio's ``getaddrinfo``)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _parse_address(text: str) -> IpAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


async def _addresses(host: str, port: int, resolver: Resolver) -> list[IpAddress]:
    try:
        return [_parse_address(host)]
    except ValueError:
        pass  # a name, not an address literal
    try:
        found = await resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise UrlNotAllowed(f"cannot resolve {host}: {exc}") from None
    if not found:
        raise UrlNotAllowed(f"cannot resolve {host}: no addresses")
    return [_parse_address(a) for a in found]


async def check_url(
    url: str, allow: Sequence[str] = (), *, resolver: Resolver | None = None
) -> None:
    """Raise :class:`UrlNotAllowed` unless ``url`` is http(s) to public (or allowed) addresses."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlNotAllowed(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowed(f"scheme {scheme or '(none)'!r} is not allowed (only http, https)")
    host = parts.hostname
    if not host:
        raise UrlNotAllowed("URL has no host")
    allow_list = AllowList(allow)
    if allow_list.permits_host(host):
        return
    port = port or (443 if scheme == "https" else 80)
    addresses = await _addresses(host, port, resolver or system_resolver)
    for address in addresses:
        reason = blocked_reason(address)
        if reason is not None and not allow_list.permits_address(address):
            raise UrlNotAllowed(f"{host} resolves to {address} ({reason} address)")
