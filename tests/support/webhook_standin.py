"""Stand-ins for Discord's execute-webhook and a signed-JSON receiver, answering as scripted."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from ntrbot.announcing.outputs.webhooks import SIGNATURE_HEADER

SECRET = "whsec-0123456789abcdef"
DISCORD_PATH = "/api/webhooks/1234567890/s3cr3t-discord-token"
HOOK_PATH = "/hooks/s3cr3t-hook-path"


@dataclass
class StandIn:
    """A Discord execute-webhook and a signed-JSON receiver, answering as scripted.

    `script` is a list of answers taken one per request ("200", "429", "500", "400",
    "hang"); when it is empty, "200". `requests` records each request seen.
    """

    script: list[str] = field(default_factory=list)
    retry_after: float = 0.2
    retry_after_in_body: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def _scripted(self, request: web.Request) -> web.StreamResponse | None:
        answer = self.script.pop(0) if self.script else "200"
        if answer == "hang":
            await self.release.wait()
            return web.Response(status=504)
        if answer == "429":
            body: dict[str, Any] = {"message": "You are being rate limited.", "global": False}
            if self.retry_after_in_body:
                body["retry_after"] = self.retry_after
            return web.json_response(body, status=429, headers={
                "Retry-After": str(max(1, round(self.retry_after))),
                "X-RateLimit-Scope": "user"})
        if answer != "200":
            return web.json_response({"message": "scripted", "code": 0}, status=int(answer))
        return None

    async def discord(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append({"kind": "discord", "query": dict(request.query), "raw": raw,
                              "headers": dict(request.headers)})
        scripted = await self._scripted(request)
        if scripted is not None:
            return scripted
        data = json.loads(raw)
        if request.query.get("wait") != "true":
            return web.Response(status=204)
        return web.json_response({
            "id": "1311111111111111111", "type": 0, "content": data["content"],
            "channel_id": "1300000000000000000", "webhook_id": "1234567890",
            "author": {"id": "1234567890", "username": "ntrbot", "bot": True},
            "attachments": [], "embeds": [], "mentions": [], "mention_roles": [],
            "pinned": False, "mention_everyone": False, "tts": False,
            "timestamp": "2026-11-26T15:42:59.500000+00:00", "flags": 0})

    async def hook(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append({"kind": "hook", "raw": raw, "headers": dict(request.headers)})
        scripted = await self._scripted(request)
        if scripted is not None:
            return scripted
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
            return web.json_response({"error": "bad signature"}, status=401)
        return web.Response(status=204)
