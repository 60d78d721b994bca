"""Template context for every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .notifications import unread_count
from .outbox.sending import auth_alert as latest


def bvnk_alerts(request: HttpRequest) -> dict[str, Callable[[], Any]]:
    """`bvnk_auth_alert`: the operation BVNK refused for the portal's credentials (401).

    Shown to those who run operations (compliance leads); queried only when a page asks.
    """

    @cache
    def auth_alert() -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.has_perm("customers.operate_customer"):
            return None
        return latest()

    return {"bvnk_auth_alert": auth_alert}


def staff_notifications(request: HttpRequest) -> dict[str, Any]:
    """`unread_notifications`: the bell's count, queried only when a page shows the bell;
    `bell_seconds`: how often the page asks for it again (static/js/bell.js)."""

    @cache
    def unread() -> int:
        return unread_count(getattr(request, "user", None))

    return {"unread_notifications": unread, "bell_seconds": settings.LIVE_REFRESH_SECONDS}
