"""ntrbot: live "now playing" announcer for the NtR show."""

__version__ = "0.1.0"
