"""Wallets on the staff pages: the create form's choices read from BVNK, the Wallets tab,
creating a wallet, and showing an active wallet's account details (audited)."""

from __future__ import annotations

from typing import Any

import pytest

from customers import services
from customers.models import BvnkCall, Customer
from tests.conftest import make_individual
from tests.emulator.payloads import create_individual
from tests.emulator_server import EmulatorProcess

pytestmark = pytest.mark.django_db


def verified_at_bvnk(emulator: EmulatorProcess, **fields: Any) -> Customer:
    """A customer BVNK holds and has verified (a US resident at the emulator)."""
    reference = create_individual(emulator)["reference"]
    emulator.control(f"customers/{reference}/status", {"status": "VERIFIED"})
    return make_individual(status=Customer.Status.VERIFIED, bvnk_reference=reference, **fields)


# -- the create form's choices ---------------------------------------------------------------


def test_options_list_crypto_and_fiat_with_methods_in_staff_words(
    bvnk_emulator: EmulatorProcess, lead: Any
) -> None:
    customer = verified_at_bvnk(bvnk_emulator)
    options = services.wallet_options(customer, actor=lead)
    assert not options.unavailable
    assert {"USDC", "BTC"} <= set(options.crypto)
    assert options.crypto_profiles["USDC"].startswith("crypto:")
    (usd,) = [choice for choice in options.fiat if choice.currency == "USD"]
    (profile,) = usd.profiles
    assert profile.label == "ACH, Same-day ACH, Fedwire"
    assert options.profile("USD", profile.id) == profile
    assert options.profile("EUR", profile.id) is None
    # A recorded read, like every call the portal makes to BVNK.
    call = BvnkCall.objects.get(action="wallet.profiles")
    assert (call.customer, call.actor, call.status_code) == (customer, lead, 200)


def test_options_when_bvnk_is_down_are_a_sentence(settings: Any, lead: Any) -> None:
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    customer = make_individual(status=Customer.Status.VERIFIED, bvnk_reference="c-down")
    options = services.wallet_options(customer, actor=lead)
    assert (options.crypto, options.fiat) == ((), ())
    assert options.unavailable.startswith("BVNK could not be reached")


def test_options_for_a_customer_not_verified_say_why_without_asking_bvnk(lead: Any) -> None:
    customer = make_individual(status=Customer.Status.PENDING, bvnk_reference="c-review")
    options = services.wallet_options(customer, actor=lead)
    assert options.unavailable == services.wallet_blocker(customer)
    assert "verified" in options.unavailable
    assert not BvnkCall.objects.exists()
