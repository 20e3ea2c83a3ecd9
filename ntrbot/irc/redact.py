"""Hide channel keys and NickServ passwords from jaraco `irc`'s DEBUG lines (both ways)."""

from __future__ import annotations

import logging
import re

# "JOIN #chan key"; a key set or shown by MODE / RPL_CHANNELMODEIS (324) with +k
_CHANNEL_KEY = re.compile(r"(\bJOIN +\S+ +|\bMODE +[#&+!]\S* +[-+]\S*k\S* +|"
                          r"\b324 +\S+ +\S+ +\+\S*k\S* +)\S.*", re.IGNORECASE)
# our line to NickServ (or its echo): "PRIVMSG NickServ :IDENTIFY account password"
_SERVICES_LINE = re.compile(r"(PRIVMSG +NickServ +:?(?:IDENTIFY|GHOST|REGAIN|RECOVER|RELEASE)\b)"
                            r".*", re.IGNORECASE)
# a NickServ line as jaraco's parsed-event debug line shows it (an echo-message echo):
# "command: privmsg, source: ..., target: NickServ, arguments: ['IDENTIFY nick password']"
_SERVICES_EVENT = re.compile(r"(target: NickServ, arguments: \[['\"]"
                             r"(?:IDENTIFY|GHOST|REGAIN|RECOVER|RELEASE)\b).*", re.IGNORECASE)


class RedactKeys(logging.Filter):
    """Replaces a channel key or a services password in a log line by `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        redacted = _CHANNEL_KEY.sub(lambda m: m.group(1) + "***", msg)
        redacted = _SERVICES_LINE.sub(lambda m: m.group(1) + " ***", redacted)
        redacted = _SERVICES_EVENT.sub(lambda m: m.group(1) + " ***", redacted)
        if redacted != msg:
            record.msg, record.args = redacted, ()
        return True


for _name in ("irc.client", "irc.client_aio"):
    logging.getLogger(_name).addFilter(RedactKeys())
