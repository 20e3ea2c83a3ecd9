"""Loaded by the ntrbot process under test: a compressed IRC reconnect schedule.

The product waits up to 2 s for three tries, then 4 s, 8 s, ... up to 60 s between
reconnects, and starts over once a rejoined link carried traffic (or lasted 60 s). To replay
ten restarts in seconds, the same schedule is scaled down here
(NTRTEST_BACKOFF="first,cap,stable_after").
"""

import os

_spec = os.environ.get("NTRTEST_BACKOFF")
if _spec:
    from ntrbot.irc import backoff as _backoff

    _first, _cap, _stable = (float(x) for x in _spec.split(","))
    _backoff.Backoff.__init__.__defaults__ = (_first, _cap, 2.0, _stable)
