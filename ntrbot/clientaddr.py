"""The client's address and scheme, believing X-Forwarded-* only from NTR_TRUSTED_PROXIES."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from aiohttp import web

from .keys import SETTINGS

DEFAULT_TRUSTED_PROXIES = ("127.0.0.1/32", "::1/128")
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


def _trusted(request: web.BaseRequest) -> tuple[Network, ...]:
    app = request.app if isinstance(request, web.Request) else None
    settings = app.get(SETTINGS) if isinstance(app, web.Application) else None
    specs = getattr(settings, "trusted_proxies", DEFAULT_TRUSTED_PROXIES)
    if not isinstance(specs, tuple):  # no settings (a bare app or a test double)
        specs = DEFAULT_TRUSTED_PROXIES
    return parse_networks(specs)


def is_trusted(addr: Address | None, networks: tuple[Network, ...]) -> bool:
    return addr is not None and any(addr in net for net in networks)


def peer_is_trusted(request: web.BaseRequest) -> bool:
    """True when the TCP peer is a trusted reverse proxy."""
    return is_trusted(parse_address(request.remote or ""), _trusted(request))


def client_address(request: web.BaseRequest) -> str:
    """The client: the peer, or behind trusted proxies the rightmost untrusted
    X-Forwarded-For hop (hops left of it are written by the client and ignored)."""
    peer = request.remote or "unknown"
    networks = _trusted(request)
    peer_ip = parse_address(peer)
    if not is_trusted(peer_ip, networks):
        return str(peer_ip) if peer_ip is not None else peer[:64]
    client: Address | None = peer_ip
    hops = [hop for value in request.headers.getall("X-Forwarded-For", ())
            for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        addr = parse_address(hop)
        if addr is None:  # not written by a proxy we trust: stop at what we can vouch for
            break
        client = addr
        if not is_trusted(addr, networks):
            break
    return str(client)


def forwarded_https(request: web.BaseRequest) -> bool:
    """True when a trusted proxy says (X-Forwarded-Proto) the client came over https."""
    if not peer_is_trusted(request):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "")
    return proto.split(",")[0].strip().lower() == "https"
