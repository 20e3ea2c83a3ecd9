"""The client's address and scheme, believing X-Forwarded-* only from NTR_TRUSTED_PROXIES."""

from __future__ import annotations

from aiohttp import web

from ntrbot.keys import SETTINGS
from ntrbot.netaddr import Address, Network, parse_address, parse_networks


def _trusted(request: web.Request) -> tuple[Network, ...]:
    return parse_networks(request.app[SETTINGS].trusted_proxies)


def is_trusted(addr: Address | None, networks: tuple[Network, ...]) -> bool:
    return addr is not None and any(addr in net for net in networks)


def peer_is_trusted(request: web.Request) -> bool:
    """True when the TCP peer is a trusted reverse proxy."""
    return is_trusted(parse_address(request.remote or ""), _trusted(request))


def client_address(request: web.Request) -> str:
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


def forwarded_https(request: web.Request) -> bool:
    """True when a trusted proxy says (X-Forwarded-Proto) the client came over https."""
    if not peer_is_trusted(request):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "")
    return proto.split(",")[0].strip().lower() == "https"
