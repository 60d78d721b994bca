"""The work queue in a real browser: discarding a draft, Waiting on us and Mine, and a
notification reaching the bell after BVNK changes a customer's status."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import check_accessibility, login
from tests.e2e.stack import Stack
from tests.e2e.test_journeys import (
    at_bvnk,
    british_resident,
    navigate,
    onboard_individual,
    start_company,
    wait_for_status,
)

pytestmark = pytest.mark.e2e


def test_discard_a_draft(page: Page, stack: Stack) -> None:
    login(page, "agent")
    start_company(page, "Throwaway Trading Ltd")
    navigate(page, page.get_by_role("link", name="My customers").first)
    navigate(page, page.get_by_role("link", name="Throwaway Trading Ltd", exact=True))
    check_accessibility(page)
    navigate(page, page.get_by_role("link", name="Discard draft"))
    check_accessibility(page)
    expect(
        page.get_by_role("heading", name="Discard the draft Throwaway Trading Ltd?")
    ).to_be_visible()
    navigate(page, page.get_by_role("button", name="Discard the draft"))
    check_accessibility(page)
    expect(
        page.get_by_text("The draft Throwaway Trading Ltd and its documents are discarded.")
    ).to_be_visible()
    expect(page.locator("tbody tr", has_text="Throwaway Trading Ltd")).to_have_count(0)


def test_waiting_on_us_mine_and_a_notification_after_bvnk_asks(page: Page, stack: Stack) -> None:
    login(page, "agent")
    onboard_individual(page, stack, british_resident("Wendy", "Queue", "QQ222222B"))
    wait_for_status(page, "Verified")
    # Nobody is assigned yet: whoever added the customer handles it and is told in the
    # portal of each step BVNK took.
    customer_url = page.url
    page.reload()
    expect(page.locator("#notifications-bell .count")).to_have_text(re.compile(r"[1-9]"))
    navigate(page, page.get_by_role("link", name=re.compile("^Notifications")))
    expect(page.locator(".notes")).to_contain_text("Wendy Queue is now verified")
    navigate(page, page.get_by_role("button", name="Mark all read"))
    expect(page.locator("#notifications-bell .count")).to_have_count(0)
    page.goto(customer_url)
    navigate(page, page.get_by_role("button", name="Assign to me"))
    check_accessibility(page)
    expect(page.locator("#assignment")).to_contain_text("Assigned to you")

    # BVNK reopens the customer (a periodic review): its webhook reaches the portal.
    reference = at_bvnk(stack, "Wendy")[0]["reference"]
    stack.emulator.control(
        f"customers/{reference}/status", json={"status": "ACTIONS_REQUIRED"}
    ).raise_for_status()
    wait_for_status(page, "Actions required")
    # The bell counts it without a reload, and says so to screen readers.
    expect(page.locator("#notifications-bell .count")).to_have_text(re.compile(r"[1-9]"))
    expect(page.locator("#bell-news")).to_contain_text("unread notification")

    navigate(page, page.get_by_role("link", name=re.compile("^Notifications")))
    check_accessibility(page)
    notes = page.locator(".notes")
    expect(notes).to_contain_text("Wendy Queue is now actions required (was verified).")
    expect(notes).to_contain_text("Wendy Queue: BVNK asks for: Proof of address")
    navigate(page, page.get_by_role("button", name="Mark all read"))
    expect(page.locator("#notifications-bell .count")).to_have_count(0)

    navigate(page, page.get_by_role("link", name="My customers").first)
    navigate(page, page.get_by_role("link", name=re.compile("^Waiting on us")))
    check_accessibility(page)
    row = page.locator("tbody tr", has_text="Wendy Queue")
    expect(row).to_contain_text("BVNK asks for")
    expect(page.get_by_role("columnheader", name="Why it waits on us")).to_be_visible()
    navigate(page, page.get_by_role("link", name=re.compile("^Mine")))
    expect(page.locator("tbody tr", has_text="Wendy Queue")).to_contain_text("Assigned to agent")
