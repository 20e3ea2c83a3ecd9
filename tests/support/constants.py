"""Values every test shares: the admin token, the frozen clock, the dashboard login."""

from __future__ import annotations

from datetime import UTC, datetime

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# A Thursday inside an NtR show week (show: Wednesdays 22:00 America/New_York).
FROZEN_NOW = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)
# The start of FROZEN_NOW's show week: Wednesday 22:00 EDT.
SHOW_START = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)
WEB_USER = "nick"
WEB_PASSWORD = "correct horse battery staple"
SECRET_KEY = "k" * 40
