"""Stands in for jaraco `irc.schedule`, importing `tempora` only when something schedules.

`irc.client` imports `irc.schedule` when it loads, for the scheduler of its *sync* Reactor,
and `irc.schedule` imports tempora, which imports python-dateutil, decimal, ctypes and
jaraco.collections: about 2 MB of a running ntrbot that nothing uses (the asyncio reactor
runs on the event loop, and ntrbot never calls `execute_every/at/after`). Importing this
module before `irc.client` (ntrbot/irc/__init__.py does) puts it in
`sys.modules["irc.schedule"]`: the same two names, and a DefaultScheduler that builds
tempora's scheduler on its first use, so anything that does schedule works as before.
"""

from __future__ import annotations

import abc
import sys
from typing import Any

import irc


class IScheduler(metaclass=abc.ABCMeta):
    """The interface of irc.schedule.IScheduler (the reactor checks for it)."""

    @abc.abstractmethod
    def execute_every(self, period: Any, func: Any) -> None:
        """Call `func` every `period`."""

    @abc.abstractmethod
    def execute_at(self, when: Any, func: Any) -> None:
        """Call `func` at `when`."""

    @abc.abstractmethod
    def execute_after(self, delay: Any, func: Any) -> None:
        """Call `func` once `delay` has passed."""

    @abc.abstractmethod
    def run_pending(self) -> None:
        """Call what is due now."""


class DefaultScheduler(IScheduler):
    """irc.schedule.DefaultScheduler (a tempora InvokeScheduler), made on first use."""

    def __init__(self) -> None:
        self._invoker: Any = None

    def _scheduler(self) -> Any:
        if self._invoker is None:
            from tempora import schedule

            self._invoker = schedule.InvokeScheduler()
        return self._invoker

    def __getattr__(self, name: str) -> Any:  # add, queue, run: the InvokeScheduler's
        if name.startswith("__") or name == "_invoker":
            raise AttributeError(name)
        return getattr(self._scheduler(), name)

    def execute_every(self, period: Any, func: Any) -> None:
        from tempora import schedule

        self._scheduler().add(schedule.PeriodicCommand.after(period, func))

    def execute_at(self, when: Any, func: Any) -> None:
        from tempora import schedule

        self._scheduler().add(schedule.DelayedCommand.at_time(when, func))

    def execute_after(self, delay: Any, func: Any) -> None:
        from tempora import schedule

        self._scheduler().add(schedule.DelayedCommand.after(delay, func))

    def run_pending(self) -> None:
        if self._invoker is not None:  # nothing was ever scheduled otherwise
            self._invoker.run_pending()


if "irc.schedule" not in sys.modules:  # else the real one is loaded already: keep it
    sys.modules["irc.schedule"] = sys.modules[__name__]
    irc.schedule = sys.modules[__name__]
