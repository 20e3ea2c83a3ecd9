"""ntrbot.irc._schedule stands in for jaraco `irc.schedule` without importing tempora."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import cast

import irc.client

from ntrbot.irc import _schedule

REPO = Path(__file__).resolve().parents[2]


def test_loading_ntrbot_irc_leaves_tempora_out() -> None:
    code = ("import sys, ntrbot.app, ntrbot.irc.client, ntrbot.irc.transport, irc.client\n"
            "assert sys.modules['irc.schedule'].__name__ == 'ntrbot.irc._schedule'\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'tempora', 'dateutil'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_it_offers_the_names_of_the_real_module() -> None:
    spec = find_spec("irc")
    assert spec is not None and spec.submodule_search_locations
    real = Path(next(iter(spec.submodule_search_locations))) / "schedule.py"
    names = {n.name for n in ast.parse(real.read_text()).body if isinstance(n, ast.ClassDef)}
    assert names and all(hasattr(_schedule, n) for n in names)


def test_the_reactor_schedules_through_tempora_when_asked() -> None:
    reactor = irc.client.Reactor()
    assert isinstance(reactor.scheduler, _schedule.IScheduler)
    fired: list[str] = []
    reactor.scheduler.run_pending()  # nothing scheduled: no tempora needed
    reactor.scheduler.execute_after(0, lambda: fired.append("after"))
    reactor.scheduler.execute_every(3600, lambda: fired.append("every"))
    reactor.scheduler.run_pending()
    assert fired == ["after"]
    scheduler = cast(_schedule.DefaultScheduler, reactor.scheduler)  # the one Reactor makes
    assert len(scheduler.queue) == 1  # the periodic one, next due in an hour
