"""The one definition of delivery states and output kinds, and what reads it."""

from __future__ import annotations

import json

from ntrbot.deliveries import FINAL, DeliveryState, OutputKind, output_kind
from ntrbot.store.models import Announcement, OutputDelivery
from tests.support.constants import FROZEN_NOW


def test_the_state_names_are_the_enums_values() -> None:
    assert [s.value for s in DeliveryState] == [
        "queued", "sent", "delivered", "failed", "expired", "cancelled"]
    assert {s.value for s in FINAL} == {"delivered", "failed", "expired", "cancelled"}


def test_every_output_name_has_its_kind() -> None:
    assert output_kind("irc:#sewerchat") is OutputKind.IRC
    assert output_kind("relay:sopel@net") is OutputKind.RELAY
    assert output_kind("relay:irc:odd") is OutputKind.RELAY
    assert output_kind("discord") is OutputKind.DISCORD
    assert output_kind("webhook:hooks.example:8443-2") is OutputKind.WEBHOOK


def test_a_stored_state_becomes_the_enum_and_stays_a_plain_string_in_json() -> None:
    # a plain string, as a row would give it: the model makes it the enum
    d = OutputDelivery("relay:bot", "sent", "", FROZEN_NOW)  # type: ignore[arg-type]
    assert d.state is DeliveryState.SENT and d.kind is OutputKind.RELAY and not d.final
    ann = Announcement(1, 1, 1, 1, "m", FROZEN_NOW, "web", "delivered",  # type: ignore[arg-type]
                       deliveries=(d,))
    assert ann.delivery is DeliveryState.DELIVERED
    text = json.dumps(ann.to_json())
    assert '"delivery": "delivered"' in text and '"state": "sent"' in text
    assert "kind" not in text  # the JSON is what it was
