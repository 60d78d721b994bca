"""Wallets in the browser: a verified customer gets a crypto and a fiat wallet from its
Wallets tab, both become active on the page without a reload, and their account details
are shown on purpose (and audited)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import check_accessibility, login
from tests.e2e.stack import Stack
from tests.e2e.test_case_view import readme_screenshot
from tests.e2e.test_journeys import (
    british_resident,
    navigate,
    onboard_individual,
    open_tab,
    wait_for_status,
)

pytestmark = pytest.mark.e2e


def test_a_verified_customer_gets_a_crypto_and_a_sepa_wallet(page: Page, stack: Stack) -> None:
    # A compliance lead may create wallets and show their account details.
    login(page, "lead")
    onboard_individual(page, stack, british_resident("Wanda", "Wallet", "QQ333333C"))
    wait_for_status(page, "Verified")
    open_tab(page, "Wallets")
    expect(page.get_by_text("No wallets yet.")).to_be_visible()
    # The form reads BVNK's offer for this customer when asked for.
    navigate(page, page.get_by_role("link", name="Create a wallet"))
    check_accessibility(page)

    page.get_by_label("Crypto currency").select_option("USDC")
    navigate(page, page.get_by_role("button", name="Create crypto wallet"))
    expect(page.locator(".messages")).to_contain_text("USDC wallet requested")
    check_accessibility(page)
    page.get_by_label("Fiat currency and payment methods").select_option(
        label="EUR: SEPA transfer, SEPA Instant"
    )
    navigate(page, page.get_by_role("button", name="Create fiat wallet"))
    check_accessibility(page)
    wallets = page.locator("#wallets")
    expect(wallets.locator(".wallet")).to_have_count(2)
    expect(wallets).to_contain_text("SEPA transfer, SEPA Instant")

    # BVNK creates and activates both; the tab follows without a reload.
    page.evaluate("window.notReloaded = true")
    for currency in ("USDC", "EUR"):
        card = page.locator("#wallets .wallet", has_text=f"{currency} ")
        expect(card.locator(".status").first).to_have_text("Active", timeout=90_000)
    assert page.evaluate("window.notReloaded === true"), "the tab changed without a reload"
    # "EUR wallet requested; BVNK is creating it" no longer describes the page.
    expect(page.locator(".messages")).not_to_contain_text("wallet requested")
    check_accessibility(page)
    # Tall enough for both wallets under the page's head (which stays in sight).
    page.set_viewport_size({"width": 1280, "height": 1150})
    readme_screenshot(page, "case-view-wallets")

    navigate(page, page.get_by_role("button", name="Show account details of the EUR wallet"))
    check_accessibility(page)
    details = page.locator(".account-details")
    expect(details).to_contain_text("IBAN")
    expect(details).to_contain_text("EMULATOR BANK EU")
    expect(details.get_by_role("button", name="Copy BIC")).to_be_visible()
    page.go_back()
    navigate(page, page.get_by_role("button", name="Show account details of the USDC wallet"))
    expect(page.locator(".account-details")).to_contain_text("Ethereum")

    # One audit row per showing, in the customer's audit log.
    navigate(page, page.get_by_role("link", name="Wanda Wallet"))
    open_tab(page, "Activity")
    audit_log = page.locator("section[aria-labelledby=audit-title]")
    for currency in ("EUR", "USDC"):
        expect(
            audit_log.get_by_text(f"Showed the account details of the {currency} wallet")
        ).to_have_count(1)
