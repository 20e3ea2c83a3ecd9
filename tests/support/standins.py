"""Loopback stand-in of ntrbot's HTTP API and /ws/announce hub, served from a thread."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.net import free_port


def track(position: int, title: str, artist: str | None = None) -> dict[str, Any]:
    """A track in the SPEC's shape."""
    return {
        "position": position,
        "id": 1000 + position,
        "title": title,
        "artist": artist or f"Artist {position}",
        "permalink_url": f"https://soundcloud.com/a/t{position}",
        "artwork_url": None,
        "duration_ms": 180000,
        "license": "all-rights-reserved",
        "liked_at": "2026-11-20T23:00:00+00:00",
    }


def show(show_id: int, episode: int, tracks: list[dict[str, Any]]) -> dict[str, Any]:
    """A show in the SPEC's shape."""
    return {
        "id": show_id,
        "week_start": "2026-11-18T22:00:00-05:00",
        "week_end": "2026-11-25T22:00:00-05:00",
        "episode": episode,
        "tracks": tracks,
    }


class NtrStandIn:
    """ntrbot's public HTTP API plus the announce hub, on 127.0.0.1, in a background thread.

    ``shows`` is newest first; the first one is the current show.
    """

    def __init__(
        self,
        token: str,
        shows: list[dict[str, Any]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        self.ssl_context = ssl_context  # serve https/wss instead of http/ws
        self.shows = shows if shows is not None else []
        self.port = free_port()
        self.clients: list[web.WebSocketResponse] = []
        self.subscribe_attempts: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []  # JSON text frames from subscribers, in order
        self.received_from: list[tuple[str, dict[str, Any]]] = []  # (subscribe name, frame)
        self.last_announce: dict[str, Any] | None = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ntr-standin", daemon=True)
        self._runner: web.AppRunner | None = None

    # lifecycle -------------------------------------------------------------------------
    def start(self) -> NtrStandIn:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stand-in did not start")
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        for ws in list(self.clients):
            await ws.close(code=1001, message=b"going away")
        assert self._runner is not None
        await self._runner.cleanup()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/playlist", self._playlist)
        app.router.add_get("/playlist/{position}", self._playlist_track)
        app.router.add_get("/nowplaying", self._nowplaying)
        app.router.add_get("/shows", self._shows)
        app.router.add_get("/shows/{id}", self._show)
        app.router.add_get("/ws/announce", self._ws)
        self._runner = web.AppRunner(app)
        self.loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        self.loop.run_until_complete(site.start())
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ws/announce"

    # HTTP ------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, text: str) -> web.Response:
        return web.json_response({"error": text}, status=status)

    async def _playlist(self, request: web.Request) -> web.Response:
        if not self.shows:
            return self._error(404, "no current show")
        return web.json_response(self.shows[0])

    async def _playlist_track(self, request: web.Request) -> web.Response:
        if not self.shows:
            return self._error(404, "no current show")
        for item in self.shows[0]["tracks"]:
            if str(item["position"]) == request.match_info["position"]:
                return web.json_response(item)
        return self._error(404, "no such track")

    async def _nowplaying(self, request: web.Request) -> web.Response:
        if self.last_announce is None:
            return self._error(404, "nothing announced yet")
        return web.json_response(self.last_announce)

    async def _shows(self, request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "20"))
        offset = int(request.query.get("offset", "0"))
        listed = [
            {k: v for k, v in s.items() if k != "tracks"}
            for s in self.shows[offset : offset + limit]
        ]
        return web.json_response({"shows": listed, "total": len(self.shows)})

    async def _show(self, request: web.Request) -> web.Response:
        for s in self.shows:
            if str(s["id"]) == request.match_info["id"]:
                return web.json_response(s)
        return self._error(404, "no such show")

    # WebSocket -------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            first = await ws.receive(timeout=10)
        except TimeoutError:
            await ws.close(code=4001, message=b"subscribe timeout")
            return ws
        hello: Any = {}
        if first.type == WSMsgType.TEXT:
            try:
                hello = json.loads(first.data)
            except ValueError:
                hello = {}
        self.subscribe_attempts.append(hello if isinstance(hello, dict) else {})
        if (
            not isinstance(hello, dict)
            or hello.get("type") != "subscribe"
            or (hello.get("token") != self.token)
        ):
            await ws.close(code=4001, message=b"unauthorized")
            return ws
        self.clients.append(ws)
        await self._broadcast({"type": "status", "subscribers": len(self.clients)})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        data = {"unparsed": msg.data}
                    frame = data if isinstance(data, dict) else {"unparsed": data}
                    self.received.append(frame)
                    self.received_from.append((str(hello.get("name", "")), frame))
        finally:
            if ws in self.clients:
                self.clients.remove(ws)
            await self._broadcast({"type": "status", "subscribers": len(self.clients)})
        return ws

    async def _broadcast(self, payload: dict[str, Any]) -> int:
        sent = 0
        for ws in list(self.clients):
            try:
                await ws.send_json(payload)
                sent += 1
            except (ConnectionError, RuntimeError):
                pass
        return sent

    def send(self, payload: dict[str, Any]) -> int:
        """Broadcast a raw payload to every subscriber; return how many got it."""
        return asyncio.run_coroutine_threadsafe(self._broadcast(payload), self.loop).result(5)

    def announce(self, message: str, position: int = 1, *, announcement_id: Any = None) -> int:
        """Broadcast an announce like ntrbot's POST /admin/announce does.

        With ``announcement_id`` the message carries ``"id"`` (round 2 servers); without it,
        it looks like an old server's announce.
        """
        current = self.shows[0] if self.shows else {"id": 0, "tracks": []}
        self.last_announce = {"message": message, "show_id": current["id"],
                              "position": position, "announced_at": "2026-11-26T03:00:00+00:00"}
        payload: dict[str, Any] = {
            "type": "announce",
            "message": message,
            "show_id": current["id"],
            "position": position,
            "track": {},
            "announced_at": "2026-11-26T03:00:00+00:00",
        }
        if announcement_id is not None:
            payload["id"] = announcement_id
        return self.send(payload)

    def acks(self, announcement_id: Any = None) -> list[dict[str, Any]]:
        """The ack messages received so far (for one announcement id, when given)."""
        return [
            m
            for m in list(self.received)
            if m.get("type") == "ack"
            and (announcement_id is None or m.get("id") == announcement_id)
        ]

    def acks_by_name(self, announcement_id: Any) -> dict[str, list[dict[str, Any]]]:
        """The acks for one announcement id, grouped by the subscriber's ``name``."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for name, frame in list(self.received_from):
            if frame.get("type") == "ack" and frame.get("id") == announcement_id:
                grouped.setdefault(name, []).append(frame)
        return grouped

    def kick_all(self, code: int = 1012) -> None:
        """Close every subscriber's socket (as a restarting ntrbot would)."""

        async def close() -> None:
            for ws in list(self.clients):
                await ws.close(code=code, message=b"restart")

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)
