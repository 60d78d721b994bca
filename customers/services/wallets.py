"""Wallets of verified customers: asking BVNK for one, and recording what BVNK says.

A request writes the wallet ("Creating…") and its CREATE_WALLET operation in one
transaction under the customer's lock; the outbox sends it with its own idempotency key
(customers/outbox/senders.py), so a wallet asked for once is created once at BVNK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import audit, notifications
from ..bvnk import types as bvnk_types
from ..bvnk import wire
from ..bvnk.client import idempotency_key
from ..bvnk.errors import BvnkError
from ..bvnk.types import WalletCreate
from ..bvnk_calls import bvnk_client
from ..models import AuditEvent, BvnkOperation, Customer, Wallet
from ..outbox import publishing
from .status import customer_write

logger = logging.getLogger(__name__)

# Decision 12 (BVNK's documentation does not state it; its error BVNK:LEDGER:4003 covers
# rejected customers): wallets are offered to VERIFIED customers only.
WALLET_STATUSES = frozenset({Customer.Status.VERIFIED})
# BVNK takes a wallet name; this one tells staff and BVNK's portal whose wallet it is.
NAME_LENGTH = 100


class WalletNotAllowed(Exception):
    """This customer cannot get this wallet now; the message says why, for staff."""


def wallet_blocker(customer: Customer) -> str:
    """Why no wallet can be created for the customer now, or "" when one can."""
    if customer.status in WALLET_STATUSES and customer.bvnk_reference:
        return ""
    status = customer.get_status_display()
    if customer.status in (Customer.Status.REJECTED, Customer.Status.TERMINATED):
        return f"BVNK {status.lower()} this customer, so it gets no new wallets."
    return (
        f"Wallets are for verified customers; this customer is {status.lower()}. "
        "A wallet can be created once BVNK has verified it."
    )


def wallet_request(
    *,
    customer: Customer,
    currency: str,
    kind: str,
    profile_id: str = "",
    methods: tuple[str, ...] | list[str] = (),
    actor: Any,
) -> Wallet:
    """Ask BVNK for a wallet: written at once as "Creating…", sent by the outbox.

    Raises WalletNotAllowed when the customer cannot have it (not verified, or the same
    wallet is already being created).
    """
    currency = currency.strip().upper()
    with customer_write(customer) as locked:
        blocker = wallet_blocker(locked)
        if blocker:
            raise WalletNotAllowed(blocker)
        name = f"{locked.name} {currency}"[:NAME_LENGTH]
        try:
            with transaction.atomic():
                wallet = Wallet.objects.create(
                    customer=locked,
                    name=name,
                    currency=currency,
                    kind=kind,
                    profile_id=profile_id,
                    methods=list(methods),
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
        except IntegrityError:
            raise WalletNotAllowed(
                f"A {currency} wallet with these payment methods is already being created "
                "for this customer."
            ) from None
        body = WalletCreate(
            currency=currency,
            name=name,
            customer_id=str(locked.bvnk_reference),
            profile_id=profile_id,
        )
        operation = publishing.operation_add(
            customer=locked,
            kind=BvnkOperation.Kind.CREATE_WALLET,
            # One key per wallet row: whatever happens on the way, it is created once.
            key=idempotency_key("wallet.create", str(locked.external_reference), str(wallet.pk)),
            payload={"body": body.to_wire()},
            actor=actor,
            wallet=wallet,
        )
        wallet_counts_refresh(locked)
        audit.record(
            actor=actor,
            action=AuditEvent.Action.ACTION,
            summary=f"Asked BVNK for a {currency} wallet",
            customer=locked,
            details={"wallet": wallet.pk, "profile": profile_id},
        )
        publishing.enqueue_after_commit([operation])
    logger.info(
        "Customer %s: %s wallet %s requested by %s (operation %s)",
        locked.pk,
        currency,
        wallet.pk,
        getattr(actor, "pk", None),
        operation.pk,
    )
    return wallet


def wallet_counts_refresh(customer: Customer) -> None:
    """Store the customer's wallet counts (the list's Wallets column and filter)."""
    counts = Wallet.objects.filter(customer=customer).aggregate(
        total=Count("pk", filter=~Q(status=Wallet.Status.REFUSED)),
        active=Count("pk", filter=Q(status=Wallet.Status.ACTIVE)),
    )
    Customer.objects.filter(pk=customer.pk).update(
        wallets_total=counts["total"], wallets_active=counts["active"]
    )
    customer.wallets_total = counts["total"]
    customer.wallets_active = counts["active"]


# What the create form says when BVNK's profiles cannot be read.
OPTIONS_UNAVAILABLE = (
    "BVNK could not be reached to list the wallets this customer can have. Nothing was "
    "lost; reload the page in a minute or two."
)


def wallet_record_bvnk(
    wallet: Wallet,
    remote: bvnk_types.Wallet,
    *,
    source: str,
    source_reference: str = "",
    event_at: datetime | None = None,
    reason: str = "",
) -> str:
    """Record what BVNK says of a wallet (its answer to the create, a webhook, a read).

    The one place a wallet's status changes after its create: BVNK's id, its status (an
    event older than the newest applied changes nothing), its account details (encrypted)
    and when it was last heard of; the customer's wallet counts follow. Returns a line for
    the event or call that brought it.
    """
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().select_related("customer").get(pk=wallet.pk)
        if event_at is not None and locked.last_event_at and event_at < locked.last_event_at:
            return f"Skipped {remote.status}: a newer event about this wallet was applied."
        locked.last_heard_at = timezone.now()
        fields = ["last_heard_at", "updated_at"]
        if not locked.bvnk_id:
            locked.bvnk_id = remote.id
            fields.append("bvnk_id")
        if remote.payment_instruments and list(remote.payment_instruments) != locked.details:
            locked.details = list(remote.payment_instruments)
            fields.append("details")
        if event_at is not None:
            locked.last_event_at = event_at
            fields.append("last_event_at")
        locked.save(update_fields=fields)
        outcome = _apply_wallet_status(locked, remote.status, source, source_reference, reason)
        wallet_counts_refresh(locked.customer)
    wallet.refresh_from_db()
    return outcome


def wallet_adoption_candidates(
    wallet: Wallet, listed: list[bvnk_types.Wallet]
) -> list[bvnk_types.Wallet]:
    """Of the wallets BVNK lists for the customer, those that may be `wallet`'s create whose
    answer was lost: the same currency and name, held by no row. Exactly one is adopted;
    any other count is left to staff."""
    held = set(
        Wallet.objects.filter(bvnk_id__in=[remote.id for remote in listed]).values_list(
            "bvnk_id", flat=True
        )
    )
    return [
        remote
        for remote in listed
        if remote.id not in held
        and remote.currency.upper() == wallet.currency
        and remote.name == wallet.name
    ]


def wallet_found_at_bvnk(customer: Customer, remote: bvnk_types.Wallet, *, source: str) -> Wallet:
    """Mirror a wallet BVNK holds for the customer that the portal never asked for (made
    in BVNK's own portal, say), so the customer page shows every wallet BVNK reports."""
    kind = (
        Wallet.Kind.CRYPTO
        if remote.currency.upper() in wire.CRYPTO_CURRENCIES
        else Wallet.Kind.FIAT
    )
    with transaction.atomic():
        wallet = Wallet.objects.create(
            customer=customer,
            name=remote.name[:NAME_LENGTH] or f"{customer.name} {remote.currency}"[:NAME_LENGTH],
            currency=remote.currency.upper(),
            kind=kind,
        )
        wallet_record_bvnk(
            wallet,
            remote,
            source=source,
            reason="Found at BVNK: this wallet was not asked for in the portal.",
        )
    logger.info("Customer %s: wallet %s found at BVNK as %s", customer.pk, remote.id, wallet.pk)
    return wallet


def _apply_wallet_status(
    locked: Wallet, status: str, source: str, reference: str, reason: str
) -> str:
    if status not in wire.WALLET_STATUSES:
        # A status BVNK's documentation does not name: kept on the event, never a 500.
        logger.warning("Wallet %s: BVNK reports unknown status %r", locked.pk, status)
        return f"BVNK reports the status {status!r}, which the portal does not know."
    if status == locked.status:
        return f"Wallet already {locked.get_status_display().lower()}."
    if not locked.can_transition_to(status):
        return f"Skipped {status}: the wallet is {locked.get_status_display().lower()}."
    old = locked.get_status_display().lower()
    locked.transition_to(status, source=source, source_reference=reference[:100], reason=reason)
    if status == Wallet.Status.ACTIVE:
        notifications.wallet_active_queue(locked.customer, locked.currency, locked.pk)
    return f"Wallet {old} -> {locked.get_status_display().lower()}."


def wallet_refused(wallet: Wallet, *, reason: str, source: str = "SYSTEM") -> None:
    """BVNK will hold no such wallet (the create was refused or no longer applies)."""
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().select_related("customer").get(pk=wallet.pk)
        if not locked.can_transition_to(Wallet.Status.REFUSED):
            return
        locked.status_reason = reason[:1000]
        locked.save(update_fields=["status_reason", "updated_at"])
        locked.transition_to(Wallet.Status.REFUSED, source=source, reason=reason[:1000])
        wallet_counts_refresh(locked.customer)


def wallet_refusal_reason(error: BvnkError | None) -> str:
    """BVNK's refusal of a wallet create in staff words."""
    if error is not None and error.code == wire.WALLET_FORBIDDEN_CODE:
        return "BVNK does not allow this customer wallets (rejected, or not yet allowed)."
    if error is not None and error.field_errors:
        fields = ", ".join(sorted(error.field_errors))
        return f"BVNK refused the wallet: it found a problem with {fields}."
    return "BVNK refused the wallet."


@dataclass(frozen=True)
class ProfileChoice:
    """One fiat profile offering a currency: its id (sent to BVNK) and its methods."""

    id: str
    methods: tuple[str, ...]  # BVNK's codes, stored on the wallet

    @property
    def method_labels(self) -> list[str]:
        return [
            wire.PAYMENT_METHODS.get(code, code.replace("_", " ").title()) for code in self.methods
        ]

    @property
    def label(self) -> str:
        return ", ".join(self.method_labels)


@dataclass(frozen=True)
class FiatChoice:
    currency: str
    profiles: tuple[ProfileChoice, ...]


@dataclass(frozen=True)
class WalletOptions:
    """The create form's choices as BVNK offers them to this customer, or why there are none."""

    crypto: tuple[str, ...] = ()
    # The crypto profile BVNK names for each crypto currency (sent with the create).
    crypto_profiles: dict[str, str] = field(default_factory=dict)
    fiat: tuple[FiatChoice, ...] = ()
    unavailable: str = ""

    def profile(self, currency: str, profile_id: str) -> ProfileChoice | None:
        """The fiat profile chosen on the form, if BVNK offers it for that currency."""
        for choice in self.fiat:
            if choice.currency == currency:
                return next((p for p in choice.profiles if p.id == profile_id), None)
        return None


def wallet_options(customer: Customer, *, actor: Any) -> WalletOptions:
    """Read from BVNK which wallets the customer can have: crypto currencies, and fiat
    currencies each with the profiles (payment methods) offering it.

    A customer that cannot have wallets gets its blocker sentence; BVNK unreachable or
    refusing gets a sentence too, never an exception.
    """
    blocker = wallet_blocker(customer)
    if blocker:
        return WalletOptions(unavailable=blocker)
    try:
        with bvnk_client(triggered_by="Wallet options", customer=customer, actor=actor) as client:
            profiles = client.wallet_profiles(str(customer.bvnk_reference))
    except BvnkError as error:
        logger.warning("Customer %s: wallet profiles not read: %s", customer.pk, error)
        return WalletOptions(unavailable=OPTIONS_UNAVAILABLE)
    crypto: dict[str, str] = {}
    fiat: dict[str, list[ProfileChoice]] = {}
    for profile in profiles:
        for currency in profile.currencies:
            if profile.is_crypto:
                crypto.setdefault(currency, profile.id)
            else:
                fiat.setdefault(currency, []).append(ProfileChoice(profile.id, profile.methods))
    return WalletOptions(
        crypto=tuple(sorted(crypto)),
        crypto_profiles=crypto,
        fiat=tuple(FiatChoice(c, tuple(p)) for c, p in sorted(fiat.items())),
    )


def wallet_request_offered(
    customer: Customer, *, kind: str, currency: str, profile_id: str = "", actor: Any
) -> Wallet:
    """Ask BVNK for a wallet chosen on a form, after checking BVNK still offers it.

    Crypto takes the crypto profile BVNK names for the currency; fiat takes the chosen
    profile and its methods. Raises WalletNotAllowed with a sentence for staff otherwise.
    """
    options = wallet_options(customer, actor=actor)
    if options.unavailable:
        raise WalletNotAllowed(options.unavailable)
    currency = currency.strip().upper()
    if kind == Wallet.Kind.CRYPTO:
        if currency not in options.crypto_profiles:
            raise WalletNotAllowed(f"BVNK offers this customer no {currency} crypto wallet.")
        return wallet_request(
            customer=customer,
            currency=currency,
            kind=kind,
            profile_id=options.crypto_profiles[currency],
            actor=actor,
        )
    profile = options.profile(currency, profile_id)
    if kind != Wallet.Kind.FIAT or profile is None:
        raise WalletNotAllowed(
            f"BVNK offers this customer no {currency} wallet with those payment methods."
        )
    return wallet_request(
        customer=customer,
        currency=currency,
        kind=kind,
        profile_id=profile.id,
        methods=profile.methods,
        actor=actor,
    )


@dataclass
class BulkResult:
    """What a bulk request created, and what it skipped with the reason, by customer name."""

    created: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def wallets_request_bulk(customers: Any, *, currency: str, actor: Any) -> BulkResult:
    """Ask BVNK for a crypto wallet of one currency for each customer (fiat needs a profile
    chosen per customer, so bulk is crypto only); one customer's refusal skips only it."""
    result = BulkResult()
    for customer in customers:
        try:
            wallet_request_offered(
                customer, kind=Wallet.Kind.CRYPTO, currency=currency, actor=actor
            )
        except WalletNotAllowed as refused:
            result.skipped.append((str(customer), str(refused)))
        else:
            result.created.append(str(customer))
    return result


def wallet_details_show(wallet: Wallet, *, actor: Any, request: Any = None) -> list[DetailRow]:
    """The account details of an ACTIVE wallet, as labelled rows; each showing is audited.

    Raises WalletNotAllowed when the wallet has none to show (not active, or BVNK sent
    none yet).
    """
    rows = detail_rows(wallet.details)
    if wallet.status != Wallet.Status.ACTIVE or not rows:
        raise WalletNotAllowed(
            "This wallet has no account details yet: BVNK gives them once it is active."
        )
    audit.record(
        actor=actor,
        action=AuditEvent.Action.VIEW,
        summary=f"Showed the account details of the {wallet.currency} wallet",
        customer=wallet.customer,
        details={"wallet": wallet.pk},
        request=request,
    )
    return rows


@dataclass(frozen=True)
class DetailRow:
    label: str
    value: str


# The nid types BVNK documents for bank details, in staff words.
NID_LABELS = {"ROUTING_NUMBER": "Routing number", "SORT_CODE": "Sort code"}


def detail_rows(details: Any) -> list[DetailRow]:
    """BVNK's paymentInstruments as label/value rows: a fiat account (number, holder, bank,
    BIC, sort code or routing number) or a crypto address and its network."""
    instruments = details if isinstance(details, list) else [details] if details else []
    rows: list[DetailRow] = []
    for item in instruments:
        if not isinstance(item, dict):
            continue
        bank = item.get("bankDetails") or {}
        nid = bank.get("nid") or {}
        number = str(item.get("accountNumber") or "")
        candidates = [
            ("Address", item.get("address")),
            ("Network", str(item.get("network") or "").replace("_", " ").title()),
            ("IBAN" if number[:2].isalpha() else "Account number", number),
            ("Account holder", item.get("accountHolderName")),
            ("Bank", bank.get("name")),
            ("BIC", bank.get("bic")),
            (NID_LABELS.get(str(nid.get("type")), "Bank code"), nid.get("value")),
        ]
        rows += [DetailRow(label, str(value)) for label, value in candidates if value]
    return rows
