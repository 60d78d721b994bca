"""Wallets on the staff pages: the create form's choices read from BVNK, the Wallets tab,
creating a wallet, and showing an active wallet's account details (audited)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from customers import services
from customers.models import AuditEvent, BvnkCall, Customer, Wallet
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


# -- the Wallets tab -------------------------------------------------------------------------

EUR_DETAILS = [
    {
        "type": "FIAT",
        "accountHolderName": "Jane Doe",
        "accountNumber": "EE12000000000000001234",
        "bankDetails": {"name": "EMULATOR BANK EU", "bic": "EMULEE2XXXX"},
    }
]


def wallet(customer: Customer, **fields: Any) -> Wallet:
    values: dict[str, Any] = {
        "customer": customer,
        "name": f"{customer} EUR",
        "currency": "EUR",
        "kind": Wallet.Kind.FIAT,
        "profile_id": "fiat:eur:profile-7",
        "methods": ["SEPA_CT", "SEPA_INST"],
    }
    values.update(fields)
    return Wallet.objects.create(**values)


def tab(client: Client, customer: Customer, **headers: str) -> str:
    page = reverse("customers:detail", args=[customer.pk])
    return client.get(page, {"tab": "wallets"}, headers=headers).content.decode()


def outside_technical(html: str) -> str:
    return re.sub(r'<details class="technical">.*?</details>', "", html, flags=re.S)


def test_the_tab_shows_each_wallet_in_staff_words_ids_only_in_technical_details(
    client: Client, viewer: Any, agent: Any
) -> None:
    customer = make_individual(status=Customer.Status.VERIFIED, bvnk_reference="c-words")
    eur = wallet(customer, created_by=agent, bvnk_id="w-eur-1")
    Wallet.objects.filter(pk=eur.pk).update(status=Wallet.Status.ACTIVE, details=EUR_DETAILS)
    usdc = wallet(customer, currency="USDC", kind=Wallet.Kind.CRYPTO, methods=[], profile_id="")
    Wallet.objects.filter(pk=usdc.pk).update(
        status=Wallet.Status.REFUSED, status_reason="Currency not supported"
    )
    client.force_login(viewer)
    html = tab(client, customer)
    assert "SEPA transfer, SEPA Instant" in html
    assert "Refused by BVNK" in html and "Reason: Currency not supported" in html
    assert f"by {agent}" in html and "crypto wallet" in html
    visible = outside_technical(html)
    for code in ("w-eur-1", "fiat:eur:profile-7", "SEPA_CT"):
        assert code in html and code not in visible
    # A viewer may neither create wallets nor show account details.
    assert "New wallet" not in html and "Show account details" not in html
    assert "EE12000000000000001234" not in html


def test_a_wallet_being_created_keeps_the_tab_live(client: Client, viewer: Any) -> None:
    rejected = make_individual(status=Customer.Status.REJECTED, bvnk_reference="c-live")
    client.force_login(viewer)
    assert 'id="wallets" data-live' not in tab(client, rejected)
    wallet(rejected)  # Creating…
    html = tab(client, rejected)
    assert 'id="wallets" data-live' in html and "Creating…" in html


def test_the_form_offers_what_bvnk_offers_to_roles_that_may_create(
    client: Client, bvnk_emulator: EmulatorProcess, agent: Any
) -> None:
    customer = verified_at_bvnk(bvnk_emulator)
    client.force_login(agent)
    html = tab(client, customer)
    assert '<option value="USDC">USDC</option>' in html
    assert "USD: ACH, Same-day ACH, Fedwire</option>" in html
    # The live refresh does not ask BVNK again; nor does any other tab.
    calls = BvnkCall.objects.filter(action="wallet.profiles").count()
    tab(client, customer, **{"X-Portal-Live": "1"})
    client.get(reverse("customers:detail", args=[customer.pk]))
    assert BvnkCall.objects.filter(action="wallet.profiles").count() == calls == 1


@pytest.mark.parametrize("status", [Customer.Status.PENDING, Customer.Status.TERMINATED])
def test_a_customer_that_cannot_have_wallets_says_why(
    client: Client, lead: Any, status: str
) -> None:
    customer = make_individual(status=status, bvnk_reference="c-blocked")
    client.force_login(lead)
    html = tab(client, customer)
    assert services.wallet_blocker(customer) in html.replace("&#x27;", "'")
    assert "Create crypto wallet" not in html
    assert not BvnkCall.objects.exists()


def test_creating_wallets_from_the_tab_shows_them_as_creating(
    client: Client, bvnk_emulator: EmulatorProcess, lead: Any
) -> None:
    customer = verified_at_bvnk(bvnk_emulator)
    client.force_login(lead)
    usd = services.wallet_options(customer, actor=lead).fiat[0].profiles[0]
    create = reverse("customers:wallet-create", args=[customer.pk])
    client.post(create, {"kind": "CRYPTO", "crypto": "USDC"})
    response = client.post(create, {"kind": "FIAT", "fiat": f"USD|{usd.id}"}, follow=True)
    html = response.content.decode()
    assert "USD wallet requested" in html
    assert html.count("Creating…") >= 2
    crypto, fiat = customer.wallets.order_by("pk")
    assert (crypto.currency, crypto.kind, crypto.profile_id[:7]) == ("USDC", "CRYPTO", "crypto:")
    assert (fiat.currency, fiat.profile_id, fiat.methods) == ("USD", usd.id, list(usd.methods))
    customer.refresh_from_db()
    assert customer.wallets_total == 2


def test_a_profile_bvnk_does_not_offer_is_refused(
    client: Client, bvnk_emulator: EmulatorProcess, lead: Any
) -> None:
    customer = verified_at_bvnk(bvnk_emulator)
    client.force_login(lead)
    create = reverse("customers:wallet-create", args=[customer.pk])
    response = client.post(create, {"kind": "FIAT", "fiat": "USD|fiat:usd:forged"}, follow=True)
    assert "BVNK offers this customer no USD wallet" in response.content.decode()
    response = client.post(create, {"kind": "CRYPTO", "crypto": "DOGE"}, follow=True)
    assert "no DOGE crypto wallet" in response.content.decode()
    assert not customer.wallets.exists()


# -- account details -------------------------------------------------------------------------


def test_showing_account_details_is_deliberate_and_audited_each_time(
    client: Client, agent: Any
) -> None:
    customer = make_individual(status=Customer.Status.VERIFIED, bvnk_reference="c-details")
    eur = wallet(customer)
    Wallet.objects.filter(pk=eur.pk).update(status=Wallet.Status.ACTIVE, details=EUR_DETAILS)
    client.force_login(agent)
    page = tab(client, customer)
    assert "Show account details" in page and "EE12000000000000001234" not in page
    show = reverse("customers:wallet-details", args=[customer.pk, eur.pk])
    for _ in range(2):
        html = client.post(show).content.decode()
    assert "EE12000000000000001234" in html and "EMULEE2XXXX" in html
    assert "IBAN" in html and "Copy" in html and "/static/js/copy.js" in html
    assert "<script>" not in html and "style=" not in html
    shown = AuditEvent.objects.filter(
        customer=customer, action=AuditEvent.Action.VIEW, summary__startswith="Showed"
    )
    assert shown.count() == 2
    assert {event.actor for event in shown} == {agent}


def test_a_wallet_not_active_has_no_details_to_show(client: Client, agent: Any) -> None:
    customer = make_individual(status=Customer.Status.VERIFIED, bvnk_reference="c-none")
    inactive = wallet(customer, status=Wallet.Status.INACTIVE)
    client.force_login(agent)
    show = reverse("customers:wallet-details", args=[customer.pk, inactive.pk])
    response = client.post(show, follow=True)
    assert "no account details yet" in response.content.decode()
    assert not AuditEvent.objects.filter(summary__startswith="Showed").exists()


def test_detail_rows_name_each_kind_of_account_in_staff_words() -> None:
    gbp = {
        "accountNumber": "12345678",
        "accountHolderName": "Jane Doe",
        "bankDetails": {
            "name": "UK Bank",
            "bic": "UKBKGB2L",
            "nid": {"value": "040004", "type": "SORT_CODE"},
        },
    }
    usd = {
        "accountNumber": "000123456789",
        "bankDetails": {"nid": {"value": "021000021", "type": "ROUTING_NUMBER"}},
    }
    crypto = {"type": "CRYPTO", "address": "0xabc", "network": "ETHEREUM"}
    rows = lambda details: [(row.label, row.value) for row in services.detail_rows(details)]  # noqa: E731
    assert rows([gbp]) == [
        ("Account number", "12345678"),
        ("Account holder", "Jane Doe"),
        ("Bank", "UK Bank"),
        ("BIC", "UKBKGB2L"),
        ("Sort code", "040004"),
    ]
    assert rows([usd]) == [("Account number", "000123456789"), ("Routing number", "021000021")]
    assert rows([crypto]) == [("Address", "0xabc"), ("Network", "Ethereum")]
    assert rows({}) == []


# -- My customers ----------------------------------------------------------------------------


def test_my_customers_shows_wallet_counts_and_filters_verified_without_a_wallet(
    client: Client, lead: Any
) -> None:
    bare = make_individual(status=Customer.Status.VERIFIED, last_name="Bare")
    Customer.objects.filter(pk=bare.pk).update(wallets_total=0)
    walleted = make_individual(status=Customer.Status.VERIFIED, last_name="Walleted")
    Customer.objects.filter(pk=walleted.pk).update(wallets_total=2, wallets_active=1)
    make_individual(status=Customer.Status.PENDING, last_name="Pending")
    client.force_login(lead)
    everyone = client.get(reverse("customers:list")).content.decode()
    assert "Wallets" in everyone and '<td class="nowrap">1 / 2</td>' in everyone
    filtered = client.get(reverse("customers:list"), {"no_wallet": "1"}).content.decode()
    assert "Jane Bare" in filtered
    assert "Jane Walleted" not in filtered and "Jane Pending" not in filtered
    assert 'name="no_wallet" value="1" checked' in filtered
    export = client.get(reverse("customers:export"), {"no_wallet": "1"})
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert "Wallets" in lines[0].split(",")
    assert len(lines) == 2 and ",0 / 0," in lines[1]
    full = b"".join(client.get(reverse("customers:export")).streaming_content).decode()
    assert ",1 / 2," in full


def test_only_verified_rows_can_be_selected_by_those_who_may_create(
    client: Client, agent: Any, viewer: Any
) -> None:
    verified = make_individual(status=Customer.Status.VERIFIED)
    pending = make_individual(status=Customer.Status.PENDING)
    client.force_login(agent)
    html = client.get(reverse("customers:list")).content.decode()
    assert f'name="customer" value="{verified.pk}" form="bulk-wallets"' in html
    assert f'name="customer" value="{pending.pk}"' not in html
    assert "crypto wallets only" in html
    client.force_login(viewer)
    html = client.get(reverse("customers:list")).content.decode()
    assert 'form="bulk-wallets"' not in html and 'id="bulk-wallets"' not in html


def test_bulk_creates_crypto_wallets_and_names_what_it_skipped_and_why(
    client: Client, bvnk_emulator: EmulatorProcess, agent: Any
) -> None:
    first = verified_at_bvnk(bvnk_emulator, last_name="First")
    second = verified_at_bvnk(bvnk_emulator, last_name="Second")
    pending = make_individual(status=Customer.Status.PENDING, last_name="Waiting")
    client.force_login(agent)
    response = client.post(
        reverse("customers:wallets-bulk"),
        {
            "customer": [first.pk, second.pk, pending.pk],
            "currency": "USDC",
            "next": "/customers/?no_wallet=1",
        },
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/customers/?no_wallet=1"
    html = response.content.decode().replace("&#x27;", "'")
    assert "USDC wallet requested for 2 customers: Jane First, Jane Second." in html
    assert "Skipped Jane Waiting: Wallets are for verified customers" in html
    for customer in (first, second):
        (made,) = customer.wallets.all()
        assert (made.currency, made.kind, made.status) == ("USDC", "CRYPTO", "CREATING")
    assert not pending.wallets.exists()


def test_bulk_without_a_currency_or_customers_creates_nothing(client: Client, agent: Any) -> None:
    verified = make_individual(status=Customer.Status.VERIFIED)
    client.force_login(agent)
    bulk = reverse("customers:wallets-bulk")
    for data in ({"customer": [verified.pk], "currency": "DOGE"}, {"currency": "USDC"}):
        response = client.post(bulk, data, follow=True)
        assert "Choose a crypto currency" in response.content.decode()
    response = client.post(bulk, {"currency": "USDC", "next": "https://evil.example/"})
    assert response["Location"] == reverse("customers:list")
    assert not Wallet.objects.exists()
    # Too many at once: refused whole, with how many, never a silent cut.
    too_many = list(range(1, 102))
    response = client.post(bulk, {"customer": too_many, "currency": "USDC"}, follow=True)
    assert "101 customers are selected" in response.content.decode()
    assert not Wallet.objects.exists()


def test_the_new_wallet_section_follows_the_customer_until_its_form_is_shown(
    client: Client, bvnk_emulator: EmulatorProcess, lead: Any
) -> None:
    customer = verified_at_bvnk(bvnk_emulator)
    client.force_login(lead)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.PENDING)
    waiting = tab(client, customer)
    assert 'id="new-wallet" data-live' in waiting and "Wallets are for verified" in waiting
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.VERIFIED)
    refreshed = tab(client, customer, **{"X-Portal-Live": "1"})
    assert 'id="new-wallet" data-live' in refreshed and "Create a wallet</a>" in refreshed
    # With the form on the page the section is left alone: what staff chose stays; if the
    # customer's state moves meanwhile, the page replaces the form by a note
    # (static/js/live.js, tests/e2e/test_live_refresh.py).
    form = tab(client, customer)
    assert "Create crypto wallet" in form and 'id="new-wallet" data-live' not in form
    section = form.split('id="new-wallet"')[1].split(">")[0]
    assert 'data-describes-state="customer-state"' in section and "data-stale=" in section
