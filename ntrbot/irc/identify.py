"""NickServ IDENTIFY for networks without SASL: once per connection, right after 001."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ntrbot.text import clean

log = logging.getLogger("ntrbot.irc")

SERVICE = "NickServ"


class NickServIdentify:
    """`registered()` sends `PRIVMSG NickServ :IDENTIFY <account> <password>` unless SASL
    already logged us in; NickServ's notices are logged (its words, never the password)."""

    def __init__(self, account: str, password: str | None,
                 send: Callable[[str], None]) -> None:
        self.account = account
        self._password = password
        self._send = send
        self.sent = 0  # IDENTIFY lines written since start

    @property
    def wanted(self) -> bool:
        return bool(self._password)

    def registered(self, *, sasl_done: bool) -> bool:
        """001 arrived: identify when a password is set and SASL did not log us in."""
        if not self._password:
            return False
        if sasl_done:
            log.debug("IRC logged in by SASL; no NickServ IDENTIFY")
            return False
        log.info("IRC identifying to %s as %s (no SASL login)", SERVICE, self.account)
        self._send(f"PRIVMSG {SERVICE} :IDENTIFY {self.account} {self._password}")
        self.sent += 1
        return True

    def notice(self, sender: str | None, text: str) -> None:
        """A NOTICE to us: NickServ's answer is worth one log line."""
        if self._password and sender and sender.lower() == SERVICE.lower():
            said = clean(text)
            if self._password in said:  # a services package that echoes it: never log it
                said = said.replace(self._password, "***")
            log.info("IRC %s: %.200s", SERVICE, said)
