"""JoinPlan: keys in JOIN lines, refusals remembered, retries 2, 4, 8 … 60 s, reset on join."""

from __future__ import annotations

from ntrbot.irc.joins import JoinPlan


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_join_lines_carry_keys_case_insensitively() -> None:
    plan = JoinPlan(["#Sewerchat", "#open"], {"#sewerchat": "k3y"})
    assert plan.line("#SEWERCHAT") == "JOIN #SEWERCHAT k3y"
    assert plan.line("#open") == "JOIN #open"


def test_refused_joins_back_off_from_two_seconds_to_a_minute() -> None:
    clock = Clock()
    plan = JoinPlan(["#c"], clock=clock)
    assert plan.to_join({}) == ["#c"]
    plan.sent("#c")
    assert plan.to_join({}) == []  # waiting for the server's answer
    waits = []
    for _ in range(8):
        r = plan.refused("#c", "474", "Cannot join channel (+b)")
        waits.append(r.retry_at - clock.now)
        assert not plan.due("#c", {})
        clock.now = r.retry_at
        assert plan.due("#c", {})
        plan.sent("#c")
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    assert plan.refusal_counts == {"474": 8}
    [shown] = plan.refusals()
    assert shown["message"] == "#c: banned (474 Cannot join channel (+b))"
    assert shown["reason"] == "banned" and shown["attempts"] == 8

    assert plan.joined("#c") is True  # success: the refusal is over, the backoff reset
    assert plan.refusals() == []
    r = plan.refused("#c", "471", "Cannot join channel (+l)")
    assert r.retry_at - clock.now == 2 and r.reason == "full"
    assert plan.refusal_counts == {"474": 8, "471": 1}


def test_unanswered_join_is_sent_again_and_kick_holds() -> None:
    clock = Clock()
    plan = JoinPlan(["#c"], unanswered=30, clock=clock)
    plan.sent("#c")
    clock.now += 29
    assert not plan.due("#c", {})
    clock.now += 1
    assert plan.due("#c", {})
    assert not plan.due("#c", {"#c": "#c"})  # already in it
    plan.hold("#c", 5)
    clock.now += 4
    assert not plan.due("#c", {})
    clock.now += 1
    assert plan.due("#c", {})


def test_new_connection_joins_at_once_but_keeps_the_reason() -> None:
    clock = Clock()
    plan = JoinPlan(["#c"], clock=clock)
    plan.refused("#c", "473", "Cannot join channel (+i)")
    plan.new_connection()
    assert plan.due("#c", {})
    assert plan.refusals()[0]["reason"] == "invite only"
    assert plan.refused("#c", "473", "again").attempts == 2


def test_unknown_numeric_is_refused() -> None:
    plan = JoinPlan(["#c"])
    assert plan.refused("#c", "999", "nope").message == "#c: refused (999 nope)"
