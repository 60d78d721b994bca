"""Template context for every page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest

from .models import StaffNotification
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


def staff_notifications(request: HttpRequest) -> dict[str, Callable[[], int]]:
    """`unread_notifications`: the bell's count, queried only when a page shows the bell."""

    @cache
    def unread() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return StaffNotification.objects.filter(user=user, read_at__isnull=True).count()

    return {"unread_notifications": unread}
