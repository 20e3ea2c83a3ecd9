"""ntrbot's IRC bot: the transport (client), the channel commands and their helpers."""

# First, before anything loads jaraco's irc.client: see _schedule.py (saves ~2 MB).
from ntrbot.irc import _schedule  # noqa: F401
