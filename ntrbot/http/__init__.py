"""The web side: HTTP routes, WebSockets and the helpers they share."""
