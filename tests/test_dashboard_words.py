"""The dashboard's delivery words (web/dashboard-delivery.js) and announcement merging
(web/dashboard-state.js), run in Node: the exact text the toast, marks and history show."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

WEB = Path(__file__).resolve().parents[1] / "web"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
AT = "2026-12-01T22:14:03+00:00"

DRIVER = """
import { outcome } from './dashboard-delivery.mjs';
import { state, addAnnouncement, findAnnouncement } from './dashboard-state.mjs';
const cases = JSON.parse(process.argv[2]);
const out = [];
for (const c of cases) {
  state.irc = c.irc;
  if (c.merge) {
    state.anns = new Map();
    for (const a of c.merge) addAnnouncement(a);
    out.push(findAnnouncement(c.merge[0].id));
  } else {
    out.push(outcome(c.a));
  }
}
console.log(JSON.stringify(out));
"""

UP = {"enabled": True, "connected": True, "channels": ["#sewerchat", "#other"]}
DOWN = {"enabled": True, "connected": False, "channels": [],
        "last_error": "IRC link lost — reconnecting"}
OFF = {"enabled": False, "connected": False}


def d(output: str, state: str, detail: str = "", at: str = AT) -> dict[str, str]:
    return {"output": output, "state": state, "detail": detail, "at": at}


def ann(*deliveries: dict[str, str], delivery: str | None = None, **kw: Any) -> dict[str, Any]:
    irc = [x for x in deliveries if x["output"].startswith("irc:")]
    return {"id": 1, "show_id": 1, "position": 1, "track_id": 11, "announced_at": AT,
            "delivery": delivery or (irc[0]["state"] if irc else "failed"),
            "deliveries": list(deliveries), **kw}


def run(cases: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    for f in WEB.glob("dashboard*.js"):
        text = re.sub(r"from '\./([\w-]+)\.js'", r"from './\1.mjs'", f.read_text())
        (tmp_path / (f.stem + ".mjs")).write_text(text)
    (tmp_path / "driver.mjs").write_text(DRIVER)
    env = {**os.environ, "TZ": "UTC", "LANG": "en_US.UTF-8"}
    done = subprocess.run([str(NODE), "driver.mjs", json.dumps(cases)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


IRC = "irc:#sewerchat"
CASES: list[tuple[dict[str, Any], dict[str, Any], str, str]] = [
    # (irc status, announcement, text, kind)
    (UP, ann(d(IRC, "delivered")), "in #sewerchat 22:14:03", "ok"),
    (UP, ann(d(IRC, "sent")), "sending…", "warn"),
    (UP, ann(d(IRC, "queued")), "sending…", "warn"),  # flood limit: IRC is there
    (DOWN, ann(d(IRC, "queued", "re-sending after the rejoin")),
     "sending… (waiting for IRC)", "warn"),
    (UP, ann(d(IRC, "failed", "404 Cannot send to channel")),
     "failed: 404 Cannot send to channel", "error"),
    (UP, ann(d(IRC, "expired")), "not sent (too late)", "error"),
    (UP, ann(d(IRC, "cancelled")), "cancelled", "info"),
    (UP, ann(d(IRC, "delivered"), d("relay:a", "delivered"), d("relay:b", "delivered")),
     "in #sewerchat 22:14:03 · 2/2 relays", "ok"),
    (UP, ann(d(IRC, "delivered"), d("relay:a", "delivered"), d("relay:old", "sent")),
     "in #sewerchat 22:14:03 · 1/2 relays, 1 unconfirmed", "ok"),
    (UP, ann(d(IRC, "sent"), d("relay:a", "failed", "no ack")),
     "sending… · 0/1 relays, 1 failed", "warn"),
    # several channels: each one is shown
    (UP, ann(d(IRC, "delivered"), d("irc:#other", "failed", "404 Cannot send to channel")),
     "in #sewerchat 22:14:03 · #other failed: 404 Cannot send to channel", "error"),
    (UP, ann(d(IRC, "delivered"), d("irc:#other", "delivered", at="2026-12-01T22:14:04Z")),
     "in #sewerchat 22:14:03 · in #other 22:14:04", "ok"),
    # IRC off: the relays are the outcome, or it is only recorded
    (OFF, ann(d("relay:a", "delivered"), d("relay:b", "delivered")), "2/2 relays", "ok"),
    (OFF, ann(d("relay:a", "delivered"), d("relay:b", "sent")),
     "1/2 relays, 1 unconfirmed", "ok"),
    (OFF, ann(d("relay:a", "sent")), "0/1 relays, 1 unconfirmed", "info"),
    (OFF, ann(d("relay:a", "failed", "no ack")), "0/1 relays, 1 failed", "error"),
    (OFF, ann(), "recorded (IRC is off)", "warn"),
]


def test_delivery_words(tmp_path: Path) -> None:
    got = run([{"irc": irc, "a": a} for irc, a, _, _ in CASES], tmp_path)
    assert [(o["text"], o["kind"]) for o in got] == [(t, k) for _, _, t, k in CASES]
    by_text = {o["text"]: o for o in got}
    # Send again is offered exactly where an output failed
    assert by_text["failed: 404 Cannot send to channel"]["retry"] is True
    assert by_text["0/1 relays, 1 failed"]["retry"] is True
    assert by_text["in #sewerchat 22:14:03"]["retry"] is False
    assert by_text["not sent (too late)"]["retry"] is False
    assert by_text["sending…"]["pending"] is True
    assert by_text["in #sewerchat 22:14:03 · 2/2 relays"]["pending"] is False
    # never "sent"/"delivered"/"in the channel" for what the server did not confirm
    for (_, a, _, _), o in zip(CASES, got, strict=True):
        confirmed = {x["output"][4:] for x in a["deliveries"] if x["state"] == "delivered"
                     and x["output"].startswith("irc:")}
        assert not re.search(r"(?<!not )\b(sent|delivered)\b", o["text"]), o["text"]
        for chan in re.findall(r"\bin (#\w+)", o["text"]):
            assert chan in confirmed, o["text"]


def test_merge_keeps_the_newest_state(tmp_path: Path) -> None:
    """The POST answer can arrive after a newer socket event: a final state is never lost."""
    newer = ann(d(IRC, "delivered"), d("relay:a", "delivered"))
    older = ann(d(IRC, "sent", at="2026-12-01T22:14:02Z"), d("relay:a", "sent"))
    requeued = ann(d(IRC, "queued", at="2026-12-01T22:14:09Z"))
    sent = ann(d(IRC, "sent"))
    got = run([{"irc": UP, "merge": [newer, older]},
               {"irc": UP, "merge": [sent, requeued]}], tmp_path)
    assert got[0]["delivery"] == "delivered"
    assert [x["state"] for x in got[0]["deliveries"]] == ["delivered", "delivered"]
    # sent -> queued again (link lost, re-sent after the rejoin) is a real change
    assert got[1]["deliveries"][0]["state"] == "queued" and got[1]["delivery"] == "queued"
