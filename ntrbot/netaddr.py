"""IP addresses and networks as ntrbot reads them from settings and request headers."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


@lru_cache(maxsize=16)
def parse_networks(specs: tuple[str, ...]) -> tuple[Network, ...]:
    """IPs/CIDRs as networks; raises ValueError naming the first bad one."""
    out = []
    for spec in specs:
        try:
            out.append(ip_network(spec.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{spec!r} is not an IP address or CIDR network") from None
    return tuple(out)


def parse_address(text: str) -> Address | None:
    """An IP from a peer or X-Forwarded-For hop (IPv4-mapped IPv6 as IPv4), else None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[v6]" or "[v6]:port"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "v4:port"
        text = text.split(":", 1)[0]
    try:
        addr = ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr
