"""Reconciliation: read what BVNK holds and apply what the portal missed.

Webhooks are the fast path, but BVNK may give up on a delivery, and a status may change
while the portal is down. So:

- `customer_resync` reads one customer (`GET /customers/{reference}`) and applies its
  status through `customer_apply_bvnk_status` (source SYNC) and its details through
  `customer_record_bvnk_details`, then compares its wallets with BVNK's list: the
  "Resync from BVNK" button, the admin action and
  `manage.py resync_customers`;
- `customers_reconcile` (Celery beat, every BVNK_RECONCILE_SECONDS) pages through
  `GET /customers` and applies every status that differs, then reads one by one the
  customers the portal has not heard about for BVNK_RECONCILE_STALE_SECONDS.

Every read of a customer stored through `customer_record_bvnk_details` also compares the
details a partner may change (email, phone, address, date of birth) with the portal's
and records those that differ on `Customer.details_drift` (none while an update is on
its way); the customer page and the admin show them, and `customer_details_resolve`
settles them either way.

Both take the time the read started as the moment BVNK's answer was true, so a webhook
applied meanwhile (newer) is never overwritten. Every status they change is a
StatusChange row saying so; the counts are logged and returned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .. import audit, bvnk_calls, services
from ..bvnk import types as bvnk_types
from ..bvnk import wire
from ..bvnk.errors import BvnkError
from ..models import Customer, InvalidTransition, StatusChange, Wallet

logger = logging.getLogger(__name__)

S = Customer.Status
PAGE = 100  # local lookups per batch of listed customers


class NotAtBvnk(Exception):
    """The customer has no BVNK reference yet, so there is nothing to read."""


@dataclass
class Report:
    """What a reconciliation or resync saw and changed."""

    listed: int = 0
    read: int = 0
    unknown: int = 0  # listed at BVNK, not in the portal
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.listed} listed", f"{self.read} read", f"{len(self.changes)} changed"]
        if self.unknown:
            parts.append(f"{self.unknown} unknown to the portal")
        if self.problems:
            parts.append(f"{len(self.problems)} problem(s)")
        return ", ".join(parts)


def apply_status(
    customer: Customer, status: str, *, observed_at: datetime, reason: str, report: Report
) -> None:
    """Apply a status BVNK reported, through the status service; note what happened."""
    if status not in wire.CUSTOMER_STATUSES or status == customer.status:
        return
    old = customer.status
    try:
        change = services.customer_apply_bvnk_status(
            customer,
            status,
            observed_at=observed_at,
            source=StatusChange.Source.SYNC,
            source_reference=str(customer.bvnk_reference or ""),
            reason=reason,
        )
    except InvalidTransition as refused:
        report.problems.append(f"{customer} ({customer.pk}): {refused}")
        logger.warning("Reconciliation: %s (%s) %s", customer, customer.pk, refused)
        return
    if change is not None:
        report.changes.append(f"{customer} ({customer.pk}): {old} -> {status}")


def apply_customer(
    customer: Customer,
    remote: bvnk_types.Customer,
    *,
    observed_at: datetime,
    reason: str,
    report: Report,
) -> None:
    """Apply a full read of a customer: people, details, then status."""
    services.customer_record_people(customer, remote)
    services.customer_record_bvnk_details(
        customer,
        observed_at=observed_at,
        info_required=remote.info_required,
        verification_url=remote.verification_url,
        data=remote.raw,
    )
    apply_status(customer, remote.status, observed_at=observed_at, reason=reason, report=report)
    report.read += 1


def customer_resync(customer: Customer, *, actor: Any = None) -> Report:
    """Read one customer from BVNK now and apply what differs. Raises BvnkError, NotAtBvnk.

    Its status changes with source SYNC; a resync a person asked for (`actor`) is audited.
    """
    if not customer.bvnk_reference:
        raise NotAtBvnk(f"{customer} has not been created at BVNK yet.")
    started = timezone.now()
    report = Report()
    who = f" by {actor}" if getattr(actor, "pk", None) else ""
    with bvnk_calls.bvnk_client(triggered_by="resync", customer=customer, actor=actor) as client:
        remote = client.get_customer(customer.bvnk_reference)
        apply_customer(
            customer,
            remote,
            observed_at=started,
            reason=f"Resync from BVNK{who}: BVNK says {remote.status}.",
            report=report,
        )
        if customer.status == S.VERIFIED or customer.wallets_total:
            _sync_customer_wallets(client, customer, report)
    logger.info("Resync of customer %s%s: %s", customer.pk, who, report.summary())
    _audit_resync(actor, customer, "Resynced from BVNK", report)
    return report


def _audit_resync(
    actor: Any, customer: Customer, summary: str, report: Report, **details: Any
) -> None:
    """A resync a person asked for is audited, with what it changed."""
    if actor is None:
        return
    changes = f": {'; '.join(report.changes)}" if report.changes else ""
    audit.record(
        actor=actor,
        action=audit.Action.ACTION,
        summary=summary + changes,
        customer=customer,
        details=details,
    )


def _sync_customer_wallets(client: Any, customer: Customer, report: Report) -> None:
    """Compare the customer's wallets at BVNK with the portal's: apply each one's status,
    adopt a wallet whose create answer was lost, mirror one made elsewhere."""
    try:
        listed = client.customer_wallets(str(customer.bvnk_reference))
    except BvnkError as error:
        report.problems.append(f"Wallets of {customer} ({customer.pk}): {error}")
        return
    local = list(Wallet.objects.filter(customer=customer))
    by_id = {wallet.bvnk_id: wallet for wallet in local if wallet.bvnk_id}
    pending = [wallet for wallet in local if not wallet.bvnk_id]
    unknown = []
    for remote in listed:
        wallet = by_id.get(remote.id)
        if wallet is None:
            unknown.append(remote)
            continue
        _record_wallet(wallet, remote, report)
    for wallet in pending:
        # The outbox's rule for a lost answer: exactly one candidate, or none is taken.
        matches = services.wallet_adoption_candidates(wallet, unknown)
        if len(matches) == 1 and wallet.status == Wallet.Status.CREATING:
            unknown.remove(matches[0])
            _record_wallet(wallet, matches[0], report)
    creating = {wallet.currency for wallet in pending if wallet.status == Wallet.Status.CREATING}
    held = set(
        Wallet.objects.filter(bvnk_id__in=[r.id for r in unknown]).values_list("bvnk_id", flat=True)
    )
    for remote in unknown:
        if remote.currency.upper() in creating:
            # It may be the answer to a create on its way: the outbox adopts or asks staff.
            report.problems.append(
                f"{customer} ({customer.pk}): BVNK lists a {remote.currency} wallet while "
                "one is being created; left to the create."
            )
        elif remote.id in held or remote.status not in wire.WALLET_STATUSES:
            report.problems.append(
                f"{customer} ({customer.pk}): BVNK lists wallet {remote.id} "
                f"({remote.status}), which the portal cannot take."
            )
        else:
            wallet = services.wallet_found_at_bvnk(
                customer, remote, source=StatusChange.Source.SYNC
            )
            report.changes.append(f"{wallet}: found at BVNK")


def _record_wallet(wallet: Wallet, remote: bvnk_types.Wallet, report: Report) -> None:
    before = wallet.status
    services.wallet_record_bvnk(wallet, remote, source=StatusChange.Source.SYNC)
    if wallet.status != before:
        report.changes.append(f"{wallet}: {before} -> {wallet.status}")


def wallet_resync(wallet: Wallet, *, actor: Any = None) -> Report:
    """Read one wallet from BVNK now and apply what differs (source SYNC). Raises
    BvnkError, NotAtBvnk; a resync a person asked for (`actor`) is audited."""
    if not wallet.bvnk_id:
        raise NotAtBvnk(
            f"BVNK has not confirmed the {wallet.currency} wallet yet: its creation is on its way."
        )
    customer = wallet.customer
    with bvnk_calls.bvnk_client(triggered_by="resync", customer=customer, actor=actor) as client:
        remote = client.get_wallet(wallet.bvnk_id)
    report = Report(read=1)
    _record_wallet(wallet, remote, report)
    summary = f"Resynced the {wallet.currency} wallet from BVNK"
    _audit_resync(actor, customer, summary, report, wallet=wallet.pk)
    return report


def customers_resync(customers: Iterable[Customer], *, actor: Any = None) -> Report:
    """Resync several customers; one that fails is noted and the others still run."""
    total = Report()
    for customer in customers:
        try:
            report = customer_resync(customer, actor=actor)
        except (BvnkError, NotAtBvnk) as exc:
            total.problems.append(f"{customer} ({customer.pk}): {exc}")
            continue
        total.read += report.read
        total.changes += report.changes
        total.problems += report.problems
    return total


def customers_reconcile(*, stale_after: float | None = None, budget: float | None = None) -> Report:
    """Compare BVNK's list with the portal, then read stale customers; return what changed.

    `stale_after`: seconds without news from BVNK after which a customer is read one by
    one (default BVNK_RECONCILE_STALE_SECONDS; 0 reads every created customer).
    `budget`: seconds this run may take (default half the task's soft time limit); what
    is left waits for the next run.
    """
    if stale_after is None:
        stale_after = settings.BVNK_RECONCILE_STALE_SECONDS
    if budget is None:
        budget = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    deadline = time.monotonic() + budget
    report = Report()
    started = timezone.now()
    with bvnk_calls.bvnk_client(triggered_by="reconciliation") as client:
        try:
            batch: list[bvnk_types.CustomerSummary] = []
            for summary in client.iter_customers():
                batch.append(summary)
                if len(batch) >= PAGE:
                    _apply_listed(batch, started, report)
                    batch = []
                if time.monotonic() > deadline:
                    report.problems.append("Stopped listing: out of time for this run.")
                    break
            _apply_listed(batch, started, report)
        except BvnkError as error:
            report.problems.append(f"Listing customers: {error}")
            logger.warning("Reconciliation could not list BVNK's customers: %s", error)
        cutoff = timezone.now() - timedelta(seconds=stale_after)
        stale = (
            Customer.objects.filter(bvnk_reference__isnull=False)
            .exclude(status__in=(S.TERMINATED, S.DRAFT))
            .filter(Q(bvnk_synced_at__isnull=True) | Q(bvnk_synced_at__lt=cutoff))
            # Never synced first, then the longest unheard of.
            .order_by(F("bvnk_synced_at").asc(nulls_first=True), "pk")
        )
        for customer in stale.iterator():
            if time.monotonic() > deadline:
                report.problems.append("Stopped reading: out of time for this run.")
                break
            read_at = timezone.now()
            try:
                remote = client.get_customer(str(customer.bvnk_reference))
            except BvnkError as error:
                report.problems.append(f"{customer} ({customer.pk}): {error}")
                if error.transient:
                    break  # BVNK is having a bad minute; the next run carries on
                continue
            apply_customer(
                customer,
                remote,
                observed_at=read_at,
                reason=f"Reconciliation: BVNK says {remote.status}.",
                report=report,
            )
        _read_unsettled_wallets(client, cutoff, deadline, report)
    log = logger.warning if report.problems else logger.info
    log("Reconciliation: %s", report.summary())
    for change in report.changes:
        logger.info("Reconciliation changed %s", change)
    return report


def _read_unsettled_wallets(client: Any, cutoff: datetime, deadline: float, report: Report) -> None:
    """Read wallets BVNK holds that are not settled and not heard of since `cutoff`: a
    lost status-change webhook delays an activation, never loses it."""
    unsettled = (
        Wallet.objects.filter(bvnk_id__isnull=False)
        .exclude(status__in=(Wallet.Status.ACTIVE, Wallet.Status.TERMINATED))
        .filter(Q(last_heard_at__isnull=True) | Q(last_heard_at__lt=cutoff))
        .order_by(F("last_heard_at").asc(nulls_first=True), "pk")
    )
    for wallet in unsettled.iterator():
        if time.monotonic() > deadline:
            report.problems.append("Stopped reading wallets: out of time for this run.")
            return
        try:
            remote = client.get_wallet(str(wallet.bvnk_id))
        except BvnkError as error:
            report.problems.append(f"Wallet {wallet.pk}: {error}")
            if error.transient:
                return
            continue
        report.read += 1
        _record_wallet(wallet, remote, report)


def _apply_listed(
    batch: list[bvnk_types.CustomerSummary], observed_at: datetime, report: Report
) -> None:
    if not batch:
        return
    report.listed += len(batch)
    local = {
        c.bvnk_reference: c
        for c in Customer.objects.filter(bvnk_reference__in=[item.reference for item in batch])
    }
    for item in batch:
        customer = local.get(item.reference)
        if customer is None:
            report.unknown += 1
            continue
        apply_status(
            customer,
            item.status,
            observed_at=observed_at,
            reason=f"Reconciliation: BVNK lists the customer as {item.status}.",
            report=report,
        )
