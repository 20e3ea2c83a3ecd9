"""IRCv3 STS: move a plaintext link to TLS on the port offered; keep the policy on disk."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ntrbot.irc")

MAX_DURATION = 10 * 365 * 86400  # a longer duration is taken as ten years


def parse_value(value: str | None) -> dict[str, str]:
    """'port=6697,duration=300,preload' -> {'port': '6697', 'duration': '300', 'preload': ''}."""
    out: dict[str, str] = {}
    for token in (value or "").split(","):
        key, _, val = token.strip().partition("=")
        if key and key.lower() not in out:  # a key given twice: the first counts
            out[key.lower()] = val
    return out


def _number(text: str | None, low: int, high: int) -> int | None:
    if text is None or not text.isdigit():
        return None
    n = int(text)
    return n if low <= n <= high else None


def policy_path(db_path: str) -> str | None:
    """Where the policies live: next to the database (`<NTR_DB_PATH>.sts.json`)."""
    if not db_path or db_path == ":memory:" or db_path.startswith("file:"):
        return None
    return db_path + ".sts.json"


class StsStore:
    """Persistent STS policies by host name: {"host": {"port", "duration", "expires"}}.

    `expires` is wall-clock time (it must survive a restart). A file that cannot be read is
    ignored (one log line); a write that fails is logged and the policy kept in memory.
    """

    def __init__(self, path: str | None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._policies: dict[str, dict[str, Any]] = self._load()

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path or not os.path.exists(self.path):
            return {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
            return {str(h).lower(): {"port": int(p["port"]), "duration": int(p["duration"]),
                                     "expires": float(p["expires"])}
                    for h, p in data.items()}
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("IRC ignoring the STS policy file %s: %s", self.path, exc)
            return {}

    def _save(self) -> None:
        if not self.path:
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".sts-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._policies, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("IRC could not save the STS policy to %s: %s", self.path, exc)

    def get(self, host: str) -> dict[str, Any] | None:
        """The host's policy while it holds; an expired one is dropped."""
        policy = self._policies.get(host.lower())
        if policy is None:
            return None
        if policy["expires"] <= self._clock():
            log.info("IRC STS policy for %s expired", host)
            self.remove(host)
            return None
        return policy

    def set(self, host: str, port: int, duration: int) -> None:
        duration = min(duration, MAX_DURATION)
        self._policies[host.lower()] = {"port": port, "duration": duration,
                                        "expires": self._clock() + duration}
        self._save()

    def remove(self, host: str) -> None:
        if self._policies.pop(host.lower(), None) is not None:
            self._save()

    def reschedule(self, host: str) -> None:
        """Connection closing: the policy runs for its duration from now (as the spec says)."""
        policy = self._policies.get(host.lower())
        if policy is not None and policy["expires"] > self._clock():
            self.set(host, policy["port"], policy["duration"])


class Sts:
    """One server's STS state: which port and TLS to connect with, and what the cap said.

    A plaintext connection offered `sts=port=N` is closed and retried with TLS on N (for
    the rest of this process even without a policy). On TLS, `sts=duration=D` stores the
    policy (only when the certificate was verified), `duration=0` removes it. While a policy
    holds, every connect is TLS on its port: never plaintext, even when TLS fails.
    """

    def __init__(self, host: str, port: int, tls: bool, *, verify: bool,
                 store: StsStore) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self._configured = (port, tls)
        self.verify = verify
        self.store = store
        self.upgrade_port: int | None = None
        self.upgrades = 0  # plaintext links closed for an upgrade (for /health and metrics)

    def target(self) -> tuple[int, bool]:
        """(port, tls) for the next connect."""
        policy = self.store.get(self.host)
        if policy is not None:
            self.port, self.tls = int(policy["port"]), True
        elif self.upgrade_port is not None:
            self.port, self.tls = self.upgrade_port, True
        else:
            self.port, self.tls = self._configured
        return self.port, self.tls

    @property
    def policy(self) -> dict[str, Any] | None:
        """The stored policy for /health: {"port", "duration", "expires_in"} or None."""
        p = self.store.get(self.host)
        if p is None:
            return None
        return {"port": p["port"], "duration": p["duration"],
                "expires_in": round(p["expires"] - self.store._clock())}

    def on_caps(self, offered: dict[str, str | None]) -> bool:
        """The server's capabilities (CAP LS / NEW). True: close this link, reconnect now."""
        if "sts" not in offered:
            return False
        tokens = parse_value(offered["sts"])
        if not self.tls:
            port = _number(tokens.get("port"), 1, 65535)
            if port is None:
                log.warning("IRC ignoring an STS upgrade without a valid port: %.80r",
                            offered["sts"])
                return False
            log.info("IRC server %s asks for TLS (STS): reconnecting with TLS on port %d",
                     self.host, port)
            self.upgrade_port = port
            self.upgrades += 1
            return True
        duration = _number(tokens.get("duration"), 0, 2**62)
        if duration is None:
            return False  # an upgrade-only policy on TLS: nothing to remember
        if duration == 0:
            if self.store.get(self.host) is not None:
                log.info("IRC STS policy for %s removed by the server (duration=0)", self.host)
            self.store.remove(self.host)
            return False
        if not self.verify:
            log.info("IRC STS policy for %s not remembered: NTR_IRC_TLS_VERIFY is off",
                     self.host)
            return False
        if self.store.get(self.host) is None:
            log.info("IRC STS policy for %s: TLS on port %d for %d s", self.host, self.port,
                     duration)
        self.store.set(self.host, self.port, duration)
        return False

    def disconnected(self) -> None:
        if self.tls:
            self.store.reschedule(self.host)
