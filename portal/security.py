"""Request ids, session lifetime and the second factor, as middleware; the 500 page.

- RequestIdMiddleware: every request gets an id (a trusted proxy's X-Request-Id, else a
  new one), echoed in the response, put in every log line and shown on error pages.
- SessionLifetimeMiddleware: logged out after SESSION_IDLE_SECONDS without a request (a
  page refreshing itself does not count), and
  SESSION_COOKIE_AGE after logging in whatever the activity. (Django's own expiry moves
  forward with every write to the session, so it is no absolute limit.)
- OTPRequiredMiddleware: with OTP_REQUIRED, a logged-in user sees nothing but the
  second-factor pages until a TOTP code or a recovery code verified this session.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.models import Session
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseServerError
from django.shortcuts import redirect
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token

from .log_filters import request_id

LOGIN_AT = "portal_login_at"
SEEN_AT = "portal_seen_at"
# A session written at most this often just to note activity (seconds).
_SEEN_RESOLUTION = 15
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,100}$")

Middleware = Callable[[HttpRequest], HttpResponseBase]


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy built once instead of on every response.

    No view of the portal changes the policy (no `csp_update`, `csp_replace` or nonce), so
    the header is the same for every response; building it took longer than the rest of
    the middleware together. A response or request that does change it still gets
    django-csp's own per-response build.
    """

    _PER_RESPONSE = (
        "_csp_config", "_csp_update", "_csp_replace",
        "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro",
    )  # fmt: skip

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        changed = any(getattr(response, name, None) for name in self._PER_RESPONSE)
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        if changed or debug_page or getattr(request, "_csp_nonce", None) is not None:
            return super().process_response(request, response)
        for header, built in _built_policies():
            if built and header not in response and not getattr(response, "_csp_exempt", False):
                response[header] = built
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response


_policy_cache: dict[tuple[int, int], list[tuple[str, str]]] = {}


def _built_policies() -> list[tuple[str, str]]:
    """The CSP headers for the settings in force (rebuilt when a test overrides them)."""
    enforced = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
    key = (id(enforced), id(report_only))
    if key not in _policy_cache:
        _policy_cache.clear()
        _policy_cache[key] = [
            (HEADER, build_policy()),
            (HEADER_REPORT_ONLY, build_policy(report_only=True)),
        ]
    return _policy_cache[key]


class PermissionsPolicyMiddleware:
    """Send PERMISSIONS_POLICY with every response (Django's SecurityMiddleware has none)."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY:
            response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class RequestIdMiddleware:
    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-Id", "")
        value = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = value  # type: ignore[attr-defined]  # read by templates and views
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-Id"] = value
        return response


def _now() -> int:
    return int(time.time())


@receiver(user_logged_in, dispatch_uid="portal.security.session_start")
def _session_start(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_AT] = request.session[SEEN_AT] = _now()


class SessionLifetimeMiddleware:
    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.user.is_authenticated:
            session = request.session
            now = _now()
            started = session.setdefault(LOGIN_AT, now)
            seen = session.get(SEEN_AT, now)
            idle = now - seen > settings.SESSION_IDLE_SECONDS
            if idle or now - started > settings.SESSION_COOKIE_AGE:
                logout(request)
                messages.info(
                    request,
                    "You were logged out after "
                    + ("a period of inactivity" if idle else "the longest time a session lasts")
                    + ". Log in again to continue.",
                )
                return redirect_to_login(request.get_full_path())
            # A page refreshing itself (static/js/live.js) is not a person's activity.
            due = now - seen >= _SEEN_RESOLUTION or SEEN_AT not in session
            if due and not is_live_refresh(request):
                session[SEEN_AT] = now
        return self.get_response(request)


def is_live_refresh(request: HttpRequest) -> bool:
    """Whether the browser asked on its own, to keep a page current (static/js/live.js)."""
    return request.headers.get("X-Portal-Live") == "1"


def is_verified(user: Any) -> bool:
    """Whether the second factor was given this session (set by django_otp's middleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check()) if check is not None else False


def _otp_exempt(path: str) -> bool:
    exempt = (
        reverse("logout"),
        reverse("otp-verify"),
        reverse("otp-setup"),
        reverse("healthz"),
        reverse("readyz"),
        "/webhooks/",
        "/" + settings.STATIC_URL.lstrip("/"),
    )
    return path.startswith(exempt)


class OTPRequiredMiddleware:
    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = request.user
        if (
            settings.OTP_REQUIRED
            and user.is_authenticated
            and not is_verified(user)
            and not _otp_exempt(request.path_info)
        ):
            from django_otp import user_has_device

            target = reverse("otp-verify" if user_has_device(user) else "otp-setup")
            following = request.get_full_path()
            if url_has_allowed_host_and_scheme(following, allowed_hosts=None):
                return redirect(f"{target}?next={following}")
            return redirect(target)
        return self.get_response(request)


def end_sessions_of(user: Any) -> int:
    """Delete every stored session of `user`; returns how many there were."""
    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = session.get_decoded()
        if str(data.get(SESSION_KEY)) == str(user.pk):
            ended.append(session.session_key)
    Session.objects.filter(session_key__in=ended).delete()
    return len(ended)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="portal.security.deactivate")
def _end_sessions_when_deactivated(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A deactivated account is logged out everywhere at once, not at its next request."""
    update_fields = kwargs.get("update_fields")
    if instance.is_active or (update_fields is not None and "is_active" not in update_fields):
        return
    end_sessions_of(instance)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page: no database, no context processors; the request id to quote."""
    template = loader.get_template("500.html")
    return HttpResponseServerError(
        template.render({"request_id": getattr(request, "request_id", request_id.get())})
    )
