"""The customer page as a case view, used with the keyboard only, on the whole stack."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import check_accessibility, login
from tests.e2e.stack import Stack, wait_for
from tests.e2e.test_journeys import (
    INDIVIDUAL_US,
    PDF,
    at_bvnk,
    navigate,
    onboard_individual,
    open_tab,
    wait_for_status,
)

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Two screens at 1280x800: the head and the overview, without scrolling further.
TWO_SCREENS = 2 * 800


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def shown_panel(page: Page) -> str:
    return str(
        page.evaluate(
            "[...document.querySelectorAll('.tab-panel')].filter(p => !p.hidden).map(p => p.id)"
            ".join(' ')"
        )
    )


def tab_to(page: Page, text: str, *, backwards: bool = False, presses: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the focused element reads `text`, as a person would."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(presses):
        page.keyboard.press(key)
        if page.evaluate("document.activeElement.textContent.trim()") == text:
            return
    raise AssertionError(f"{key} never reached {text!r}")


def readme_screenshot(page: Page, name: str) -> None:
    """With E2E_README_SCREENSHOTS=1, refresh the README's pictures of the case view."""
    if os.environ.get("E2E_README_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"{name}.png"))


def test_the_case_view_with_the_keyboard_only(page: Page, stack: Stack) -> None:
    login(page, "agent")
    steps = {**INDIVIDUAL_US, "contact": {**INDIVIDUAL_US["contact"], "email": "keys@example.com"}}
    onboard_individual(page, stack, steps)
    wait_for_status(page, "Verified")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.reload()
    check_accessibility(page)
    expect(page.locator(".case-head")).to_contain_text("Verified")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= TWO_SCREENS, f"a verified customer's page is {height}px high"
    readme_screenshot(page, "case-view-overview")

    # From the top of the page, Tab reaches the chosen tab; the others are skipped.
    page.keyboard.press("Tab")  # the skip link
    for _ in range(40):
        if focused_id(page) == "tab-overview":
            break
        page.keyboard.press("Tab")
    assert focused_id(page) == "tab-overview", "Tab reaches the tab list"
    expect(page.locator("[role=tablist]")).to_have_count(1)

    page.keyboard.press("ArrowRight")
    assert focused_id(page) == "tab-requests"
    assert shown_panel(page) == "panel-requests"
    expect(page.get_by_text("BVNK asks for nothing at the moment.")).to_be_visible()
    page.keyboard.press("End")
    assert focused_id(page) == "tab-details" and shown_panel(page) == "panel-details"
    page.keyboard.press("ArrowRight")  # wraps round
    assert focused_id(page) == "tab-overview" and shown_panel(page) == "panel-overview"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert focused_id(page) == "tab-activity" and shown_panel(page) == "panel-activity"
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    readme_screenshot(page, "case-view-activity")

    # Tab leaves the tab list for the section itself; the address keeps the chosen tab.
    page.keyboard.press("Tab")
    assert focused_id(page) == "panel-activity"
    assert page.url.endswith("?tab=activity")
    page.reload()
    assert shown_panel(page) == "panel-activity", "a reload shows the same section"
    check_accessibility(page)

    # "Edit details" (in the header, above the tabs) leads to the form, focused, whichever
    # section was shown.
    tab_to(page, "Edit details", backwards=True)
    page.keyboard.press("Enter")
    assert shown_panel(page) == "panel-details"
    assert page.evaluate("document.activeElement.tagName") in ("INPUT", "SELECT", "TEXTAREA")
    readme_screenshot(page, "case-view-details")


def verified_customer(page: Page, stack: Stack, email: str) -> str:
    """Onboard an individual to VERIFIED; return BVNK's reference for them."""
    # A compliance lead (who may onboard and upload too): the agent's one-time codes are
    # the other journeys' (five per stack, tests/e2e/stack.py).
    login(page, "lead")
    steps = {**INDIVIDUAL_US, "contact": {**INDIVIDUAL_US["contact"], "email": email}}
    onboard_individual(page, stack, steps)
    wait_for_status(page, "Verified")
    (customer,) = at_bvnk(stack, email)
    return str(customer["reference"])


def bvnk_asks_for_proof_of_address(page: Page, stack: Stack, reference: str) -> None:
    """BVNK (the emulator's test control) asks for a new proof of address after verifying."""
    stack.emulator.control(
        f"customers/{reference}/request-document",
        {"type": "PROOF_OF_RESIDENCE", "description": "Send a bill from the last three months."},
    ).raise_for_status()
    wait_for_status(page, "Actions required")
    expect(page.locator(".case-head")).to_contain_text("Waiting on you")


def drop_file(slot: Locator, name: str, content: bytes) -> None:
    """Drag a file from the desktop and drop it on a document's row, as a person would."""
    transfer = slot.page.evaluate_handle(
        """([name, bytes]) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(bytes)], name, { type: "application/pdf" });
            transfer.items.add(file);
            return transfer;
        }""",
        [name, list(content)],
    )
    slot.dispatch_event("dragenter", {"dataTransfer": transfer})
    slot.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(slot).to_have_class(re.compile("drop-target"))
    slot.dispatch_event("drop", {"dataTransfer": transfer})


def answer_in_the_portal(page: Page, name: str, *, drop: bool = False) -> None:
    """Open the request from the checklist and upload the file on the Requests tab,
    chosen in its field or dropped on its row."""
    navigate(page, page.get_by_role("link", name="Upload", exact=True))
    check_accessibility(page)
    expect(page.get_by_role("tab", name="Requests")).to_have_attribute("aria-selected", "true")
    form = page.locator("#answer-documents")
    expect(form.get_by_text("Send a bill from the last three months.")).to_be_visible()
    field = form.get_by_label("Choose a file for Proof of address — Jane Doe")
    if drop:
        drop_file(form.locator(".slot", has_text="Proof of address — Jane Doe"), name, PDF)
        expect(form.locator(".drop-note")).to_have_text(f"Chosen: {name}")
    else:
        field.set_input_files(files=[{"name": name, "mimeType": "application/pdf", "buffer": PDF}])
    navigate(page, form.get_by_role("button", name="Upload and send to BVNK"))
    check_accessibility(page)
    expect(page.locator(".messages")).to_contain_text(f"{name} uploaded; sending to BVNK.")


def test_bvnk_asks_for_a_document_after_submission_and_staff_answer_it(
    page: Page, stack: Stack
) -> None:
    reference = verified_customer(page, stack, "asked@example.com")
    bvnk_asks_for_proof_of_address(page, stack, reference)
    expect(page.locator("#checklist")).to_contain_text("Upload Proof of address — Jane Doe")

    def uploads() -> int:
        posted = stack.emulator.requests_log(method="POST")
        return sum(1 for r in posted if r["path"].endswith(f"{reference}/documents"))

    before = uploads()
    answer_in_the_portal(page, "bill.pdf", drop=True)
    assert wait_for(lambda: uploads() > before, timeout=30), "the upload reached BVNK"
    wait_for_status(page, "Verified")
    # "bill.pdf uploaded; sending to BVNK" described the request, which is over.
    expect(page.locator(".messages")).not_to_contain_text("sending to BVNK")
    open_tab(page, "Documents")
    documents = page.locator("#documents")
    expect(documents.get_by_role("link", name="bill.pdf (download)", exact=True)).to_be_visible()
    open_tab(page, "Activity")
    expect(page.locator("#timeline").get_by_text("Actions required").first).to_be_visible()


def test_a_rejected_document_is_replaced_with_bvnk_reason_shown(page: Page, stack: Stack) -> None:
    reference = verified_customer(page, stack, "rejected@example.com")
    bvnk_asks_for_proof_of_address(page, stack, reference)
    # The emulator's review rejects a file whose name holds REJECTDOC (its README).
    answer_in_the_portal(page, "bill REJECTDOC.pdf")
    reason = "The document is unreadable: send a clear copy showing every corner."
    expect(page.locator("#requests")).to_contain_text(reason, timeout=30_000)
    readme_screenshot(page, "case-view-requests")
    open_tab(page, "Documents")
    documents = page.locator("#documents")
    expect(documents).to_contain_text(f"Rejected by BVNKReason: {reason}")
    check_accessibility(page)
    documents.get_by_role("link", name=re.compile("^Replace")).click()
    expect(page.get_by_role("tab", name="Requests")).to_have_attribute("aria-selected", "true")
    form = page.locator("#answer-documents")
    expect(form).to_contain_text(f"BVNK rejected bill REJECTDOC.pdf: {reason}")
    form.get_by_label("Replace the file for Proof of address — Jane Doe").or_(
        form.get_by_label("Choose a file for Proof of address — Jane Doe")
    ).set_input_files(files=[{"name": "bill.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    navigate(page, form.get_by_role("button", name="Upload and send to BVNK"))
    check_accessibility(page)
    wait_for_status(page, "Verified")
