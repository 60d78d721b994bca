"""Shared fixtures: staff personas and customer factories."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from django.contrib.auth.models import Group

from customers import roles
from customers.models import Associate, Customer

_counter = itertools.count(1)

# Personal data is encrypted (customers/crypto.py); the tests, and the worker and server
# processes they start (which inherit this environment), share one test key.
TEST_FIELD_ENCRYPTION_KEY = "x7PfPxnD5S5vRJgC6Y5N2yq2JvV7kqfKQn2j8w0mK3Q="
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", TEST_FIELD_ENCRYPTION_KEY)
os.environ.setdefault("SEARCH_INDEX_KEYS", "test-search-index-key-" + "s" * 32)


@pytest.fixture(autouse=True)
def _plain_http(settings: Any, tmp_path: Any) -> None:
    """Serve tests over plain HTTP and keep uploaded files in a temporary folder."""
    settings.SECURE_SSL_REDIRECT = False
    # Write webhook counters at once (tests of the buffering set their own interval).
    settings.BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS = 0
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.FIELD_ENCRYPTION_KEYS = os.environ["FIELD_ENCRYPTION_KEYS"].split(",")
    settings.SEARCH_INDEX_KEYS = os.environ["SEARCH_INDEX_KEYS"].split(",")
    # The second factor is tested where it matters (tests/security/); force_login elsewhere.
    settings.OTP_REQUIRED = False
    # No malware scanner unless a test starts one (tests/security/conftest.py).
    settings.CLAMAV_URL = ""


def make_user(django_user_model: Any, role: str | None, **extra: Any) -> Any:
    user = django_user_model.objects.create_user(
        username=f"user{next(_counter)}", password="correct horse battery staple", **extra
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    return make_user(django_user_model, roles.VIEWER)


@pytest.fixture
def agent(django_user_model: Any) -> Any:
    return make_user(django_user_model, roles.ONBOARDING_AGENT)


@pytest.fixture
def lead(django_user_model: Any) -> Any:
    return make_user(django_user_model, roles.COMPLIANCE_LEAD, is_staff=True)


@pytest.fixture
def nobody(django_user_model: Any) -> Any:
    """A logged-in staff account that belongs to no role."""
    return make_user(django_user_model, None)


@pytest.fixture
def personas(viewer: Any, agent: Any, lead: Any, nobody: Any) -> dict[str, Any]:
    return {"viewer": viewer, "agent": agent, "lead": lead, "nobody": nobody}


def make_company(**fields: Any) -> Customer:
    values = {
        "type": Customer.Type.COMPANY,
        "legal_name": f"Acme Trading {next(_counter)} Ltd",
        "entity_type": "LLC",
        "registration_number": "12345678",
        "tax_residence_country": "GB",
        "address_line1": "1 King Street",
        "city": "London",
        "postal_code": "EC2V 8AU",
        "country": "GB",
    }
    values.update(fields)
    return Customer.objects.create(**values)


def make_individual(**fields: Any) -> Customer:
    values = {
        "type": Customer.Type.INDIVIDUAL,
        "first_name": "Jane",
        "last_name": f"Doe{next(_counter)}",
        "email": "jane@example.com",
        "country": "US",
        "state_code": "TX",
    }
    values.update(fields)
    return Customer.objects.create(**values)


def make_associate(customer: Customer, **fields: Any) -> Associate:
    values = {
        "first_name": "Sean",
        "last_name": f"Bond{next(_counter)}",
        "is_beneficial_owner": True,
        "ownership_percentage": 60,
    }
    values.update(fields)
    return Associate.objects.create(customer=customer, **values)
