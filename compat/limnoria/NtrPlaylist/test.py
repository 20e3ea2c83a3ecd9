"""supybot-test cases for NtrPlaylist, against local stand-ins of ntrbot's HTTP API and WS hub."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from supybot import conf
from supybot.test import *  # noqa: F403

try:
    from aiohttp import WSMsgType, web
except ImportError:  # the relay tests need aiohttp for the WebSocket stand-in
    web = None

TOKEN = "limnoria-test-token"


def _track(position: int, title: str) -> dict[str, Any]:
    return {
        "position": position,
        "id": 1000 + position,
        "title": title,
        "artist": f"Artist {position}",
        "permalink_url": f"https://soundcloud.com/a/t{position}",
    }


CURRENT = {
    "id": 2,
    "episode": 42,
    "week_start": "",
    "week_end": "",
    "tracks": [_track(1, "First Song"), _track(2, "Second\r\nSong")],
}
PREVIOUS = {
    "id": 1,
    "episode": 41,
    "week_start": "",
    "week_end": "",
    "tracks": [_track(1, "Old One"), _track(2, "Old Two")],
}
ROUTES: dict[str, Any] = {
    "/playlist": CURRENT,
    "/playlist/1": CURRENT["tracks"][0],
    "/playlist/2": CURRENT["tracks"][1],
    "/shows?limit=2": {"shows": [{"id": 2, "episode": 42}, {"id": 1, "episode": 41}], "total": 2},
    "/shows/1": PREVIOUS,
    "/shows/2": CURRENT,
}


class _ApiHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ROUTES.get(self.path)
        status = 200 if body is not None else 404
        data = json.dumps(body if body is not None else {"error": "not found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _WsHub:
    """Plays ntrbot's /ws/announce protocol on a loopback port, in a thread of its own."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.clients: list[Any] = []
        self.hellos: list[Any] = []  # every subscribe message received
        self.received: list[Any] = []  # every later JSON message (the acks)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/ws/announce", self._ws)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self.loop.run_forever()

    async def _ws(self, request: Any) -> Any:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = await ws.receive(timeout=10)
        hello = json.loads(first.data) if first.type == WSMsgType.TEXT else {}
        self.hellos.append(hello)
        if hello.get("type") != "subscribe" or hello.get("token") != TOKEN:
            await ws.close(code=4001, message=b"unauthorized")
            return ws
        self.clients.append(ws)
        await ws.send_json({"type": "status", "subscribers": len(self.clients)})
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.received.append(json.loads(msg.data))
        self.clients.remove(ws)
        return ws

    def announce(self, message: str, announcement_id: Any = None) -> None:
        payload = {
            "type": "announce",
            "message": message,
            "show_id": 2,
            "position": 1,
            "track": {},
            "announced_at": "",
        }
        if announcement_id is not None:
            payload["id"] = announcement_id

        async def send() -> None:
            for ws in list(self.clients):
                await ws.send_json(payload)

        asyncio.run_coroutine_threadsafe(send(), self.loop).result(5)

    def acks(self, announcement_id: Any) -> list[Any]:
        return [m for m in list(self.received) if m.get("id") == announcement_id]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _group() -> Any:
    return conf.supybot.plugins.NtrPlaylist


class NtrPlaylistCommandsTestCase(ChannelPluginTestCase):  # noqa: F405
    plugins = ("NtrPlaylist",)

    @classmethod
    def setUpClass(cls) -> None:
        cls.api = ThreadingHTTPServer(("127.0.0.1", 0), _ApiHandler)
        threading.Thread(target=cls.api.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.api.shutdown()
        cls.api.server_close()

    def setUp(self) -> None:
        _group().wsUrl.setValue("")  # no WebSocket for command tests
        _group().apiBaseUrl.setValue(f"http://127.0.0.1:{self.api.server_address[1]}")
        super().setUp()

    def testSong(self) -> None:
        self.assertResponse(
            "song 1", "Song #1: First Song by Artist 1 - https://soundcloud.com/a/t1"
        )

    def testSongStripsLineBreaks(self) -> None:
        self.assertResponse(
            "song 2", "Song #2: Second Song by Artist 2 - https://soundcloud.com/a/t2"
        )

    def testSongMissing(self) -> None:
        self.assertResponse("song 9", "No track #9 in the current show.")

    def testSongNeedsNumber(self) -> None:
        self.assertError("song abc")

    def testPlaylist(self) -> None:
        self.assertRegexp("playlist", r"Episode 42 \(2 tracks\): 1\. First Song by Artist 1")

    def testLastshow(self) -> None:
        self.assertResponse(
            "lastshow 2",
            "Last show (episode 41): song #2: Old Two by Artist 2 - https://soundcloud.com/a/t2",
        )

    def testNpBeforeAnyAnnounce(self) -> None:
        self.assertResponse("np", "Nothing announced yet.")

    def testUnreachable(self) -> None:
        _group().apiBaseUrl.setValue(f"http://127.0.0.1:{_free_port()}")
        self.assertResponse("song 1", "ntrbot is unreachable right now, try again later.")
        self.assertResponse("playlist", "ntrbot is unreachable right now, try again later.")

    def testTokenIsPrivate(self) -> None:
        self.assertTrue(_group().adminToken._private)

    def testReloadKeepsWorking(self) -> None:
        """`reload NtrPlaylist` reloads ntrclient too, and the commands still answer."""
        self.assertNotError("reload NtrPlaylist")
        self.assertResponse(
            "song 1", "Song #1: First Song by Artist 1 - https://soundcloud.com/a/t1"
        )


if web is not None:

    class NtrPlaylistRelayTestCase(ChannelPluginTestCase):  # noqa: F405
        plugins = ("NtrPlaylist",)

        def setUp(self) -> None:
            self.hub = _WsHub()
            _group().wsUrl.setValue(f"ws://127.0.0.1:{self.hub.port}/ws/announce")
            _group().adminToken.setValue(TOKEN)
            _group().announceChannel.setValue(self.channel)
            super().setUp()

        def tearDown(self) -> None:
            super().tearDown()
            self.hub.close()
            _group().wsUrl.setValue("")
            _group().adminToken.setValue("")
            _group().relayName.setValue("")

        def _plugin(self) -> Any:
            return self.irc.getCallback("NtrPlaylist")

        def _next_privmsg(self, timeout: float = 10.0) -> Any:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                msg = self.irc.takeMsg()
                if msg is not None and msg.command == "PRIVMSG":
                    return msg
                time.sleep(0.05)
            return None

        def testRelaysAnnounce(self) -> None:
            self.assertTrue(_wait(lambda: len(self.hub.clients) == 1), "plugin never subscribed")
            self.hub.announce("Now Playing: Song #1: First Song by Artist 1\r\nPRIVMSG #x :evil")
            msg = self._next_privmsg()
            self.assertIsNotNone(msg, "announce was not relayed")
            self.assertEqual(msg.args[0], self.channel)
            self.assertEqual(
                msg.args[1], "Now Playing: Song #1: First Song by Artist 1 PRIVMSG #x :evil"
            )
            self.assertResponse(
                "np", "Now Playing: Song #1: First Song by Artist 1 PRIVMSG #x :evil"
            )

        def testWrongTokenIsRefused(self) -> None:
            plugin = self._plugin()
            plugin._listener.stop()
            _group().adminToken.setValue("wrong")
            listener = type(plugin._listener)(
                lambda: (_group().wsUrl(), _group().adminToken()),
                lambda text: None,
                logger=plugin.log,
                token_setting="plugins.NtrPlaylist.adminToken",
            )
            listener.start()
            try:
                self.assertTrue(_wait(lambda: listener.last_close_code == 4001))
                self.assertEqual(self.hub.clients, [])
            finally:
                self.assertTrue(listener.stop(timeout=3))

        def testDieStopsListenerThread(self) -> None:
            self.assertTrue(_wait(lambda: len(self.hub.clients) == 1), "plugin never subscribed")
            plugin = self._plugin()
            started = time.monotonic()
            plugin.die()
            self.assertFalse(plugin._listener.alive)
            self.assertLess(time.monotonic() - started, 3.0)
            self.assertTrue(_wait(lambda: self.hub.clients == []))

        # --- round 2: name, acks after queueMsg, failures, hostile announces ---------------

        def _subscribed(self) -> None:
            self.assertTrue(_wait(lambda: len(self.hub.clients) == 1), "plugin never subscribed")

        def _ack(self, announcement_id: int) -> Any:
            self.assertTrue(_wait(lambda: self.hub.acks(announcement_id)), self.hub.received)
            [ack] = self.hub.acks(announcement_id)
            return ack

        def testSubscribesAsNickAtNetworkAskingForAcks(self) -> None:
            self._subscribed()
            self.assertEqual(
                self.hub.hellos[-1],
                {
                    "type": "subscribe",
                    "token": TOKEN,
                    "name": f"{self.irc.nick}@{self.irc.network}",
                    "acks": True,
                },
            )

        def testRelayNameSettingOverrides(self) -> None:
            self._subscribed()
            _group().relayName.setValue("sewer-limnoria")
            self.assertNotError("reload NtrPlaylist")
            self.assertTrue(_wait(lambda: self.hub.hellos[-1].get("name") == "sewer-limnoria"))

        def testAcksAfterQueueMsg(self) -> None:
            self._subscribed()
            queued: list[Any] = []
            real_queue = self.irc.queueMsg

            def queue(msg: Any) -> Any:
                queued.append(msg)
                return real_queue(msg)

            self.irc.queueMsg = queue
            seen_at_ack: list[int] = []

            def acked() -> bool:
                count = len(queued)  # read before the acks: the ack comes after queueMsg
                if self.hub.acks(7):
                    seen_at_ack.append(count)
                    return True
                return False

            try:
                self.hub.announce("Now Playing: Song #1: First Song - https://x", 7)
                self.assertTrue(_wait(acked))
            finally:
                del self.irc.queueMsg
            self.assertEqual(seen_at_ack, [1])
            self.assertEqual(self.hub.acks(7), [{"type": "ack", "id": 7, "ok": True}])
            msg = self._next_privmsg()
            self.assertEqual(msg.args, (self.channel, "Now Playing: Song #1: First Song - https://x"))

        def testAnnounceWithoutIdIsNotAcked(self) -> None:
            self._subscribed()
            self.hub.announce("Now Playing: old server")
            self.hub.announce("Now Playing: new server", 8)
            self._ack(8)
            self.assertEqual([m["id"] for m in self.hub.received], [8])
            self.assertEqual(self._next_privmsg().args[1], "Now Playing: old server")
            self.assertEqual(self._next_privmsg().args[1], "Now Playing: new server")

        def testNotInTheChannelAcksFalseWithTheReason(self) -> None:
            self._subscribed()
            self._plugin()._listener.post_wait = 0.3
            _group().announceChannel.setValue("#elsewhere")
            self.hub.announce("Now Playing: nobody hears this", 9)
            self.assertEqual(
                self._ack(9),
                {"type": "ack", "id": 9, "ok": False,
                 "detail": "not in #elsewhere on any network"},
            )
            self.assertIsNone(self._next_privmsg(timeout=0.5))

        def testRefusedByTheQueueAcksFalse(self) -> None:
            self._subscribed()
            self.irc.queueMsg = lambda msg: False  # as Limnoria does for a zombie connection
            try:
                self.hub.announce("Now Playing: refused", 10)
                ack = self._ack(10)
            finally:
                del self.irc.queueMsg
            self.assertEqual(
                ack,
                {"type": "ack", "id": 10, "ok": False,
                 "detail": f"Limnoria did not queue it on {self.irc.network}"},
            )

        def testHostileAnnounceIsOneSafeLineWithinTheLimitKeepingTheUrl(self) -> None:
            self._subscribed()
            url = "https://soundcloud.com/some-artist/a-rather-long-track-name-1"
            for n, filler in enumerate(["Title ", "T\u00eftl\u00e9\u2603", "X"]):
                title = (filler * 2000)[:2000]
                self.hub.announce(
                    f"Now Playing: Song #1: \x01ACTION {title}\r\nQUIT :pwned\x00\x0304,01red"
                    f"\x02 by Artist\n\r - {url}",
                    20 + n,
                )
                self.assertTrue(self._ack(20 + n)["ok"])
                msg = self._next_privmsg()
                self.assertIsNone(self._next_privmsg(timeout=0.3))  # exactly one line
                text = msg.args[1]
                wire = f":{self.irc.prefix} PRIVMSG {self.channel} :{text}\r\n".encode()
                self.assertLessEqual(len(wire), 512)
                self.assertGreater(len(wire), 400)
                self.assertTrue(text.endswith("\u2026 " + url), text)
                self.assertTrue(text.startswith("Now Playing: Song #1: ACTION "), text)
                self.assertFalse([c for c in text if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0])
