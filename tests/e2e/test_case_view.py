"""The customer page as a case view, used with the keyboard only, on the whole stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import check_accessibility, login
from tests.e2e.stack import Stack
from tests.e2e.test_journeys import INDIVIDUAL_US, onboard_individual, wait_for_status

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

    # "Edit details" leads to the form, focused, whichever section was shown.
    page.get_by_role("link", name="Edit details").focus()
    page.keyboard.press("Enter")
    assert shown_panel(page) == "panel-details"
    assert page.evaluate("document.activeElement.tagName") in ("INPUT", "SELECT", "TEXTAREA")
    readme_screenshot(page, "case-view-details")
