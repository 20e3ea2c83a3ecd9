"""NtrPlaylist: relay ntrbot's live NtR announcements and answer playlist commands."""

from importlib import reload

import supybot
from supybot import world

__version__ = "0.1.0"
__author__ = supybot.authors.unknown
__contributors__: dict = {}
__url__ = ""

from . import config, ntrclient, plugin

# In case we're being reloaded (ntrclient before the plugin that imports from it).
reload(config)
reload(ntrclient)
reload(plugin)

if world.testing:
    from . import test  # noqa: F401

Class = plugin.Class
configure = config.configure
