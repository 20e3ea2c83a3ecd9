"""Settings with the dashboard on, logged into as WEB_USER / WEB_PASSWORD over plain http."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ntrbot.settings import Settings
from tests.support.constants import SECRET_KEY, WEB_PASSWORD, WEB_USER


def dashboard_settings(make_settings: Callable[..., Settings], **kw: Any) -> Settings:
    """`make_settings(**kw)` plus the dashboard login, a secret key and non-secure cookies."""
    values: dict[str, Any] = {"web_user": WEB_USER, "web_password": WEB_PASSWORD,
                              "secret_key": SECRET_KEY, "cookie_secure": "false"}
    values.update(kw)
    return make_settings(**values)
