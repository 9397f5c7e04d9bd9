"""Which IP addresses an outbound callback may reach.

``ipaddress.is_global`` alone is not enough: on Python 3.11 it calls ``64:ff9b::a9fe:a9fe``
(NAT64 of 169.254.169.254), ``2002:a9fe:a9fe::`` (6to4), ``::7f00:1`` (IPv4-compatible
127.0.0.1) and ``192.0.0.8`` global. So every IPv4 address embedded in an IPv6 one is
unwrapped and judged itself, and the IANA special-purpose registries are applied
explicitly (https://www.iana.org/assignments/iana-ipv4-special-registry,
.../iana-ipv6-special-registry), whatever the interpreter's own tables say.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IANA IPv4 special-purpose registry entries that are not "globally reachable", plus
# multicast and the limited broadcast (never a receiver).
_SPECIAL_IPV4 = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)
# IANA IPv6 special-purpose registry (not globally reachable), multicast, and every
# transition prefix: those that embed IPv4 are unwrapped first (below), the rest refused.
_SPECIAL_IPV6 = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "::/128", "::1/128", "::ffff:0:0/96", "::/96", "64:ff9b::/96", "64:ff9b:1::/48",
        "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address that ``address`` may carry to an IPv4 host: mapped, compatible,
    NAT64 (well-known and local-use prefixes), 6to4 and Teredo (server and client)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address in prefix for prefix in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, by the IANA registries, for the address and for every
    IPv4 address it embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return False
        inner = embedded_ipv4(address)
        if inner:
            return all(is_public(ipv4) for ipv4 in inner)  # then the transition prefix is only a wrapper
        if any(address in block for block in _SPECIAL_IPV6):
            return False
        return address.is_global and not address.is_multicast
    if any(address in block for block in _SPECIAL_IPV4):
        return False
    return address.is_global and not address.is_multicast


def is_allowed(address: IPAddress, allowed_networks: Iterable[IPNetwork]) -> bool:
    """Public, or inside an operator's allowed network (checked on the address as written
    and on every IPv4 address it embeds, so ``::ffff:10.0.0.5`` is allowed by ``10.0.0.0/8``)."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        candidates.extend(embedded_ipv4(address))
    networks = list(allowed_networks)
    if any(candidate in network for candidate in candidates for network in networks):
        return True
    return is_public(address)


def parse_networks(entries: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]
