"""What a customer still needs, and from whom: the checklist and its one-line summary.

Two sources: what BVNK said (questionnaire codes and outstanding documents in
`infoRequired`, the agreement, refused submissions, failed operations) and the portal's
own onboarding rules for drafts (customers/onboarding/steps.py, the same code the stepper uses).

The checklist is computed when a customer page is shown. The one-line summary, the
"waiting on" side and the needs-attention flag are stored on the customer by
`summary_store`, called in two places only: when a service's `services.customer_write`
ends (once, on the row it locked) and when the outbox settles an operation that needs
attention (`outbox.publishing.operations_settle`, through `summary_refresh`, which reads
the row first). So the My customers list shows them without a query per row;
`manage.py refresh_customer_summaries` recomputes them all.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from .models import AgreementSession, BvnkOperation, Customer
from .onboarding import slots
from .onboarding import steps as onboarding

S = Customer.Status
WaitingOn = Customer.WaitingOn

# Statuses in which BVNK waits for the partner (documents, answers, actions).
PARTNER_STATUSES = frozenset({S.INFO_REQUIRED, S.ACTIONS_REQUIRED})
BVNK_STATUSES = frozenset({S.SUBMITTING, S.PENDING})

# Operation states that need staff (the submission pipeline's outbox).
ATTENTION_STATES = (BvnkOperation.State.NEEDS_ATTENTION, BvnkOperation.State.FAILED)


@dataclass(frozen=True)
class Requirement:
    """One thing the customer still needs, and what staff can do about it."""

    kind: str  # questionnaire, document, agreement, step, submission, operation, waiting
    label: str
    source: str  # "BVNK" or "Portal"
    action: str = ""  # the button's words
    url: str = ""  # a link (GET)
    post_url: str = ""  # a form's action (POST), for actions that change something
    permission: str = ""  # what the user needs to act
    external: bool = False  # the link leaves the portal (BVNK's hosted pages)
    hint: str = ""


def attention_operations(customer: Customer) -> list[BvnkOperation]:
    """The customer's BVNK operations that failed or need staff, oldest first."""
    if not customer.pk:
        return []
    rows = BvnkOperation.objects.filter(customer=customer, state__in=ATTENTION_STATES)
    return list(rows.order_by("created_at", "id")[:20])


def questionnaire_title(code: str) -> str:
    """A questionnaire's code in words: "financialServicesQuestionnaireFull" ->
    "Financial services questionnaire full" (the page names it, the code stays technical)."""
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", code)
    if not words:
        return code
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)  # KYB stays
    return text[0].upper() + text[1:]


def answered_codes(customer: Customer) -> set[str]:
    """Questionnaires answered through the pipeline since BVNK last said what it needs."""
    State = BvnkOperation.State
    sent = Q(state__in=(State.PENDING, State.IN_FLIGHT))
    if customer.bvnk_synced_at is not None:
        sent |= Q(state=State.DONE, completed_at__gt=customer.bvnk_synced_at)
    else:
        sent |= Q(state=State.DONE)
    operations = BvnkOperation.objects.filter(
        sent, customer=customer, kind=BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE
    ).only("payload")
    return {
        str(answer.get("code"))
        for operation in operations
        for answer in operation.payload.get("answers", [])
        if isinstance(answer, dict)
    }


def operation_label(operation: BvnkOperation, *, quote: bool = True) -> str:
    """E.g. "Create customer failed: registrationNumber is invalid".

    Without `quote`, BVNK's words are left out and only the field is named: they may echo
    the refused value, and the one-line summary is stored in plain text.
    """
    verb = "needs attention" if operation.state == BvnkOperation.State.NEEDS_ATTENTION else "failed"
    text = _first_field_error(operation, quote=quote)
    if not text and quote:
        text = next(iter(operation.last_error.splitlines()), "")
    return f"{operation.get_kind_display()} {verb}" + (f": {text}" if text else "")


def _first_field_error(operation: BvnkOperation, *, quote: bool) -> str:
    for path, messages in (operation.field_errors or {}).items():
        if isinstance(messages, list) and messages:
            field = path.rsplit(".", 1)[-1]
            return f"{field} {messages[0]}" if quote else field
    return ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def refused_message(customer: Customer, *, quote: bool = True) -> str:
    """BVNK's refusal of the last submission, in a line; "" when it was not refused.

    Without `quote`, the first refused field is named instead of quoting BVNK (which may
    echo the refused value): for the summary stored in plain text.
    """
    errors = customer.submission_errors or {}
    if customer.status != S.DRAFT or not errors:
        return ""
    if not quote:
        fields = [
            name.replace("_", " ")
            for bucket in (errors.get("steps", {}), errors.get("associates", {}))
            for found in bucket.values()
            for name in found
        ] + [path.rsplit(".", 1)[-1] for path in errors.get("other", {})]
        if not fields:
            return "see the customer page"
        more = len(fields) - 1
        return fields[0] + (f" and {_count(more, 'more field')}" if more else "")
    first = next(
        (
            message
            for bucket in (errors.get("steps", {}), errors.get("associates", {}))
            for fields in bucket.values()
            for messages in fields.values()
            for message in messages
        ),
        "",
    ) or next((m for ms in errors.get("other", {}).values() for m in ms), "")
    return str(first or errors.get("message") or "BVNK refused the submission")


def checklist(
    customer: Customer,
    *,
    operations: list[BvnkOperation] | None = None,
    progress: onboarding.Progress | None = None,
    requested: list[slots.Slot] | None = None,
) -> list[Requirement]:
    """Everything the customer still needs, each with the action that resolves it.

    `requested`: `slots.requested_slots(customer, ...)`, when the caller has it already.
    """
    items: list[Requirement] = []
    pk = customer.pk
    operations = attention_operations(customer) if operations is None else operations
    for operation in operations:
        items.append(
            Requirement(
                "operation",
                operation_label(operation),
                "BVNK",
                action="Retry",
                post_url=reverse("customers:operation-retry", args=[pk, operation.pk]),
                permission="customers.submit_customer",  # whoever may submit may send again
            )
        )
    if customer.status == S.DRAFT:
        items += _draft_items(customer, progress or onboarding.Progress(customer))
        return items
    if customer.status in PARTNER_STATUSES:
        answered = answered_codes(customer) if customer.questionnaire_codes else set()
        for code in customer.questionnaire_codes:
            items.append(
                Requirement(
                    "questionnaire",
                    f"Answer BVNK's questionnaire: {questionnaire_title(code)}",
                    "BVNK",
                    action="Answer again" if code in answered else "Answer",
                    url=reverse("customers:questionnaire", args=[pk]),
                    permission="customers.change_customer",
                    hint="Answers sent; BVNK has not confirmed them yet."
                    if code in answered
                    else "",
                )
            )
        if requested is None:
            requested = slots.requested_slots(customer, list(customer.documents.all()))
        items += [_document_item(customer, slot) for slot in requested]
        if customer.verification_url:
            items.append(
                Requirement(
                    "verification",
                    "Identity verification on BVNK's hosted page",
                    "BVNK",
                    action="Open verification",
                    url=customer.verification_url,
                    external=True,
                )
            )
        if not any(item.source == "BVNK" for item in items):
            items.append(
                Requirement(
                    "waiting",
                    "BVNK asks for more; resync to see what"
                    if customer.status == S.INFO_REQUIRED
                    else "BVNK asks for an action; resync to see what",
                    "BVNK",
                    action="Resync from BVNK",
                    post_url=reverse("customers:resync", args=[pk]),
                    permission="customers.operate_customer",
                )
            )
    elif customer.status in BVNK_STATUSES and not operations:
        label = "Being sent to BVNK" if customer.status == S.SUBMITTING else "BVNK is reviewing"
        items.append(Requirement("waiting", label, "BVNK"))
    return items


def _document_item(customer: Customer, slot: slots.Slot) -> Requirement:
    """A document BVNK asks for, answered on the Requests tab (a file sent: wait for BVNK)."""
    if slot.document is not None:
        return Requirement(
            "document",
            slot.label,
            "BVNK",
            hint=f"{slot.document.original_name} sent; BVNK has not confirmed it yet.",
        )
    return Requirement(
        "document",
        f"Upload {slot.label}",
        "BVNK",
        action="Upload",
        url=reverse("customers:detail", args=[customer.pk]) + "?tab=requests#answer-documents",
        permission="customers.add_compliancedocument",
        hint=slot.hint,
    )


ACTIONS = {"step": "Complete", "document": "Upload", "submission": "Correct"}


def _draft_items(customer: Customer, progress: onboarding.Progress) -> list[Requirement]:
    """The onboarding steps' missing items (local rules and BVNK's refusal), as requirements."""
    items: list[Requirement] = []
    pk = customer.pk
    session = progress.latest_session
    expired = (
        session is not None
        and session.status != AgreementSession.Status.SIGNED
        and session.is_expired
    )
    for step, problems in progress.all_missing():
        url = reverse("customers:onboarding-step", args=[pk, step.slug])
        for problem in problems:
            source = "BVNK" if problem.startswith("BVNK") else "Portal"
            if step.kind == "agreement" and expired and source == "Portal":
                items.append(
                    Requirement(
                        "agreement",
                        "The agreement session expired before it was signed",
                        source,
                        action="Restart agreement session",
                        post_url=reverse("customers:agreement-restart", args=[pk]),
                        permission="customers.add_agreementsession",
                    )
                )
                continue
            if step.kind == "agreement":
                kind, action = "agreement", "Sign" if session is None else "Re-sign"
            else:
                kind = "document" if step.kind == "documents" else "step"
                kind = "submission" if source == "BVNK" else kind
                action = ACTIONS[kind]
            items.append(
                Requirement(
                    kind,
                    f"{step.title}: {problem}",
                    source,
                    action=action,
                    url=url,
                    permission="customers.change_customer",
                )
            )
    return items


# -- the stored summary ---------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    text: str
    waiting_on: str
    needs_attention: bool
    reason: str = ""  # why it waits on the partner, in a sentence (the work queue)


def unanswered_documents(customer: Customer) -> list[str]:
    """The documents BVNK asks for that no file answers yet, named as the checklist names them."""
    requested = slots.requested_slots(customer, list(customer.documents.all()))
    return [slot.label for slot in requested if slot.document is None]


def waiting_reason(
    customer: Customer,
    *,
    operations: list[BvnkOperation],
    refused: str,
    documents: list[str] | None = None,
) -> str:
    """Why the customer waits on the partner, in the checklist's words; "" when it does not.

    A draft left alone is not said here: how long it was left changes by the day
    (`stale_draft_reason`, when the list is shown).
    """
    if operations:
        kinds = ", ".join(dict.fromkeys(op.get_kind_display().lower() for op in operations))
        return f"Sending to BVNK failed ({kinds})"
    if refused:
        return f"BVNK refused the submission: {refused}"
    if customer.status not in PARTNER_STATUSES:
        return ""
    asked = unanswered_documents(customer) if documents is None else [*documents]
    asked += [questionnaire_title(code) for code in customer.questionnaire_codes]
    if customer.verification_url:
        asked.append("identity verification on BVNK's page")
    if asked:
        return ASKS_FOR + ", ".join(asked)
    if customer.status == S.INFO_REQUIRED:
        return "BVNK needs more information"
    return "BVNK asks for an action"


ASKS_FOR = "BVNK asks for: "


def asks_for_more(before: str, after: str) -> bool:
    """Whether the waiting reason `after` names something `before` did not: a reason that
    only shrinks (staff answered part of it) is no new request, nor is the general reason
    ("BVNK needs more information") left once staff answered all that BVNK named."""
    if not after.startswith(ASKS_FOR):
        return before != after and not before.startswith(ASKS_FOR)
    if not before.startswith(ASKS_FOR):
        return True
    return not set(after[len(ASKS_FOR) :].split(", ")) <= set(before[len(ASKS_FOR) :].split(", "))


def is_bvnk_request(customer: Customer) -> bool:
    """Whether the customer's stored waiting reason is something BVNK asks of the partner."""
    return bool(customer.waiting_reason) and (
        customer.status in PARTNER_STATUSES and not customer.needs_attention
    )


def stale_draft_cutoff(now: dt.datetime) -> dt.datetime:
    """Drafts untouched since before this wait on the partner (WORK_QUEUE_STALE_DRAFT_DAYS)."""
    return now - dt.timedelta(days=settings.WORK_QUEUE_STALE_DRAFT_DAYS)


def stale_draft_reason(updated_at: dt.datetime, now: dt.datetime) -> str:
    days = (now - updated_at).days
    return f"Draft untouched for {_count(days, 'day')}"


def waiting_on_us(now: dt.datetime) -> Q:
    """Customers that wait for the partner: what BVNK asks for, what failed or was refused
    (the needs-attention ones among them) and drafts left alone too long."""
    return Q(waiting_on=WaitingOn.PARTNER) | Q(
        status=S.DRAFT, updated_at__lt=stale_draft_cutoff(now)
    )


def summarise(customer: Customer, *, operations: list[BvnkOperation] | None = None) -> Summary:
    """Work out the one-line summary the My customers list shows for a customer."""
    operations = attention_operations(customer) if operations is None else operations
    refused = refused_message(customer, quote=False)
    attention = bool(operations or refused)
    status = customer.status
    documents: list[str] | None = None  # worked out once, for the text and the reason
    if operations:
        text = operation_label(operations[0], quote=False)
        if len(operations) > 1:
            text += f" (+{len(operations) - 1} more)"
    elif refused:
        text = f"Submission refused: {refused}"
    elif status == S.DRAFT:
        progress = onboarding.Progress(customer)
        todo = [step for step, _ in progress.all_missing()]
        text = f"Draft: {_count(len(todo), 'step')} to complete" if todo else "Ready to submit"
    elif status in PARTNER_STATUSES:
        parts = []
        # The checklist's own list, so the row and the customer page never disagree.
        documents = unanswered_documents(customer)
        if documents:
            parts.append(_count(len(documents), "document"))
        if questionnaires := len(customer.questionnaire_codes):
            parts.append(_count(questionnaires, "questionnaire"))
        if parts:
            text = ", ".join(parts) + " missing"
        elif customer.verification_url:
            text = "Identity verification to complete"
        else:
            text = (
                "BVNK needs more information"
                if status == S.INFO_REQUIRED
                else "BVNK asks for an action"
            )
    elif status == S.SUBMITTING:
        text = "Being sent to BVNK"
    elif status == S.PENDING:
        text = "Waiting for BVNK review"
    elif status == S.REJECTED:
        text = "Rejected by BVNK"
    else:
        text = ""
    if attention or status in PARTNER_STATUSES:
        waiting = WaitingOn.PARTNER
    elif status in BVNK_STATUSES:
        waiting = WaitingOn.BVNK
    else:
        waiting = WaitingOn.NOBODY
    reason = waiting_reason(
        customer,
        operations=operations,
        refused=refused,
        documents=documents,
    )
    return Summary(
        text=text[:200], waiting_on=waiting, needs_attention=attention, reason=reason[:200]
    )


def summary_refresh(customer: Customer | int) -> Summary:
    """Recompute and store a customer's summary, reading its row first."""
    pk = customer if isinstance(customer, int) else customer.pk
    summary = summary_store(Customer.objects.get(pk=pk))
    if not isinstance(customer, int):
        customer.blocking_summary = summary.text
        customer.waiting_on = summary.waiting_on
        customer.needs_attention = summary.needs_attention
        customer.waiting_reason = summary.reason
    return summary


def summary_store(locked: Customer) -> Summary:
    """Recompute and store the summary of a row the caller holds locked and up to date.

    The services call it once, at the end of their transaction, on the row they locked:
    reading the row again would only cost a query.
    """
    summary = summarise(locked)
    stored = (
        locked.blocking_summary,
        locked.waiting_on,
        locked.needs_attention,
        locked.waiting_reason,
    )
    if stored != (summary.text, summary.waiting_on, summary.needs_attention, summary.reason):
        # Not through save(): a derived cache is no change to the customer (updated_at).
        Customer.objects.filter(pk=locked.pk).update(
            blocking_summary=summary.text,
            waiting_on=summary.waiting_on,
            needs_attention=summary.needs_attention,
            waiting_reason=summary.reason,
        )
        locked.blocking_summary = summary.text
        locked.waiting_on = summary.waiting_on
        locked.needs_attention = summary.needs_attention
        locked.waiting_reason = summary.reason
    return summary
