"""Channel and private commands: per-user limits, one task each, replies into the send queue."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import irc.client
import irc.strings

from ntrbot.irc.delivery import Delivery
from ntrbot.irc.flood import TokenBucket

if TYPE_CHECKING:
    from ntrbot.irc.commands import CommandHandler
    from ntrbot.irc.link import LinkState
    from ntrbot.irc.replay import ReplayFilter
    from ntrbot.irc.sendqueue import SendQueue

log = logging.getLogger("ntrbot.irc")

COMMAND_REPLY_FRESH = 30.0
MAX_COMMAND_TASKS = 16
MAX_REPLY_LINES = 5
USER_COMMAND_BURST = 5
USER_COMMAND_RATE = 0.5  # commands per second per user, after the burst


class CommandRunner:
    """Runs the CommandHandler for each command message; `tasks` are those still running."""

    def __init__(self, state: LinkState, queue: SendQueue, replay: ReplayFilter,
                 fit: Callable[[str, str], str], commands: CommandHandler | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.queue = queue
        self.replay = replay
        self.fit = fit  # (target, text) -> the line as it may go out
        self.commands = commands
        self._clock = clock
        self.tasks: set[asyncio.Task[Any]] = set()
        self._running = 0
        self._user_buckets: dict[str, TokenBucket] = {}

    def user_allowed(self, source: str) -> bool:
        """Per-user command limit, so that one user cannot hog the replies. Keyed by
        user@host, not the nick: a NICK change must not buy a fresh burst."""
        mask = irc.client.NickMask(source)
        who = irc.strings.lower(f"{mask.user}@{mask.host}" if mask.user and mask.host
                                else mask.nick)
        bucket = self._user_buckets.get(who)
        if bucket is None:
            if len(self._user_buckets) > 1000:  # forget the users whose burst is back
                for key in [k for k, b in self._user_buckets.items() if b.tokens >= b.burst]:
                    del self._user_buckets[key]
            if len(self._user_buckets) > 1000:
                self._user_buckets.clear()
            bucket = self._user_buckets[who] = TokenBucket(
                USER_COMMAND_BURST, USER_COMMAND_RATE, self._clock)
        return bucket.try_take()

    def on_message(self, event: irc.client.Event, reply_to: str) -> None:
        """A PRIVMSG to a channel or to us: a command (with the prefix) gets an answer."""
        if self.commands is None or not event.arguments or self.state.is_me(event.source.nick):
            return
        text = event.arguments[0]
        if not text.startswith(self.commands.prefix):
            return
        why = self.replay.reason(event.tags)
        if why is not None:
            log.info("IRC not answering a replayed command from %s (%s)", event.source, why)
            return
        if not self.user_allowed(str(event.source)):
            log.info("IRC ignoring a command from %s: too many too fast", event.source)
            return
        if self._running >= MAX_COMMAND_TASKS:
            log.warning("IRC too many commands in flight; ignoring one from %s", event.source)
            return
        self._running += 1
        task = asyncio.create_task(
            self._run(self.commands, str(event.source), event.target, text, reply_to))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, commands: CommandHandler, source: str, target: str, text: str,
                   reply_to: str) -> None:
        try:
            replies = await asyncio.wait_for(commands.handle(source, target, text), 60)
        except Exception:
            log.exception("IRC command %.60r from %s failed", text, source)
            replies = ["Sorry, that failed; try again later."]
        finally:
            self._running -= 1
        for reply in replies[:MAX_REPLY_LINES]:
            line = self.fit(reply_to, reply)
            if line:
                self.queue.put(Delivery(reply_to, line, fresh_for=COMMAND_REPLY_FRESH,
                                        clock=self._clock))
