"""ntrbot's IRC bot: the transport (client), the channel commands and their helpers."""

from ntrbot.irc.client import Delivery, DisabledIrc, IrcClient
from ntrbot.irc.commands import BotServices, CommandHandler

__all__ = ["BotServices", "CommandHandler", "Delivery", "DisabledIrc", "IrcClient"]
