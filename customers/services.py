"""Use cases that change customers. Every write to customer state goes through here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from . import onboarding, payloads
from .bvnk import types as bvnk_types
from .bvnk.client import BvnkClient, CallRecord, config_from_settings, idempotency_key
from .bvnk.errors import BvnkError
from .documents import CheckedFile
from .models import (
    AgreementSession,
    Associate,
    BvnkCall,
    ComplianceDocument,
    Customer,
    StatusChange,
)

logger = logging.getLogger(__name__)


def bvnk_client(
    *, triggered_by: str, customer: Customer | None = None, actor: Any = None
) -> BvnkClient:
    """A BVNK client whose every call is recorded as a BvnkCall row (without bodies)."""

    def record(call: CallRecord) -> None:
        BvnkCall.objects.create(
            started_at=call.started_at,
            method=call.method,
            path=call.path[:300],
            action=call.action,
            idempotency_key=call.idempotency_key,
            status_code=call.status_code,
            trace_id=call.trace_id,
            error=call.error[:500],
            duration_ms=call.duration_ms,
            customer=customer if customer is not None and customer.pk else None,
            actor=actor if getattr(actor, "pk", None) else None,
            triggered_by=triggered_by[:100],
        )

    return BvnkClient(config_from_settings(), observer=record)


def customer_create_draft(*, customer_type: str, actor: Any) -> Customer:
    """Start onboarding a customer: a draft row that every later step saves into."""
    return Customer.objects.create(type=Customer.Type(customer_type), created_by=actor)


def customer_change_status(
    customer: Customer,
    new_status: str,
    *,
    source: str,
    actor: Any = None,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """Move a customer to `new_status` under a row lock; None when it is already there.

    Raises InvalidTransition for a move the transition table refuses.
    """
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.status == new_status:
            return None
        change = locked.transition_to(
            new_status,
            source=source,
            actor=actor,
            source_reference=source_reference,
            reason=reason,
        )
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    return change


# -- What BVNK reports (webhooks, reads) -----------------------------------------------


def customer_apply_bvnk_status(
    customer: Customer,
    status: str,
    *,
    observed_at: datetime,
    source: str,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """Apply the status BVNK reported as true at `observed_at`, unless the portal holds newer.

    Returns the change; None when the report is not newer than `bvnk_status_at` (BVNK
    does not promise order, bvnk-api.md 6.5) or the customer already has that status.
    Raises InvalidTransition.
    """
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.bvnk_status_at is not None and observed_at <= locked.bvnk_status_at:
            return None
        change = customer_change_status(
            locked, status, source=source, source_reference=source_reference, reason=reason
        )
        locked.bvnk_status_at = observed_at
        locked.save(update_fields=["bvnk_status_at", "updated_at"])
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    customer.bvnk_status_at = locked.bvnk_status_at
    return change


def customer_record_bvnk_details(
    customer: Customer,
    *,
    observed_at: datetime,
    info_required: dict[str, Any] | None = None,
    verification_url: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Store what BVNK says a customer still needs, unless the portal holds newer details.

    A None argument leaves its field alone. Returns whether anything was written.
    """
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.bvnk_synced_at is not None and observed_at < locked.bvnk_synced_at:
            return False
        values: dict[str, Any] = {"bvnk_synced_at": observed_at}
        if info_required is not None:
            values["info_required"] = info_required
        if verification_url is not None:
            values["verification_url"] = _link(verification_url)
        if data is not None:
            values["bvnk_data"] = data
        for name, value in values.items():
            setattr(locked, name, value)
            setattr(customer, name, value)
        locked.save(update_fields=[*values, "updated_at"])
    return True


def _link(url: str) -> str:
    """Return `url` when staff may safely open it (http or https, fits the field), else ""."""
    return url if urlsplit(url).scheme in ("http", "https") and len(url) <= 1000 else ""


def agreement_session_apply_bvnk_status(
    session: AgreementSession, status: str, *, data: dict[str, Any] | None = None
) -> bool:
    """Store the status BVNK reports for an agreement session; returns whether it changed."""
    new = AgreementSession.Status(status)
    with transaction.atomic():
        locked = AgreementSession.objects.select_for_update().get(pk=session.pk)
        fields = ["updated_at"]
        if data is not None:
            locked.bvnk_data = data
            fields.append("bvnk_data")
        changed = locked.status != new
        if changed:
            locked.status = new
            fields.append("status")
        if len(fields) > 1:
            locked.save(update_fields=fields)
    session.status = locked.status
    return changed


def document_apply_bvnk_status(document: ComplianceDocument, upload_status: str) -> bool:
    """Store BVNK's review outcome for a document; returns whether it changed."""
    new = ComplianceDocument.UploadStatus(upload_status)
    with transaction.atomic():
        locked = ComplianceDocument.objects.select_for_update().get(pk=document.pk)
        if locked.upload_status == new:
            return False
        locked.upload_status = new
        locked.save(update_fields=["upload_status", "updated_at"])
    document.upload_status = new
    return True


# -- Onboarding (drafts, associates, documents, agreement, submission) -------------------


class NotEditable(Exception):
    """The customer is no longer a draft, so its onboarding cannot change."""

    def __init__(self, customer: Customer) -> None:
        super().__init__(
            f"{customer} is {customer.get_status_display().lower()}; only drafts can be edited."
        )


class OnboardingIncomplete(Exception):
    """A submission was asked for while the draft still misses something."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("The customer cannot be submitted yet: " + "; ".join(missing))
        self.missing = missing


class NotUpdatable(Exception):
    """BVNK does not take updates for this customer (not created, or closed)."""


UPDATABLE_STATUSES = frozenset(
    {
        Customer.Status.INFO_REQUIRED,
        Customer.Status.PENDING,
        Customer.Status.VERIFIED,
        Customer.Status.ACTIONS_REQUIRED,
    }
)


def _locked_draft(customer: Customer) -> Customer:
    """Lock the customer row (inside a transaction) and check it is still a draft."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.status != Customer.Status.DRAFT:
        raise NotEditable(locked)
    return locked


def _delete_files_on_commit(names: list[str]) -> None:
    """Remove stored files once the rows pointing at them are gone for good."""
    from .models import private_storage

    def delete() -> None:
        storage = private_storage()
        for name in names:
            if name:
                storage.delete(name)

    transaction.on_commit(delete)


def _store_errors(locked: Customer, errors: dict[str, Any], fields: list[str]) -> None:
    if errors is not locked.submission_errors:
        locked.submission_errors = errors
        fields.append("submission_errors")


def onboarding_save_step(
    *, customer: Customer, step: str, values: dict[str, Any], actor: Any, complete: bool
) -> None:
    """Store one step's values on a draft; a complete save clears BVNK's errors for it."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        fields = list(values)
        for name, value in values.items():
            setattr(locked, name, value)
        if complete:
            _store_errors(
                locked, onboarding.without_step_errors(locked.submission_errors, step), fields
            )
        locked.save(update_fields=[*fields, "updated_at"])
    for name in [*fields, "updated_at"]:
        setattr(customer, name, getattr(locked, name))
    logger.info("Draft %s: step %s saved by %s", customer.pk, step, getattr(actor, "pk", None))


def associate_save(
    *, customer: Customer, associate: Associate | None, values: dict[str, Any], actor: Any
) -> Associate:
    """Add a person to a draft company, or change one."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        if associate is None:
            associate = Associate(customer=locked)
        elif associate.customer_id != locked.pk:
            raise ValueError("The associate belongs to another customer.")
        for name, value in values.items():
            setattr(associate, name, value)
        associate.save()
        fields: list[str] = []
        errors = onboarding.without_associate_errors(locked.submission_errors, associate.pk)
        _store_errors(locked, onboarding.without_step_errors(errors, "associates"), fields)
        locked.save(update_fields=[*fields, "updated_at"])
    logger.info("Draft %s: associate %s saved by %s", locked.pk, associate.pk, actor)
    return associate


def associate_delete(*, associate: Associate, actor: Any) -> None:
    """Remove a person, and their documents, from a draft company."""
    with transaction.atomic():
        locked = _locked_draft(associate.customer)
        names = [document.file.name for document in associate.documents.all()]
        pk = associate.pk
        associate.delete()
        fields: list[str] = []
        errors = onboarding.without_associate_errors(locked.submission_errors, pk)
        _store_errors(locked, onboarding.without_step_errors(errors, "associates"), fields)
        locked.save(update_fields=[*fields, "updated_at"])
        _delete_files_on_commit(names)
    logger.info("Draft %s: associate %s removed by %s", locked.pk, pk, actor)


def document_store(
    *,
    customer: Customer,
    slot: onboarding.Slot,
    upload: Any,
    checked: CheckedFile,
    actor: Any,
) -> ComplianceDocument:
    """Store a checked file in a document slot of a draft, replacing what was there."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        previous = list(
            locked.documents.filter(
                associate=slot.associate,
                document_type=slot.document_type,
                document_sub_type=slot.sub_type,
            )
        )
        document = ComplianceDocument(
            customer=locked,
            associate=slot.associate,
            document_type=slot.document_type,
            document_sub_type=slot.sub_type,
            original_name=checked.name,
            size=checked.size,
            content_type=checked.content_type,
            sha256=checked.sha256,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        document.file.save(checked.name, upload, save=False)
        try:
            for old in previous:
                old.delete()
            document.save()
            locked.save(update_fields=["updated_at"])
        except Exception:
            document.file.storage.delete(document.file.name)
            raise
        _delete_files_on_commit([old.file.name for old in previous])
    return document


def document_delete(*, document: ComplianceDocument, actor: Any) -> None:
    """Remove a document from a draft."""
    with transaction.atomic():
        locked = _locked_draft(document.customer)
        name = document.file.name
        document.delete()
        locked.save(update_fields=["updated_at"])
        _delete_files_on_commit([name])
    logger.info("Draft %s: document removed by %s", locked.pk, actor)


def _session_data(session: bvnk_types.AgreementSession) -> dict[str, Any]:
    return {
        "reference": session.reference,
        "status": session.status,
        "customerType": session.customer_type,
        "useCase": session.use_case,
        "countryCode": session.country_code,
        "expiresOn": session.expires_on.isoformat() if session.expires_on else None,
        "agreements": [
            {
                "name": agreement.name,
                "displayName": agreement.display_name,
                "url": agreement.url,
                "privacyPolicyUrl": agreement.privacy_policy_url,
            }
            for agreement in session.agreements
        ],
    }


def agreement_session_start(
    *, customer: Customer, actor: Any, return_url: Callable[[AgreementSession], str]
) -> str:
    """Open a BVNK agreement session for a draft; return BVNK's hosted page to send them to.

    A pending session for the same country is reused. `return_url` gives the absolute
    portal URL BVNK sends the user back to.
    """
    if customer.status != Customer.Status.DRAFT:
        raise NotEditable(customer)
    request = payloads.agreement_session_create(customer)
    pending = (
        customer.agreement_sessions.filter(
            status=AgreementSession.Status.PENDING, country=request.country_code
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if pending is not None and not pending.is_expired and pending.use_case == request.use_case:
        session = pending
    else:
        # One key per session opened: a retry after a lost answer gets BVNK's session back.
        key = idempotency_key(
            "agreement_session.create",
            str(customer.external_reference),
            str(customer.agreement_sessions.count() + 1),
        )
        with bvnk_client(
            triggered_by="onboarding: agreement", customer=customer, actor=actor
        ) as client:
            created = client.create_agreement_session(request, idempotency_key=key)
        status = created.status if created.status in AgreementSession.Status.values else "PENDING"
        session, _ = AgreementSession.objects.get_or_create(
            bvnk_reference=created.reference,
            defaults={
                "customer": customer,
                "status": status,
                "use_case": created.use_case or request.use_case,
                "country": created.country_code or request.country_code,
                "expires_on": created.expires_on,
                "bvnk_data": _session_data(created),
            },
        )
    query = urlencode({"session": session.bvnk_reference, "redirectUri": return_url(session)})
    return f"{settings.BVNK_AGREEMENT_URL}?{query}"


def agreement_session_confirm(*, session: AgreementSession, actor: Any) -> AgreementSession:
    """Ask BVNK for a session's status; the hosted page's redirect alone proves nothing."""
    with bvnk_client(
        triggered_by="onboarding: agreement return", customer=session.customer, actor=actor
    ) as client:
        remote = client.get_agreement_session(session.bvnk_reference)
    if remote.status in AgreementSession.Status.values:
        agreement_session_apply_bvnk_status(session, remote.status, data=_session_data(remote))
    if remote.expires_on and remote.expires_on != session.expires_on:
        AgreementSession.objects.filter(pk=session.pk).update(expires_on=remote.expires_on)
        session.expires_on = remote.expires_on
    if session.status == AgreementSession.Status.SIGNED:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=session.customer_id)
            fields: list[str] = []
            _store_errors(
                locked,
                onboarding.without_step_errors(locked.submission_errors, "agreement"),
                fields,
            )
            if fields:
                locked.save(update_fields=[*fields, "updated_at"])
    return session


def customer_submit(*, customer: Customer, actor: Any) -> None:
    """Submit a complete draft: SUBMITTING now, the BVNK create in a task after commit."""
    from . import tasks  # tasks import this module.

    with transaction.atomic():
        locked = _locked_draft(customer)
        progress = onboarding.Progress(locked)
        missing = [item for _, items in progress.all_missing() for item in items]
        if missing:
            raise OnboardingIncomplete(missing)
        locked.submission_count += 1
        locked.submission_errors = {}
        locked.save(update_fields=["submission_count", "submission_errors", "updated_at"])
        customer_change_status(
            locked,
            Customer.Status.SUBMITTING,
            source=StatusChange.Source.STAFF,
            actor=actor,
            reason=f"Submitted to BVNK (submission {locked.submission_count}).",
        )
        pk = locked.pk
        transaction.on_commit(lambda: tasks.create_customer_at_bvnk.delay(pk))
    for name in ("status", "status_changed_at", "submission_count", "submission_errors"):
        setattr(customer, name, getattr(locked, name))


def submission_idempotency_key(customer: Customer) -> str:
    """The X-Idempotency-Key of the customer's current submission (same on every retry)."""
    return idempotency_key(
        "customer.create", str(customer.external_reference), str(customer.submission_count)
    )


def customer_create_at_bvnk(*, customer_id: int) -> None:
    """Create a SUBMITTING customer at BVNK and record the answer; safe to run twice.

    Raises BvnkError only when it is transient, for the task to retry with the same key.
    A permanent refusal sends the customer back to DRAFT with BVNK's field errors.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or customer.status != Customer.Status.SUBMITTING:
        return  # Done already, or taken back: nothing to send.
    created: bvnk_types.CustomerCreated | None = None
    with bvnk_client(triggered_by="task: submit customer", customer=customer) as client:
        if not customer.bvnk_reference:
            associates = payloads.payload_associates(customer)
            try:
                request = payloads.customer_create(customer, associates=associates)
                created = client.create_customer(
                    request, idempotency_key=submission_idempotency_key(customer)
                )
            except payloads.IncompleteCustomer as problem:
                customer_submission_refused(customer, message=str(problem), associates=associates)
                return
            except BvnkError as error:
                if not error.permanent:
                    raise
                customer_submission_refused(customer, error=error, associates=associates)
                return
            # Keep BVNK's reference the moment it exists, before anything else can fail.
            Customer.objects.filter(pk=customer.pk, bvnk_reference__isnull=True).update(
                bvnk_reference=created.reference, updated_at=timezone.now()
            )
            customer.refresh_from_db()
        try:
            remote = client.get_customer(str(customer.bvnk_reference))
        except BvnkError as error:
            if not error.permanent:
                raise
            logger.warning("Created %s but could not read it back: %s", customer.pk, error)
            remote = None
    customer_record_created(customer, remote=remote, created=created)


def _match_people(
    associates: list[Associate], persons: tuple[bvnk_types.PersonRef, ...]
) -> dict[int, str]:
    """Pair associates with BVNK's person references: by name and birth date, else order."""
    from .forms import same_person

    matched: dict[int, str] = {}
    left = list(persons)
    for associate in associates:
        person = next(
            (p for p in left if same_person(associate, p.first_name, p.last_name, p.date_of_birth)),
            None,
        )
        if person is not None and person.reference:
            matched[associate.pk] = person.reference
            left.remove(person)
    if not matched and len(associates) == len(persons):
        matched = {
            a.pk: p.reference for a, p in zip(associates, persons, strict=True) if p.reference
        }
    return matched


def customer_record_created(
    customer: Customer,
    *,
    remote: bvnk_types.Customer | None,
    created: bvnk_types.CustomerCreated | None,
) -> None:
    """Store what BVNK holds for a just-created customer and leave SUBMITTING."""
    now = timezone.now()
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if remote is not None:
            if locked.is_company:
                people = _match_people(payloads.payload_associates(locked), remote.persons)
                for pk, reference in people.items():
                    Associate.objects.filter(pk=pk).update(bvnk_person_reference=reference)
            customer_record_bvnk_details(
                locked,
                observed_at=now,
                info_required=remote.info_required,
                verification_url=remote.verification_url,
                data=remote.raw,
            )
        elif created is not None and created.questionnaire_codes:
            customer_record_bvnk_details(
                locked,
                observed_at=now,
                info_required={"questionnaireCodes": list(created.questionnaire_codes)},
            )
        status = (remote.status if remote else "") or (created.status if created else "")
        if status not in Customer.Status.values or not locked.can_transition_to(status):
            status = Customer.Status.INFO_REQUIRED  # Decision 2: a create starts there.
        customer_apply_bvnk_status(
            locked,
            status,
            observed_at=now,
            source=StatusChange.Source.SUBMISSION,
            source_reference=str(locked.bvnk_reference),
            reason=f"Created at BVNK (submission {locked.submission_count}).",
        )
    customer.refresh_from_db()


def customer_submission_refused(
    customer: Customer,
    *,
    associates: list[Associate],
    error: BvnkError | None = None,
    message: str = "",
) -> None:
    """Send a refused submission back to DRAFT with BVNK's errors on the right steps."""
    errors = onboarding.map_bvnk_errors(customer, error.field_errors if error else {}, associates)
    errors.update(
        message=error.message if error else message,
        code=error.code if error else "",
        trace_id=error.trace_id if error else "",
        submission=customer.submission_count,
        at=timezone.now().isoformat(),
    )
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        locked.submission_errors = errors
        locked.save(update_fields=["submission_errors", "updated_at"])
        customer_change_status(
            locked,
            Customer.Status.DRAFT,
            source=StatusChange.Source.SUBMISSION,
            source_reference=error.trace_id if error else "",
            reason=f"BVNK refused submission {locked.submission_count}: "
            + (error.summary() if error else message),
        )
    customer.refresh_from_db()


def customer_update_details(*, customer: Customer, values: dict[str, Any], actor: Any) -> list[str]:
    """Change contact details, address or date of birth, and send them to BVNK after commit.

    Returns the names of the fields that changed (nothing is sent when none did). The
    audit is the log line here and the BvnkCall row the task's PUT leaves, both naming
    the actor.
    """
    from . import tasks  # tasks import this module.

    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if not locked.bvnk_reference or locked.status not in UPDATABLE_STATUSES:
            raise NotUpdatable(
                f"{locked} is {locked.get_status_display().lower()}; BVNK takes updates only "
                "for created customers that are not rejected or terminated."
            )
        changed = [name for name, value in values.items() if getattr(locked, name) != value]
        if not changed:
            return []
        for name in changed:
            setattr(locked, name, values[name])
        locked.save(update_fields=[*changed, "updated_at"])
        change_id = uuid.uuid4().hex
        actor_id = getattr(actor, "pk", None)
        pk = locked.pk
        transaction.on_commit(
            lambda: tasks.push_customer_update_to_bvnk.delay(pk, change_id, actor_id)
        )
    for name in changed:
        setattr(customer, name, getattr(locked, name))
    logger.info(
        "Customer %s: %s changed by %s (change %s)", pk, ", ".join(changed), actor_id, change_id
    )
    return changed


def customer_push_update_to_bvnk(*, customer_id: int, change_id: str, actor_id: int | None) -> None:
    """PUT a customer's current details to BVNK (decision 3); safe to run twice.

    Raises BvnkError only when transient. A refusal is left in the BvnkCall log.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or not customer.bvnk_reference:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    key = idempotency_key("customer.update", str(customer.external_reference), change_id)
    try:
        with bvnk_client(
            triggered_by="task: update customer", customer=customer, actor=actor
        ) as client:
            remote = client.update_customer(
                customer.bvnk_reference, payloads.customer_update(customer), idempotency_key=key
            )
    except BvnkError as error:
        if not error.permanent:
            raise
        logger.warning("BVNK refused the update of customer %s: %s", customer.pk, error.summary())
        return
    customer_record_bvnk_details(customer, observed_at=timezone.now(), data=remote.raw)
