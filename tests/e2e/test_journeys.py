"""What a person at the partner does, in a real browser, on the whole stack.

Each journey logs in, works through the pages as a person would, and checks what the
person sees; the BVNK emulator's own records confirm what reached "BVNK".
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import check_accessibility, login, screenshot
from tests.e2e.stack import Stack, wait_for

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def fill(page: Page, values: dict[str, str]) -> None:
    """Fill fields by name: text and date inputs are typed into, selects chosen."""
    for name, value in values.items():
        field = page.locator(f"#id_{name}")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def submit(page: Page, button: Locator) -> None:
    """Click a button that posts a form, and wait for the page it leads to."""
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state()


def save_and_continue(page: Page, values: dict[str, str]) -> None:
    check_accessibility(page)
    fill(page, values)
    submit(page, page.get_by_role("button", name="Save and continue"))
    check_accessibility(page)
    expect(page.locator(".error-summary, .errorlist")).to_have_count(0)


def upload(page: Page, slot_label: str, name: str, content: bytes, mime: str) -> None:
    slot = page.locator("li.slot").filter(
        has=page.get_by_role("heading", name=re.compile(slot_label))
    )
    slot.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": content}]
    )
    submit(page, slot.get_by_role("button", name=re.compile("^Upload")))
    check_accessibility(page)
    expect(page.locator("li.slot").filter(
        has=page.get_by_role("heading", name=re.compile(slot_label))
    ).locator(".file-name")).to_have_text(name)  # fmt: skip


def sign_agreement(page: Page, stack: Stack) -> None:
    """Open BVNK's hosted page (the emulator's), sign, and come back to the portal."""
    check_accessibility(page)
    page.get_by_role("button", name=re.compile("agreement|signing")).click()
    page.wait_for_url(f"{stack.emulator.url}/agreements**")
    check_accessibility(page)
    page.get_by_label(re.compile("I have read and accept")).check()
    page.get_by_role("button", name="Sign").click()
    page.wait_for_url(f"{stack.portal_url}/**")
    check_accessibility(page)
    expect(page.get_by_text(re.compile("signed", re.I)).first).to_be_visible()


def status_of(page: Page) -> str:
    return page.locator(".page-head .status").first.inner_text().strip()


def wait_for_status(page: Page, expected: str, timeout: float = 60) -> None:
    """Reload the customer page now and then, as a person waiting on BVNK would."""

    def reached() -> bool:
        page.reload()
        return status_of(page) == expected

    assert wait_for(reached, timeout=timeout, interval=1.0), f"still {status_of(page)}"
    check_accessibility(page)


def emulator_customers(stack: Stack) -> list[dict[str, Any]]:
    data = stack.emulator.control("customers", method="GET").json()
    return data["customers"] if isinstance(data, dict) else data


def start_customer(page: Page, kind: str) -> None:
    page.get_by_role("link", name="Add customer").click()
    check_accessibility(page)
    page.get_by_label(re.compile(kind)).check()
    submit(page, page.get_by_role("button", name="Start"))


INDIVIDUAL_US = {
    "personal": {
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1984-06-30",
        "nationality": "US",
        "birth_country": "US",
    },
    "contact": {"email": "jane@example.com", "phone": "+12025550123"},
    "address": {
        "address_line1": "1 Main Street",
        "city": "Austin",
        "postal_code": "78701",
        "state_code": "TX",
        "country": "US",
    },
    "tax": {"tax_number": "123-45-6789", "tax_residence_country": "US"},
    "due-diligence": {
        "employment_status": "SALARIED",
        "source_of_funds": "SALARY",
        "pep_status": "NOT_PEP",
        "intended_use": "TRANSFERS_OWN_WALLET",
        "expected_monthly_volume": "1000",
        "expected_volume_currency": "USD",
        "estimated_yearly_income": "INCOME_0_TO_50K",
        "industry_sector": "INVESTMENT",
    },
}


def test_individual_us_resident_to_verified(page: Page, stack: Stack) -> None:
    login(page, "agent")
    start_customer(page, "individual")
    for step, values in INDIVIDUAL_US.items():
        assert f"/onboarding/{step}/" in page.url, page.url
        save_and_continue(page, values)
    assert "/onboarding/documents/" in page.url
    upload(page, "Passport", "passport.png", png(), "image/png")
    upload(page, "Proof of address", "utility-bill.pdf", PDF, "application/pdf")
    page.get_by_role("link", name="Continue").click()
    sign_agreement(page, stack)
    assert "/onboarding/review/" in page.url, "signing leads to the review"
    check_accessibility(page)
    expect(page.get_by_text("Jane")).not_to_have_count(0)
    screenshot(page, "individual-review")
    submit(page, page.get_by_role("button", name="Submit to BVNK"))
    check_accessibility(page)

    # The pipeline creates the customer, then sends its documents; BVNK reviews them.
    wait_for_status(page, "Verified")
    created = [c for c in emulator_customers(stack) if c.get("type") == "INDIVIDUAL"]
    assert len(created) == 1
    uploads = stack.emulator.requests_log(method="POST")
    assert sum(1 for r in uploads if r["path"].endswith("/documents")) >= 1
    screenshot(page, "individual-verified")
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline"))
    for status in ("Submitting", "Info required", "Pending review", "Verified"):
        expect(timeline.get_by_text(status).first).to_be_visible()

    # Journey 7: the customer moved; the new address reaches BVNK with a PUT.
    page.get_by_role("link", name="Edit details").click()
    fill(page, {"address_line1": "500 Congress Avenue", "postal_code": "78701"})
    submit(page, page.get_by_role("button", name="Save and send to BVNK"))
    check_accessibility(page)
    reference = created[0]["reference"]

    def put_reached_bvnk() -> bool:
        return any(r["path"].endswith(reference) for r in stack.emulator.requests_log(method="PUT"))

    assert wait_for(put_reached_bvnk, timeout=30)
    answer = stack.emulator.get(f"/platform/v1/customers/{reference}").json()
    assert answer["individual"]["person"]["address"]["addressLine1"] == "500 Congress Avenue"


def test_leave_a_company_draft_and_resume_it(page: Page, stack: Stack) -> None:
    login(page, "agent")
    start_customer(page, "company")
    save_and_continue(
        page,
        {
            "legal_name": "Halfway Holdings Ltd",
            "entity_type": "LLC",
            "registration_number": "12345678",
            "tax_residence_country": "GB",
            "incorporation_date": "2015-05-01",
        }
        | _first_options(page, "industry_reference", "monthly_volumes_reference"),
    )
    assert "/onboarding/address/" in page.url
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile("/login/"))

    login(page, "agent")
    row = page.locator("tr", has_text="Halfway Holdings Ltd")
    row.get_by_role("link", name=re.compile("Resume")).click()
    assert "/onboarding/address/" in page.url, "resumes at the first incomplete step"
    check_accessibility(page)
    page.get_by_role("link", name="Company details").click()
    expect(page.locator("#id_legal_name")).to_have_value("Halfway Holdings Ltd")


def _first_options(page: Page, *names: str) -> dict[str, str]:
    """The first real choice of each select (BVNK's reference lists)."""
    return {
        name: page.locator(f"#id_{name} option:not([value=''])").first.get_attribute("value") or ""
        for name in names
    }


def test_a_viewer_sees_no_edit_buttons_and_is_refused_edit_urls(page: Page, stack: Stack) -> None:
    page.goto("/customers/")
    page.wait_for_url(re.compile("/login/"))  # logged out: sent to log in
    login(page, "viewer")
    expect(page.get_by_role("link", name="Add customer")).to_have_count(0)
    response = page.goto("/customers/new/")
    assert response is not None and response.status == 403
