"""Who may use which URL: every URL pattern of the project, every role, GET and POST.

The URL patterns are found by walking the resolver, so a new URL fails here until it is
listed below with the permission it needs (or, rarely, as public, with the reason).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from customers.models import (
    AgreementSession,
    BvnkOperation,
    SavedView,
    StaffNotification,
    Wallet,
)
from tests.conftest import make_associate, make_company
from tests.customers.conftest import add_document, company_draft

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """Hash the personas' passwords cheaply; nothing here checks a password."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Reachable without logging in, on purpose. Static files are not in this list because no
# URL pattern serves them: WhiteNoise's middleware answers under STATIC_URL.
PUBLIC = {
    "": "redirects to My customers, which needs a login",
    "login": "the login page",
    "logout": "logging out",
    "bvnk-webhook": "BVNK's webhook: signed by BVNK, no staff login",
    "healthz": "liveness probe",
    "readyz": "readiness probe",
    "admin:login": "the admin's login page",
    "admin:logout": "the admin's logout",
}

VIEW = "customers.view_customer"
EDIT = "customers.change_customer"
OPERATE = "customers.operate_customer"

# What each URL needs, whatever the method (a method a view does not take answers 405,
# but only after the permission check). onboarding-step is checked on a form step; its
# review step is open to every role (tests/customers/test_onboarding.py).
RULES: dict[str, tuple[str, ...]] = {
    "customers:list": (VIEW,),
    "customers:detail": (VIEW,),
    "customers:webhooks": (OPERATE,),
    "customers:bvnk_connection": (OPERATE,),
    "customers:onboarding-start": ("customers.add_customer",),
    "customers:onboarding-resume": (EDIT,),
    "customers:onboarding-associate-add": (EDIT, "customers.add_associate"),
    "customers:onboarding-associate-edit": (EDIT, "customers.change_associate"),
    "customers:onboarding-associate-remove": (EDIT, "customers.delete_associate"),
    "customers:onboarding-agreement-return": (EDIT,),
    "customers:onboarding-document-upload": (EDIT, "customers.add_compliancedocument"),
    "customers:requests-upload": (EDIT, "customers.add_compliancedocument"),
    "customers:onboarding-step": (EDIT,),
    "customers:document-remove": ("customers.delete_compliancedocument",),
    "customers:document-preview": ("customers.download_document",),
    "customers:document-download": ("customers.download_document",),
    "customers:onboarding-submit": ("customers.submit_customer",),
    "customers:update-details": (EDIT,),
    "customers:resolve-details": (EDIT,),
    "customers:export": ("customers.export_customers",),
    "customers:saved-view-save": (VIEW,),
    "customers:saved-view-delete": (VIEW,),
    "customers:questionnaire": (EDIT,),
    "customers:operation-retry": ("customers.submit_customer",),
    "customers:resync": (OPERATE,),
    "customers:agreement-restart": (EDIT, "customers.add_agreementsession"),
    # Wallets of verified customers (the customer page's Wallets tab).
    "customers:wallet-create": (VIEW, "customers.create_wallet"),
    "customers:wallet-details": (VIEW, "customers.view_wallet_details"),
    "customers:wallets-bulk": (VIEW, "customers.create_wallet"),
    # The work queue (customers/dashboard/queue_views.py).
    "customers:assign": (EDIT,),
    "customers:unassign": (EDIT,),
    "customers:watch": (VIEW,),
    "customers:discard": ("customers.discard_draft",),
    "customers:notifications": (VIEW,),
    "customers:notifications-unread": (VIEW,),
    "customers:notification-read": (VIEW,),
    "customers:notifications-read-all": (VIEW,),
    # The second factor's pages: any logged-in user (tests/security/test_otp.py).
    "otp-verify": (),
    "otp-setup": (),
    "otp-recovery-codes": (),
}
ADMIN = "admin:"  # every admin URL: staff only (Django's admin_view), then model permissions
PERSONAS = ("anonymous", "nobody", "viewer", "agent", "lead")


def url_patterns() -> Iterator[tuple[str, str]]:
    """(name, route) of every URL pattern, names with their namespaces."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                yield namespace + (pattern.name or ""), prefix + str(pattern.pattern)

    yield from walk(get_resolver().url_patterns, "", "")


def concrete(route: str, values: dict[str, str]) -> str:
    """Turn a route (path converters or regex groups) into a path, filling the parameters."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "1"), path)
    path = path.replace("^", "").replace("$", "").replace("/?", "/")
    return "/" + path


def test_every_url_is_public_on_purpose_or_has_rules() -> None:
    names = {name for name, _ in url_patterns()}
    unlisted = {
        name
        for name in names
        if name not in PUBLIC and name not in RULES and not name.startswith(ADMIN)
    }
    assert not unlisted, f"New URLs need an entry in RULES (or PUBLIC): {sorted(unlisted)}"
    assert set(RULES) <= names, f"Stale rules: {sorted(set(RULES) - names)}"


@pytest.fixture
def world(settings: Any, lead: Any) -> dict[str, str]:
    """One of everything the URLs point at, and BVNK unreachable (nothing leaves the box)."""
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    customer = company_draft()
    associate = make_associate(customer)
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT")
    session = AgreementSession.objects.create(
        customer=customer, bvnk_reference="s-1", use_case="EMBEDDED_FIAT_ACCOUNTS", country="GB"
    )
    operation = BvnkOperation.objects.create(
        customer=customer,
        kind=BvnkOperation.Kind.CREATE_CUSTOMER,
        state=BvnkOperation.State.FAILED,
        idempotency_key=str(uuid.uuid4()),
    )
    view = SavedView.objects.create(user=lead, name="Mine", query="tab=DRAFT")
    wallet = Wallet.objects.create(customer=customer, name="W", currency="USDC", kind="CRYPTO")
    note = StaffNotification.objects.create(
        user=lead, customer=customer, kind="STATUS", key="k", message="A change"
    )
    return {
        "pk": str(customer.pk),
        "associate_pk": str(associate.pk),
        "document_pk": str(document.pk),
        "session_pk": str(session.pk),
        "operation_pk": str(operation.pk),
        "view_pk": str(view.pk),
        "note_pk": str(note.pk),
        "wallet_pk": str(wallet.pk),
        "step": "company",
        "object_id": str(customer.pk),
        "app_label": "customers",
        "url": "nowhere/",
    }


def request(client: Client, method: str, path: str) -> Any:
    response = client.get(path) if method == "GET" else client.post(path)
    if getattr(response, "streaming", False):
        # Read to the end: the test client then closes the file (not the connection).
        b"".join(response.streaming_content)
    return response


def login_redirect(response: Any, login_url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login_url)


def log_in(client: Client, user: Any, *, second_factor: bool) -> None:
    """Log `user` in; with the second factor on, as after a verified TOTP code."""
    client.force_login(user)
    if second_factor:
        device, _ = TOTPDevice.objects.get_or_create(user=user, name="app", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


@pytest.mark.parametrize("second_factor", [False, True], ids=["second-factor-off", "on"])
def test_permission_matrix(
    world: dict[str, str], personas: dict[str, Any], settings: Any, second_factor: bool
) -> None:
    """Role x URL x method: who is refused (login or 403), and who is let through, with
    the second factor off (as most tests run) and on (as production runs)."""
    settings.OTP_REQUIRED = second_factor
    users = {"anonymous": None, **personas}
    routes = [(name, route) for name, route in url_patterns() if name in RULES]
    assert len(routes) == len(RULES)
    login = settings.LOGIN_URL if settings.LOGIN_URL.startswith("/") else "/login/"
    refused, allowed = [], []
    for name, route in routes:
        path = concrete(route, world)
        assert resolve(path).view_name == name, path
        for persona in PERSONAS:
            user = users[persona]
            may = user is not None and user.has_perms(RULES[name])
            (allowed if may else refused).append((persona, name, path))
    problems = []
    # Refusals first: the permitted requests below may delete what these point at.
    for persona, name, path in refused:
        client = Client()
        if users[persona] is not None:
            log_in(client, users[persona], second_factor=second_factor)
        for method in ("GET", "POST"):
            response = request(client, method, path)
            if persona == "anonymous":
                expected = login_redirect(response, login)
            else:
                expected = response.status_code == 403
            if not expected:
                problems.append(f"{persona} {method} {name}: {response.status_code}, not refused")
    for persona, name, path in allowed:
        client = Client()
        log_in(client, users[persona], second_factor=second_factor)
        for method in ("GET", "POST"):
            response = request(client, method, path)
            if response.status_code in (401, 403) or login_redirect(response, login):
                problems.append(f"{persona} {method} {name}: refused ({response.status_code})")
            elif response.status_code >= 500:
                problems.append(f"{persona} {method} {name}: {response.status_code}")
    assert not problems, "\n".join(problems)
    # The matrix really covers every role: each but the lead is refused somewhere.
    assert {persona for persona, _, _ in refused} == set(PERSONAS) - {"lead"}


def test_the_admin_is_for_staff_only(world: dict[str, str], personas: dict[str, Any]) -> None:
    """Every admin URL sends anyone but staff to the admin's login; staff get pages."""
    admin_login = "/admin/login/"
    problems = []
    routes = [
        (name, route)
        for name, route in url_patterns()
        if name.startswith(ADMIN) and name not in PUBLIC
    ]
    assert len(routes) > 50
    outsiders = {"anonymous": None, "agent": personas["agent"]}  # agents are not staff
    lead = Client()
    for name, route in routes:
        path = concrete(route, world)
        for persona, user in outsiders.items():
            client = Client()
            if user is not None:
                client.force_login(user)
            for method in ("GET", "POST"):
                response = request(client, method, path)
                if not login_redirect(response, admin_login):
                    problems.append(f"{persona} {method} {name} ({path}): {response.status_code}")
        lead.force_login(personas["lead"])
        response = request(lead, "GET", path)
        if login_redirect(response, admin_login) or response.status_code >= 500:
            problems.append(f"lead GET {name} ({path}): {response.status_code}")
    assert not problems, "\n".join(problems)


def test_someone_logged_in_without_admin_access_is_refused_not_looped(agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) == 1  # /admin/ -> /admin/login/, then the refusal
    anonymous = Client().get("/admin/", follow=True)
    assert anonymous.redirect_chain[-1][0] == "/login/?next=%2Fadmin%2F"


def test_a_viewer_is_shown_no_link_it_cannot_follow(client: Any, viewer: Any) -> None:
    draft = company_draft()
    client.force_login(viewer)
    review = client.get(reverse("customers:onboarding-step", args=[draft.pk, "review"]))
    page = review.content.decode()
    assert review.status_code == 200 and "Still missing before you can submit" in page
    steps = [
        reverse("customers:onboarding-step", args=[draft.pk, step])
        for step in ("company", "address", "associates", "agreement")
    ]
    assert not [url for url in steps if f'href="{url}"' in page]
    verified = make_company(
        status="VERIFIED", bvnk_reference="ref-v", verification_url="https://in.sumsub.com/x"
    )
    detail = client.get(reverse("customers:detail", args=[verified.pk])).content.decode()
    assert "Open BVNK verification" not in detail
