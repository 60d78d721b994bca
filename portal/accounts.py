"""The second factor: enrol an authenticator app (TOTP), verify a code, recovery codes.

After the password, OTPRequiredMiddleware sends a user here: to enrol when the account
has no confirmed device yet, else to verify. A verified session gets a new key, so a
session id seen before the second factor is worth nothing after it. Wrong codes are
throttled per device by django-otp (each failure doubles the wait).
"""

from __future__ import annotations

import io
from base64 import b32encode
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from customers import audit

from .security import is_verified

RECOVERY_CODES = 10
APP_DEVICE = "Authenticator app"
RECOVERY_DEVICE = "Recovery codes"
WRONG_CODE = (
    "That code is not right, or was used already. Each wrong code makes the next try wait "
    "longer: wait a few seconds, then enter the newest code."
)


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        error_messages={"required": "Enter the code."},
    )

    def clean_token(self) -> str:
        return "".join(str(self.cleaned_data["token"]).split()).lower()


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login: the portal's one login page, or a refusal for someone logged in
    whom the admin does not let in (sending them to log in again would loop for ever)."""
    if request.user.is_authenticated:
        raise PermissionDenied("Your account has no access to the admin.")
    query = request.GET.urlencode()
    return redirect(reverse("login") + (f"?{query}" if query else ""))


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


def _verified(request: HttpRequest, device: Any) -> None:
    otp_login(request, device)
    request.session.cycle_key()


def _qr_svg(data: str) -> SafeString:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration: it goes inline in the page
    # Our own library output, no user input but the username inside a URL it encodes.
    return mark_safe(svg.replace("<svg ", '<svg role="img" aria-label="QR code" ', 1))  # noqa: S308


def _new_recovery_codes(user: Any) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if is_verified(user):
        return redirect(_next_url(request))
    if not user_has_device(user):
        return redirect("otp-setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        device = None
        with transaction.atomic():
            # Locked rows: two requests racing with one code cannot both use it.
            for candidate in devices_for_user(user, for_verify=True):
                if candidate.verify_token(token):
                    device = candidate
                    break
        if device is not None:
            _verified(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. Make new ones from your account "
                    "page if you are running low.",
                )
            return redirect(_next_url(request))
        form.add_error("token", WRONG_CODE)
    return render(request, "otp/verify.html", {"form": form, "next": _next_url(request)})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: scan the QR code (or type the key), confirm one code."""
    user = request.user
    if user_has_device(user):
        return redirect("otp-verify")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            confirmed = device.verify_token(form.cleaned_data["token"])
            if confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                codes = _new_recovery_codes(user)
                audit.record(
                    actor=user,
                    action=audit.Action.ACTION,
                    summary="Enrolled an authenticator app for the second factor",
                    request=request,
                )
        if confirmed:
            _verified(request, device)
            return render(
                request,
                "otp/recovery_codes.html",
                {"codes": codes, "next": _next_url(request), "enrolled": True},
            )
        form.add_error("token", WRONG_CODE)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "otp/setup.html",
        {
            "form": form,
            "qr": _qr_svg(device.config_url),
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "uri": device.config_url,
            "next": _next_url(request),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Show how many recovery codes are left; POST replaces them with new ones."""
    user = request.user
    if not is_verified(user):
        return redirect("otp-verify")
    if request.method == "POST":
        codes = _new_recovery_codes(user)
        audit.record(
            actor=user,
            action=audit.Action.ACTION,
            summary="Replaced the second factor's recovery codes",
            request=request,
        )
        return render(request, "otp/recovery_codes.html", {"codes": codes, "next": "/"})
    left = StaticToken.objects.filter(device__user=user).count()
    return render(request, "otp/recovery_codes.html", {"codes": None, "left": left})


urlpatterns = [
    path("account/2fa/verify/", otp_verify, name="otp-verify"),
    path("account/2fa/setup/", otp_setup, name="otp-setup"),
    path("account/2fa/recovery-codes/", recovery_codes, name="otp-recovery-codes"),
]
