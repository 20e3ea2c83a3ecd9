"""SoundCloud in: the api-v2 client, the poller, the outgoing HTTP client."""
