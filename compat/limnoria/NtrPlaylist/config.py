"""Registry settings of the NtrPlaylist plugin (plugins.NtrPlaylist.*)."""

from supybot import conf, registry


def configure(advanced: bool) -> None:
    """Called by supybot-wizard when the plugin is added."""
    from supybot.questions import something

    conf.registerPlugin("NtrPlaylist", True)
    group = conf.supybot.plugins.NtrPlaylist
    group.wsUrl.setValue(something("ntrbot WebSocket URL?", default=group.wsUrl()))
    group.adminToken.setValue(
        something("ntrbot relay token (one of NTR_RELAY_TOKENS, or NTR_ADMIN_TOKEN)?")
    )
    group.announceChannel.setValue(
        something("Channel to post announcements to?", default=group.announceChannel())
    )
    group.apiBaseUrl.setValue(something("ntrbot HTTP API base URL?", default=group.apiBaseUrl()))


NtrPlaylist = conf.registerPlugin("NtrPlaylist")

conf.registerGlobalValue(
    NtrPlaylist,
    "wsUrl",
    registry.String(
        "ws://127.0.0.1:8000/ws/announce",
        """WebSocket URL of ntrbot's announce hub (ws://host:port/ws/announce; use
        wss:// for an ntrbot on another machine).""",
    ),
)
conf.registerGlobalValue(
    NtrPlaylist,
    "adminToken",
    registry.String(
        "",
        """ntrbot token sent to subscribe to announcements: preferably one of ntrbot's
        NTR_RELAY_TOKENS (subscribe-only), else NTR_ADMIN_TOKEN.""",
        private=True,
    ),
)
conf.registerGlobalValue(
    NtrPlaylist,
    "announceChannel",
    registry.String("#sewerchat", """Channel the announcements are posted to."""),
)
conf.registerGlobalValue(
    NtrPlaylist,
    "apiBaseUrl",
    registry.String(
        "http://127.0.0.1:8000", """Base URL of ntrbot's HTTP API, used by the commands."""
    ),
)
conf.registerGlobalValue(
    NtrPlaylist,
    "relayName",
    registry.String(
        "",
        """Name this relay subscribes with (shown on ntrbot's dashboard as relay:<name>);
        empty means <nick>@<network>.""",
    ),
)
