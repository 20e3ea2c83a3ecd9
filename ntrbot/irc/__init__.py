"""ntrbot's IRC bot: the transport (client), the channel commands and their helpers."""

# First, before anything loads jaraco's irc.client: see _schedule.py (saves ~2 MB).
from ntrbot.irc import _schedule  # noqa: F401  # isort: split
from ntrbot.irc.client import Delivery, DisabledIrc, IrcClient
from ntrbot.irc.commands import BotServices, CommandHandler

__all__ = ["BotServices", "CommandHandler", "Delivery", "DisabledIrc", "IrcClient"]
