"""The work queue: who handles a customer, who watches it, discarding a draft, and the
in-app notifications a user reads."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import audit
from ..documents import delete_files_on_commit
from ..models import Customer, StaffNotification
from .status import customer_write

logger = logging.getLogger(__name__)


def _who(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def customer_assign(*, customer: Customer, assignee: Any, actor: Any) -> bool:
    """Make `assignee` (None: nobody) the one who handles the customer; False if already so."""
    with customer_write(customer) as locked:
        before = locked.assignee
        if getattr(before, "pk", None) == getattr(assignee, "pk", None):
            return False
        # Not through save(): who handles a customer is no change to it (updated_at, which
        # tells a draft left alone).
        Customer.objects.filter(pk=locked.pk).update(assignee=assignee)
        if assignee is None:
            summary = f"Unassigned {_who(before)}"
        elif getattr(assignee, "pk", None) == getattr(actor, "pk", None):
            summary = "Assigned the customer to themselves"
        else:
            summary = f"Assigned the customer to {_who(assignee)}"
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=summary,
            customer=locked,
            details={
                "assignee": getattr(assignee, "pk", None),
                "previous": getattr(before, "pk", None),
            },
        )
    customer.assignee = assignee
    return True


def customer_watch(*, customer: Customer, user: Any, watch: bool) -> None:
    """Follow a customer (its status changes and BVNK's requests reach `user`), or stop."""
    with transaction.atomic():
        watching = customer.watchers.filter(pk=user.pk).exists()
        if watch == watching:
            return
        if watch:
            customer.watchers.add(user)
        else:
            customer.watchers.remove(user)
        audit.record(
            actor=user,
            action=audit.Action.ACTION,
            summary="Started watching the customer" if watch else "Stopped watching the customer",
            customer=customer,
        )


class NotDiscardable(Exception):
    """Only a draft never sent to BVNK can be discarded."""


def customer_discard_draft(*, customer: Customer, actor: Any) -> str:
    """Delete a draft never submitted to BVNK, with its people, documents and files.

    Returns the name it had. The audit row stays (it keeps the customer's id).
    """
    # Not customer_write: there is no summary to store for a row that is gone.
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if not locked.discardable:
            raise NotDiscardable(
                f"{locked} was sent to BVNK; only drafts never sent can be discarded."
            )
        name = str(locked)
        files = [document.file.name for document in locked.documents.all()]
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Discarded the draft {name}, with {len(files)} document(s)",
            customer=locked,
            details={"external_reference": str(locked.external_reference)},
        )
        locked.delete()
        # After commit: a rollback keeps the draft, so it keeps its files too.
        delete_files_on_commit(files)
    logger.info("Draft %s discarded by %s", customer.pk, getattr(actor, "pk", None))
    return name


def staff_notifications_mark_read(*, user: Any, pk: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them); return how many."""
    unread = StaffNotification.objects.filter(user=user, read_at__isnull=True)
    if pk is not None:
        unread = unread.filter(pk=pk)
    return unread.update(read_at=timezone.now())
