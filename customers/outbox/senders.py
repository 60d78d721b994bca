"""One policy per kind of operation (`POLICIES`): what it sends, waits for, supersedes, and
what a success or a refusal records.

A sender returns an `Outcome` or raises `Cancel`; sending.py, which names no kind, claims
the operation, asks its policy whether it may go, calls the sender and records the
outcome. A new kind is a `BvnkOperation.Kind`, its functions here and a POLICIES row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.utils import timezone

from .. import services
from ..bvnk import wire
from ..bvnk.client import BvnkClient, idempotency_key
from ..bvnk.errors import BvnkError
from ..bvnk.types import DocumentUpload, QuestionnaireAnswers, StoredBody, WalletCreate
from ..models import Associate, BvnkOperation, ComplianceDocument, Customer, StatusChange, Wallet
from .publishing import new_operation

logger = logging.getLogger(__name__)

Kind = BvnkOperation.Kind
State = BvnkOperation.State
S = Customer.Status

# BVNK takes documents (and, as the emulator does, questionnaire answers) only while it
# collects information; the emulator also takes them in ACTIONS_REQUIRED ("re-upload").
COLLECTING = frozenset({S.INFO_REQUIRED, S.ACTIONS_REQUIRED})
CLOSED = frozenset({S.VERIFIED, S.REJECTED, S.TERMINATED})


# -- what a sender returns or raises ----------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `then` runs in the transaction that records it."""

    state: str  # DONE, FAILED, NEEDS_ATTENTION, CANCELLED or RETRY
    note: str = ""
    error: BvnkError | None = None
    result: dict[str, Any] = field(default_factory=dict)
    then: Callable[[], object] | None = None


class Cancel(Exception):
    """The operation no longer applies (the customer moved on); it will not be sent."""


def questionnaire_codes(operation: BvnkOperation) -> list[str]:
    """Return the codes of the questionnaires an operation answers."""
    return [str(answer.get("code")) for answer in operation.payload.get("answers", [])]


# -- what each kind waits for, and what supersedes it ----------------------------------


def _create_waits(operation: BvnkOperation) -> str:
    """A create goes at once, unless the customer left SUBMITTING before BVNK knew it."""
    customer = operation.customer
    if customer.status != S.SUBMITTING and not customer.bvnk_reference:
        raise Cancel("The customer is no longer being submitted.")
    return ""


def _created_waits(operation: BvnkOperation) -> str:
    """Every other kind waits for BVNK's reference (the create goes first)."""
    if not operation.customer.bvnk_reference:
        return "Waiting for the customer to be created at BVNK."
    return ""


def _collecting_waits(what: str, operation: BvnkOperation) -> str:
    """Documents and answers wait for the create, then go only while BVNK collects them."""
    customer = operation.customer
    waiting = _created_waits(operation)
    if waiting:
        return waiting
    if customer.status in CLOSED:
        raise Cancel(f"BVNK takes no {what} for a {customer.get_status_display()} customer.")
    if customer.status not in COLLECTING:
        return (
            f"Waiting: BVNK takes {what} only while it asks for information "
            f"(the customer is {customer.get_status_display()})."
        )
    return ""


def _any_newer(newer: BvnkOperation, older: BvnkOperation) -> bool:
    """A newer update carries the whole body: it replaces any older unsent one."""
    return True


def _answers_same_questionnaires(newer: BvnkOperation, older: BvnkOperation) -> bool:
    """Newer answers replace older ones when they answer every questionnaire those did."""
    return set(questionnaire_codes(older)) <= set(questionnaire_codes(newer))


# -- what each kind sends ---------------------------------------------------------------


def _send_create(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    """POST the stored create (unless BVNK's reference is known already), then read it back."""
    customer = operation.customer
    created = None
    adopted = False
    if not customer.bvnk_reference:
        try:
            created = client.create_customer(
                StoredBody(operation.payload["body"]), idempotency_key=operation.idempotency_key
            )
            found = created.reference
        except BvnkError as error:
            if not error.is_duplicate:
                raise
            # An earlier attempt created the customer but its answer was lost, and BVNK
            # refuses the repeat instead of replaying it (wire.is_duplicate_create). The
            # externalReference is this customer's own id: the one BVNK holds is this one.
            existing = _existing_reference(customer, client, error)
            if existing is None:
                return Outcome(
                    State.NEEDS_ATTENTION,
                    note="BVNK says this customer exists already, but no customer with "
                    f"external reference {customer.external_reference} could be found at "
                    "BVNK. Look it up in BVNK's portal before retrying.",
                    error=error,
                )
            found, adopted = existing, True
        # Keep BVNK's reference the moment it exists: a later failure only repeats the read.
        if Customer.objects.filter(pk=customer.pk, bvnk_reference__isnull=True).update(
            bvnk_reference=found, updated_at=timezone.now()
        ):
            customer.bvnk_reference = found
        else:
            customer.refresh_from_db(fields=["bvnk_reference"])
    reference = str(customer.bvnk_reference)
    try:
        remote = client.get_customer(reference)
    except BvnkError as error:
        if error.transient:
            raise  # the retry skips the POST: the reference is stored
        logger.warning("Created %s but could not read it back: %s", customer.pk, error)
        remote = None
    return Outcome(
        State.DONE,
        note=f"Found at BVNK as {reference}." if adopted else f"Created at BVNK as {reference}.",
        result={
            "reference": reference,
            "replayed": created is None and not adopted,
            "adopted": adopted,
        },
        then=partial(_created, operation, remote, created),
    )


def _existing_reference(customer: Customer, client: BvnkClient, error: BvnkError) -> str | None:
    """BVNK's reference of the customer an earlier attempt created, or None if not found."""
    try:
        return client.find_customer_reference(str(customer.external_reference))
    except BvnkError as lookup_error:
        if lookup_error.transient:
            raise  # try the whole create again later, same key
        logger.warning(
            "Duplicate create for %s and the lookup failed: %s (%s)",
            customer.pk,
            lookup_error.summary(),
            error.summary(),
        )
        return None


def _created(operation: BvnkOperation, remote: Any, created: Any) -> None:
    customer = operation.customer
    services.customer_record_created(customer, remote=remote, created=created)
    queued = queue_documents(customer, actor=operation.created_by)
    # Whatever waited for the create (answers queued meanwhile) may go now.
    BvnkOperation.objects.filter(customer=customer, state=State.PENDING).exclude(
        pk__in=[op.pk for op in queued]
    ).update(next_attempt_at=timezone.now(), note="")


def _create_refused(operation: BvnkOperation, error: BvnkError | None) -> None:
    """Send the customer back to DRAFT with BVNK's errors on the steps and fields that hold them."""
    ids = operation.payload.get("associates", [])
    by_pk = {a.pk: a for a in Associate.objects.filter(pk__in=ids)}
    associates = [by_pk[pk] for pk in ids if pk in by_pk]
    customer = operation.customer
    customer.refresh_from_db()
    if customer.status == S.SUBMITTING:
        services.customer_submission_refused(customer, error=error, associates=associates)


def queue_documents(customer: Customer, *, actor: Any = None) -> list[BvnkOperation]:
    """Queue an upload for each of the customer's documents BVNK does not have yet."""
    # A document that ever had an upload operation keeps it (and its key): staff retry that.
    documents = customer.documents.filter(bvnk_reference__isnull=True, operations__isnull=True)
    # Never a file the malware scan holds (submission waits for it; this is a backstop).
    documents = documents.exclude(scan_status__in=["PENDING", "INFECTED"])
    # New operations supersede nothing: one INSERT for them all.
    return BvnkOperation.objects.bulk_create(
        new_operation(
            customer=customer,
            kind=Kind.UPLOAD_DOCUMENT,
            # One key per document: it is uploaded once, whatever happens on the way.
            key=idempotency_key("document.upload", str(customer.external_reference), str(doc.pk)),
            payload={"document": doc.pk, "sha256": doc.sha256},
            actor=actor,
            document=doc,
        )
        for doc in documents.order_by("created_at", "pk")
    )


def _send_document(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    document = operation.document
    if document is None:
        raise Cancel("The document was deleted.")
    if document.bvnk_reference:
        return Outcome(State.DONE, note="BVNK has this document already.")
    person = ""
    if document.associate is not None:
        person = document.associate.bvnk_person_reference or _person_reference(
            operation.customer, document.associate, client
        )
        if not person:
            return Outcome(
                State.NEEDS_ATTENTION,
                note=f"BVNK lists no person matching {document.associate}; resync the "
                "customer, then retry.",
            )
    with document.file.open("rb") as stored:
        content = stored.read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        return Outcome(
            State.NEEDS_ATTENTION, note="The stored file no longer matches its checksum."
        )
    upload = DocumentUpload(
        type=document.document_type,
        sub_type=document.document_sub_type,
        name=document.original_name,
        content=content,
        customer_person_reference=person,
    )
    accepted = client.upload_documents(
        str(operation.customer.bvnk_reference), [upload], idempotency_key=operation.idempotency_key
    )
    first = accepted[0] if accepted else None
    reference = first.reference if first else ""
    bvnk_status = first.status if first else ""
    return Outcome(
        State.DONE,
        note="Uploaded." + (f" BVNK reference {reference}." if reference else ""),
        result={"reference": reference, "status": bvnk_status},
        then=partial(
            services.document_record_upload, document, reference=reference, status=bvnk_status
        ),
    )


def _person_reference(customer: Customer, associate: Associate, client: BvnkClient) -> str:
    """Read the customer from BVNK to learn the associates' person references."""
    remote = client.get_customer(str(customer.bvnk_reference))
    services.customer_record_people(customer, remote)
    associate.refresh_from_db(fields=["bvnk_person_reference"])
    return associate.bvnk_person_reference


def _document_refused(operation: BvnkOperation, error: BvnkError | None) -> None:
    if operation.document is not None:
        services.document_apply_bvnk_status(
            operation.document, ComplianceDocument.UploadStatus.FAILED
        )


def _send_questionnaire(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    answers = [
        QuestionnaireAnswers(code=answer["code"], sections=answer["sections"])
        for answer in operation.payload["answers"]
    ]
    client.submit_questionnaires(
        str(operation.customer.bvnk_reference), answers, idempotency_key=operation.idempotency_key
    )
    codes = ", ".join(questionnaire_codes(operation))
    return Outcome(State.DONE, note=f"Answers to {codes} accepted; BVNK checks them next.")


def _send_update(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    customer = operation.customer
    remote = client.update_customer(
        str(customer.bvnk_reference),
        StoredBody(operation.payload["body"]),
        idempotency_key=operation.idempotency_key,
    )
    return Outcome(
        State.DONE,
        note="BVNK has the new details.",
        then=partial(
            services.customer_record_bvnk_details,
            customer,
            observed_at=timezone.now(),
            data=remote.raw,
        ),
    )


def _wallet_waits(operation: BvnkOperation) -> str:
    """A wallet goes once the customer is verified; a customer closed meanwhile gets none."""
    customer = operation.customer
    if operation.wallet is None:
        raise Cancel("The wallet was deleted.")
    if customer.status in (S.REJECTED, S.TERMINATED):
        reason = f"Not sent: BVNK {customer.get_status_display().lower()} the customer first."
        services.wallet_refused(operation.wallet, reason=reason)
        raise Cancel(reason)
    if customer.status != S.VERIFIED or not customer.bvnk_reference:
        return f"Waiting: wallets are for verified customers ({customer.get_status_display()})."
    return ""


def _send_wallet(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    """POST the wallet with its key; a replayed key whose answer was lost adopts BVNK's."""
    wallet = operation.wallet
    if wallet is None:
        raise Cancel("The wallet was deleted.")
    if wallet.bvnk_id:
        remote = client.get_wallet(wallet.bvnk_id)
        note, adopted = f"BVNK has this wallet already ({wallet.bvnk_id}).", False
    else:
        body = operation.payload["body"]
        try:
            remote = client.create_wallet(
                WalletCreate(
                    currency=body["currency"],
                    name=body["name"],
                    customer_id=body["customerId"],
                    profile_id=body.get("profileId", ""),
                ),
                idempotency_key=operation.idempotency_key,
            )
            note, adopted = f"Created at BVNK as {remote.id}.", False
        except BvnkError as error:
            if error.code == wire.WALLET_FORBIDDEN_CODE:
                # A 403 that is BVNK's answer about this customer, not about the
                # credentials: a refusal, which repeating cannot change.
                return Outcome(
                    State.FAILED, note=services.wallet_refusal_reason(error), error=error
                )
            texts = [error.message, *(t for ts in error.field_errors.values() for t in ts)]
            if not wire.is_duplicate_wallet(error.status, error.code, texts):
                raise
            found = _existing_wallet(wallet, client)
            if found is None:
                return Outcome(
                    State.NEEDS_ATTENTION,
                    note="BVNK says this wallet was requested already, but no single wallet "
                    "of the customer matches it at BVNK. Look it up in BVNK's portal.",
                    error=error,
                )
            remote, note, adopted = found, f"Found at BVNK as {found.id}.", True
    return Outcome(
        State.DONE,
        note=note,
        result={"wallet": remote.id, "status": remote.status, "adopted": adopted},
        then=partial(
            services.wallet_record_bvnk,
            wallet,
            remote,
            source=StatusChange.Source.SYSTEM,
            source_reference=f"operation {operation.pk}",
        ),
    )


def _existing_wallet(wallet: Wallet, client: BvnkClient) -> Any:
    """The customer's wallet at BVNK an earlier attempt created (wire.WALLET_DUPLICATE_CODE)."""
    listed = client.customer_wallets(str(wallet.customer.bvnk_reference))
    candidates = services.wallet_adoption_candidates(wallet, listed)
    if len(candidates) != 1:
        return None
    # The list carries no account details; read the wallet itself.
    return client.get_wallet(candidates[0].id)


def _wallet_refused(operation: BvnkOperation, error: BvnkError | None) -> None:
    if operation.wallet is not None:
        services.wallet_refused(operation.wallet, reason=services.wallet_refusal_reason(error))


@dataclass(frozen=True)
class KindPolicy:
    """Everything the sending engine needs to know about one kind of operation."""

    # Send the operation (a claimed one) and say what came of it; raise Cancel when it no
    # longer applies. BvnkError is the engine's to classify.
    send: Callable[[BvnkOperation, BvnkClient], Outcome]
    # Why a due operation cannot go yet ("" when it can); raise Cancel when it never will.
    waits: Callable[[BvnkOperation], str]
    # What a refusal (FAILED) does besides being shown on the operation.
    on_refused: Callable[[BvnkOperation, BvnkError | None], None] | None = None
    # Whether a newer operation of the kind (first argument) carries everything an older
    # unsent one (second) would: the older is cancelled instead of sent late. None: never.
    superseded_by: Callable[[BvnkOperation, BvnkOperation], bool] | None = None


POLICIES: dict[str, KindPolicy] = {
    Kind.CREATE_CUSTOMER: KindPolicy(
        send=_send_create, waits=_create_waits, on_refused=_create_refused
    ),
    Kind.UPDATE_CUSTOMER: KindPolicy(
        send=_send_update, waits=_created_waits, superseded_by=_any_newer
    ),
    Kind.UPLOAD_DOCUMENT: KindPolicy(
        send=_send_document,
        waits=partial(_collecting_waits, "documents"),
        on_refused=_document_refused,
    ),
    Kind.SUBMIT_QUESTIONNAIRE: KindPolicy(
        send=_send_questionnaire,
        waits=partial(_collecting_waits, "questionnaire answers"),
        superseded_by=_answers_same_questionnaires,
    ),
    Kind.CREATE_WALLET: KindPolicy(
        send=_send_wallet, waits=_wallet_waits, on_refused=_wallet_refused
    ),
}
