"""Fixtures for the customers tests: onboarding drafts, files, BVNK reference lists, emulator.

Append only: other test modules may add fixtures below.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from customers.models import AgreementSession, Associate, ComplianceDocument, Customer
from customers.onboarding import steps as onboarding
from tests.bvnk_variants import VARIANTS, Variant
from tests.emulator_server import (  # noqa: F401 - fixtures, used by name
    EmulatorProcess,
    emulator,
    make_emulator,
)

_ids = itertools.count(1)

# The emulator's reference lists include these: a financial services sub-industry, and
# BVNK's documented example volume.
INDUSTRY = "1e4b6d21-06d8-11ef-9d2b-027612b7f6b5"
VOLUME = "ef779c41-547e-11ef-8b9c-027612b7f6b5"
INDUSTRIES = [
    ("Financial services", [(INDUSTRY, "Payment services")]),
    ("Technology", [("56e65ebc-06fa-11ef-bbf8-02d3d923cf2b", "Software")]),
]
VOLUMES = [(VOLUME, "Up to 50,000 USD"), ("a4318a0d-5316-11ef-9887-0289b1b0d83d", "50k-250k")]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _image(kind: str) -> bytes:
    """A real 2x2 image: uploads are decoded and re-encoded (customers/documents.py)."""
    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


PNG = _image("PNG")
JPEG = _image("JPEG")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Start every test without cached BVNK reference lists."""
    cache.clear()


@pytest.fixture
def fast_passwords(settings: Any) -> None:
    """Hash the personas' passwords cheaply; these tests never check password strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def reference_lists() -> None:
    """BVNK's reference lists, as if fetched a moment ago."""
    cache.set(onboarding.REFERENCE_CACHE_KEYS["industries"], INDUSTRIES)
    cache.set(onboarding.REFERENCE_CACHE_KEYS["volumes"], VOLUMES)


@pytest.fixture
def bvnk_emulator(settings: Any, emulator: EmulatorProcess) -> EmulatorProcess:  # noqa: F811
    """Point the portal's BVNK settings at the session's emulator."""
    return point_portal_at(settings, emulator)


def point_portal_at(settings: Any, process: EmulatorProcess) -> EmulatorProcess:
    settings.BVNK_BASE_URL = process.url
    settings.BVNK_HAWK_AUTH_ID = process.auth_id
    settings.BVNK_HAWK_SECRET = process.secret
    settings.BVNK_AGREEMENT_URL = f"{process.url}/agreements"
    return process


@dataclass
class VariantEmulator:
    variant: Variant
    emulator: EmulatorProcess


@pytest.fixture(params=VARIANTS, ids=lambda variant: variant.name)
def bvnk_variant(
    request: Any,
    settings: Any,
    emulator: EmulatorProcess,  # noqa: F811
    make_emulator: Any,  # noqa: F811
) -> VariantEmulator:
    """The portal pointed at an emulator answering as each reading of BVNK's open points."""
    variant: Variant = request.param
    process = make_emulator(**variant.emulator) if variant.emulator else emulator
    process.control("faults", method="DELETE")
    for name, value in variant.portal.items():
        setattr(settings, name, value)
    return VariantEmulator(variant, point_portal_at(settings, process))


def adult_birth_date(years: int = 35) -> dt.date:
    return dt.date(timezone.localdate().year - years, 3, 14)


def add_document(
    customer: Customer,
    document_type: str,
    sub_type: str = "",
    *,
    associate: Associate | None = None,
    content: bytes = PDF,
    name: str = "scan.pdf",
    content_type: str = "application/pdf",
) -> ComplianceDocument:
    document = ComplianceDocument(
        customer=customer,
        associate=associate,
        document_type=document_type,
        document_sub_type=sub_type,
        original_name=name,
        size=len(content),
        content_type=content_type,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    document.file.save(name, ContentFile(content), save=False)
    document.save()
    return document


def sign(customer: Customer, *, country: str = "GB", reference: str = "") -> AgreementSession:
    return AgreementSession.objects.create(
        customer=customer,
        bvnk_reference=reference or f"session-{next(_ids)}",
        status=AgreementSession.Status.SIGNED,
        use_case="EMBEDDED_FIAT_ACCOUNTS",
        country=country,
    )


PERSON_FIELDS: dict[str, Any] = {
    "nationality": "GB",
    "birth_country": "GB",
    "address_line1": "2 Queen Street",
    "city": "London",
    "postal_code": "EC4N 1SP",
    "country": "GB",
}


def add_associate(customer: Customer, first_name: str, **fields: Any) -> Associate:
    values = {
        **PERSON_FIELDS,
        "first_name": first_name,
        "last_name": "Smith",
        "date_of_birth": adult_birth_date(),
        "email": f"{first_name.lower()}@example.com",
    }
    values.update(fields)
    return Associate.objects.create(customer=customer, **values)


def company_draft(**fields: Any) -> Customer:
    """A company draft with every company detail and address filled in."""
    values = {
        "type": Customer.Type.COMPANY,
        "legal_name": "Northwind Trading Ltd",
        "entity_type": "LLC",
        "registration_number": "09876543",
        "tax_number": "GB123456789",
        "tax_residence_country": "GB",
        "incorporation_date": dt.date(2015, 6, 1),
        "industry_reference": INDUSTRY,
        "monthly_volumes_reference": VOLUME,
        "website": "https://northwind.example",
        "description": "Wholesale of tea",
        "address_line1": "1 King Street",
        "city": "London",
        "postal_code": "EC2V 8AU",
        "country": "GB",
    }
    values.update(fields)
    return Customer.objects.create(**values)


def complete_company(*, signed: bool = True, **fields: Any) -> Customer:
    """A company draft ready to submit: three associates, every document, a signed session."""
    customer = company_draft(**fields)
    people = [
        add_associate(
            customer,
            "Ada",
            is_beneficial_owner=True,
            is_controlling_person=True,
            ownership_percentage=Decimal("60"),
        ),
        add_associate(
            customer, "Ben", is_beneficial_owner=True, ownership_percentage=Decimal("40")
        ),
        add_associate(customer, "Cleo", is_signer=True, is_controlling_person=True),
    ]
    for kind, sub in (
        ("COMPANY_DOC", "INCORPORATION_CERT"),
        ("COMPANY_DOC", "INCORPORATION_ARTICLES"),
        ("COMPANY_DOC", "DIRECTORS_REGISTRY"),
        ("COMPANY_DOC", "PROOF_OF_ADDRESS"),
    ):
        add_document(customer, kind, sub)
    for person in people:
        add_document(customer, "PASSPORT", "FRONT_SIDE", associate=person)
        add_document(customer, "PROOF_OF_RESIDENCE", associate=person)
    if signed:
        sign(customer, country=str(customer.tax_residence_country))
    return customer


def individual_draft(**fields: Any) -> Customer:
    """An individual draft with every step's values filled in (a US resident)."""
    values = {
        "type": Customer.Type.INDIVIDUAL,
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": dt.date(1984, 6, 30),
        "nationality": "US",
        "birth_country": "US",
        "email": "jane@example.com",
        "phone": "+12025550143",
        "address_line1": "1 Main Street",
        "city": "Austin",
        "postal_code": "78701",
        "state_code": "TX",
        "country": "US",
        "tax_number": "123-45-6789",
        "tax_residence_country": "US",
        "employment_status": "SALARIED",
        "source_of_funds": "SALARY",
        "pep_status": "NOT_PEP",
        "intended_use": "TRANSFERS_OWN_WALLET",
        "expected_monthly_volume": Decimal("1000"),
        "expected_volume_currency": "USD",
        "estimated_yearly_income": "INCOME_0_TO_50K",
        "industry_sector": "INVESTMENT",
    }
    values.update(fields)
    return Customer.objects.create(**values)


def complete_individual(*, signed: bool = True, **fields: Any) -> Customer:
    customer = individual_draft(**fields)
    add_document(customer, "PASSPORT", "FRONT_SIDE")
    add_document(customer, "PROOF_OF_RESIDENCE")
    if signed:
        sign(customer, country=str(customer.country))
    return customer
