"""Every HTML fragment the portal builds in Python escapes what people typed."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from customers.models import ComplianceDocument
from portal.accounts import _qr_svg
from tests.conftest import make_company
from tests.customers.conftest import add_document

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script><b onmouseover="steal()">bold</b>'


def test_my_customers_rows_escape_names_owners_and_summaries(
    client: Any, viewer: Any, agent: Any
) -> None:
    agent.first_name, agent.last_name = MARKUP, "Agent"
    agent.save()
    make_company(legal_name=MARKUP, created_by=agent, status="DRAFT")
    client.force_login(viewer)
    html = client.get(reverse("customers:list")).content.decode()
    assert "<script>" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<b onmouseover" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_the_admins_download_link_escapes_the_file_name() -> None:
    customer = make_company()
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT", name=f"{MARKUP}.pdf")
    link = site._registry[ComplianceDocument].stored_file(document)
    assert "<script>" not in link and "<b onmouseover" not in link
    assert "&lt;script&gt;" in link and link.startswith('<a href="/customers/')


def test_the_qr_code_carries_the_username_only_inside_the_image() -> None:
    svg = str(_qr_svg(f"otpauth://totp/Portal:{MARKUP}?secret=ABC"))
    assert "<script" not in svg and "onmouseover" not in svg
    assert svg.startswith('<svg role="img"')
