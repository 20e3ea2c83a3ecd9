"""Loaded by the ntrbot process under test: a compressed IRC reconnect schedule.

The product waits 2 s, 4 s, ... up to 60 s between reconnects and only starts over after a
connection that lasted 60 s. A show night with server restarts minutes apart goes through
that schedule from the start every time; to replay ten restarts in seconds, the same
schedule is scaled down here (NTRTEST_BACKOFF="first,cap,stable_after").
"""

import os

_spec = os.environ.get("NTRTEST_BACKOFF")
if _spec:
    from ntrbot.irc import backoff as _backoff

    _first, _cap, _stable = (float(x) for x in _spec.split(","))
    _backoff.Backoff.__init__.__defaults__ = (_first, _cap, 2.0, _stable)
