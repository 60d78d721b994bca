"""Customer statuses, requirements and timed reviews.

Every status change goes through `Lifecycle.set_status`, which checks the transition
table and emits the status webhooks. Timed work (document review, questionnaire
checks, the compliance review) is stored as rows in `timers`, so a restart resumes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bvnk_emulator import reference_data as ref
from bvnk_emulator import shapes
from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.errors import NotFound
from bvnk_emulator.ids import iso_now
from bvnk_emulator.questionnaires import missing_answers
from bvnk_emulator.store import Row, Store
from bvnk_emulator.webhooks import (
    EVENT_DOCUMENT,
    EVENT_LEGACY_STATUS,
    EVENT_STATUS,
    EVENT_UPDATE,
    Outbox,
)

log = logging.getLogger(__name__)

INFO_REQUIRED = "INFO_REQUIRED"
PENDING = "PENDING"
VERIFIED = "VERIFIED"
ACTIONS_REQUIRED = "ACTIONS_REQUIRED"
REJECTED = "REJECTED"
TERMINATED = "TERMINATED"

# Moves the emulator makes on its own; test controls may force any status.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    INFO_REQUIRED: {PENDING, TERMINATED},
    PENDING: {VERIFIED, REJECTED, ACTIONS_REQUIRED, TERMINATED},
    ACTIONS_REQUIRED: {PENDING, TERMINATED},
    VERIFIED: {ACTIONS_REQUIRED, TERMINATED},
    REJECTED: set(),
    TERMINATED: set(),
}
# Statuses in which the customer may still send documents and answers.
COLLECTING = (INFO_REQUIRED, ACTIONS_REQUIRED)

# Magic values (README): matched case-sensitively in the company name or the
# individual's last name when the compliance review runs.
MAGIC_REJECT = "REJECT"
MAGIC_ACTIONS = "ACTIONS"
MAGIC_TERMINATE = "TERMINATE"
MAGIC_REJECT_DOCUMENT = "REJECTDOC"
REJECT_REASON = "The document is unreadable: send a clear copy showing every corner."

COVERED = ("PENDING", "APPROVED")
APPROVED = ("APPROVED",)


class InvalidTransition(Exception):
    """A status change the transition table does not allow."""


def _requirement(
    document_type: str, sub_type: str | None, person: str | None, **extra: Any
) -> dict[str, Any]:
    return {"type": document_type, "subType": sub_type, "customerPersonReference": person, **extra}


def _has(docs: list[Row], kinds: tuple[str, ...], sub_types: tuple[str | None, ...]) -> bool:
    return any(d["kind"] in kinds and d["sub_type"] in sub_types for d in docs)


def _identity_missing(docs: list[Row], person: str | None) -> list[dict[str, Any]]:
    """Return what is missing for one person's identity document (empty when satisfied)."""
    if _has(docs, ("PASSPORT",), ("FRONT_SIDE", None)):
        return []
    for kind in ("ID_CARD", "DRIVER_LICENSE"):
        front = _has(docs, (kind,), ("FRONT_SIDE",))
        back = _has(docs, (kind,), ("BACK_SIDE",))
        if front and back:
            return []
        if front or back:
            return [_requirement(kind, "FRONT_SIDE" if back else "BACK_SIDE", person)]
    alternatives = [kind for kind in ref.IDENTITY_KINDS if kind != "PASSPORT"]
    return [_requirement("PASSPORT", "FRONT_SIDE", person, alternativeTypes=alternatives)]


def missing_documents(
    customer: Row, documents: list[Row], submissions: list[Row], *, accepted: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Return document requirements not met by documents in an `accepted` status."""
    docs = [d for d in documents if d["status"] in accepted]
    identity_done = customer["state"]["verification"]["status"] == "completed"
    missing: list[dict[str, Any]] = []
    if customer["type"] == "COMPANY":
        for sub_type in ref.COMPANY_REQUIRED_SUBTYPES:
            if not _has(docs, ("COMPANY_DOC",), (sub_type,)):
                missing.append(_requirement("COMPANY_DOC", sub_type, None))
        if not identity_done:
            for associate in customer["data"]["associates"]:
                person = associate["reference"]
                own = [d for d in docs if d["person_reference"] == person]
                missing.extend(_identity_missing(own, person))
    elif not identity_done:
        self_ref = customer["data"]["personReference"]
        own = [d for d in docs if d["person_reference"] in (None, self_ref)]
        missing.extend(_identity_missing(own, None))
        if not _has(own, ("PROOF_OF_RESIDENCE",), ("FRONT_SIDE", "BACK_SIDE", None)):
            missing.append(_requirement("PROOF_OF_RESIDENCE", None, None))
    for asked in customer["state"].get("requested", []):
        # A document asked for after the submission (test control): only one sent since counts.
        person = asked.get("customerPersonReference")
        since_ask = [
            d for d in docs if d["created_ts"] > asked["since"] and d["person_reference"] == person
        ]
        sides = (asked["subType"],) if asked.get("subType") else (None, "", *ref.SIDES)
        if not _has(since_ask, (asked["type"],), sides):
            missing.append(
                _requirement(
                    asked["type"],
                    asked.get("subType"),
                    person,
                    description=asked.get("description"),
                )
            )
    if customer["status"] == ACTIONS_REQUIRED and not _fresh_input(customer, docs, submissions):
        if customer["type"] == "COMPANY":
            missing.append(_requirement("COMPANY_DOC", "PROOF_OF_ADDRESS", None, reason="ACTIONS"))
        else:
            missing.append(_requirement("PROOF_OF_RESIDENCE", None, None, reason="ACTIONS"))
    return missing


def _fresh_input(customer: Row, docs: list[Row], submissions: list[Row]) -> bool:
    """Return whether something was sent since the customer entered ACTIONS_REQUIRED."""
    since = customer["state"].get("actionsSince") or 0
    verified_at = customer["state"]["verification"].get("completedTs") or 0
    return (
        verified_at > since
        or any(d["created_ts"] > since for d in docs)
        or any(s["created_ts"] > since and s["status"] == "COMPLETE" for s in submissions)
    )


def outstanding_questionnaires(customer: Row, submissions: list[Row]) -> list[str]:
    """Return the questionnaire codes whose latest submission is not complete."""
    code = customer["state"].get("questionnaireCode")
    if not code:
        return []
    latest = [s for s in submissions if s["code"] == code]
    return [] if latest and latest[-1]["status"] == "COMPLETE" else [code]


def magic_name(customer: Row) -> str:
    """Return the name the magic values are matched in: company name or last name."""
    data = customer["data"]
    name = data.get("name") if customer["type"] == "COMPANY" else data.get("lastName")
    return str(name or "")


def review_outcome(customer: Row) -> str:
    """Decide the result of the compliance review from the magic values."""
    name = magic_name(customer)
    if MAGIC_REJECT in name:
        return REJECTED
    if MAGIC_ACTIONS in name and not customer["state"].get("actionsCleared"):
        return ACTIONS_REQUIRED
    return VERIFIED


class Lifecycle:
    """The single write path for customer status and the work it triggers."""

    def __init__(self, config: EmulatorConfig, store: Store, outbox: Outbox) -> None:
        self.config = config
        self.store = store
        self.outbox = outbox
        self.wake = threading.Event()
        # Timed work of other parts (a wallet's activation), by timer kind.
        self.timer_handlers: dict[str, Callable[[str], None]] = {}

    # -- reading ------------------------------------------------------------------------

    def customer(self, reference: str) -> Row:
        """Return a customer row or raise NotFound."""
        row = self.store.get("customers", "reference", reference)
        if row is None:
            raise NotFound(f"Customer not found for reference: {reference}")
        return row

    def documents_of(self, reference: str) -> list[Row]:
        """Return a customer's documents, oldest first."""
        return self.store.query(
            "SELECT * FROM documents WHERE customer_reference = ? ORDER BY rowid", (reference,)
        )

    def submissions_of(self, reference: str) -> list[Row]:
        """Return a customer's questionnaire submissions, oldest first."""
        return self.store.query(
            "SELECT * FROM questionnaires WHERE customer_reference = ? ORDER BY rowid",
            (reference,),
        )

    def info_required(self, customer: Row) -> dict[str, Any]:
        """Return what BVNK still needs (documents list is an emulator extension)."""
        if customer["status"] not in COLLECTING:
            return {"questionnaireCodes": [], "documents": []}
        submissions = self.submissions_of(customer["reference"])
        documents = self.documents_of(customer["reference"])
        return {
            "questionnaireCodes": outstanding_questionnaires(customer, submissions),
            "documents": shapes.compact(
                missing_documents(customer, documents, submissions, accepted=COVERED)
            ),
        }

    def wire_info_required(self, info: dict[str, Any]) -> dict[str, Any]:
        """Spell `infoRequired` as BVNK_EMULATOR_INFO_REQUIRED_KEY says: the partner guide's
        `questionnaireCodes`, or the onboarding guide's `questionnaires` (objects with a code)."""
        if self.config.info_required_key != "questionnaires":
            return info
        wired = {k: v for k, v in info.items() if k != "questionnaireCodes"}
        return {"questionnaires": [{"code": c} for c in info.get("questionnaireCodes", [])]} | wired

    def body(self, customer: Row) -> dict[str, Any]:
        """Return the full customer body."""
        info = self.wire_info_required(self.info_required(customer))
        return shapes.customer_body(customer, info, self.config.public_url)

    # -- status ---------------------------------------------------------------------------

    def set_status(self, customer: Row, status: str, *, forced: bool = False) -> Row:
        """Move a customer to a new status, emitting the status webhooks."""
        current = customer["status"]
        if status == current:
            return customer
        if not forced and status not in ALLOWED_TRANSITIONS[current]:
            raise InvalidTransition(f"{current} -> {status} is not allowed")
        with self.store.transaction(), self.announcing_changes(customer["reference"]):
            state = dict(customer["state"])
            if status == ACTIONS_REQUIRED:
                state["actionsSince"] = time.time()
            if current == ACTIONS_REQUIRED and status == PENDING:
                state["actionsCleared"] = True
            self.store.update(
                "customers",
                "reference",
                customer["reference"],
                status=status,
                state=state,
                updated_at=iso_now(),
            )
            self.store.cancel_timers(customer["reference"], ("review", "terminate"))
            if status == PENDING and not forced:
                self._schedule("review", customer["reference"], self.config.review_seconds)
            self.emit_status(customer["reference"], status)
            return self.customer(customer["reference"])

    def emit_status(self, reference: str, status: str) -> None:
        """Queue the status-change event and, when enabled, its legacy twin."""
        self.outbox.enqueue(
            EVENT_STATUS, {"status": status, "reference": reference}, customer_reference=reference
        )
        if self.config.legacy_status_events:
            self.outbox.enqueue(
                EVENT_LEGACY_STATUS,
                {"customerId": reference, "status": status},
                customer_reference=reference,
            )

    def emit_update(self, customer: Row) -> None:
        """Queue a `bvnk:platform:customer:update` event with the current state."""
        verification = shapes.verification(customer, self.config.public_url)
        data = {
            "reference": customer["reference"],
            "externalReference": customer["external_reference"],
            "status": customer["status"],
            "verification": {"url": verification["url"]},
            "infoRequired": self.wire_info_required(self.info_required(customer)),
        }
        # BVNK_EMULATOR_UPDATE_EVENT=external_reference: `data.reference` is the partner's
        # externalReference and the envelope has no eventId or timestamp, as public client
        # code reads this event.
        bare = self.config.update_event == "external_reference"
        if bare:
            data["reference"] = customer["external_reference"]
            del data["externalReference"]
        self.outbox.enqueue(
            EVENT_UPDATE,
            shapes.compact(data),
            customer_reference=customer["reference"],
            bare=bare,
        )

    @contextmanager
    def announcing_changes(self, reference: str) -> Iterator[None]:
        """Send a `customer:update` when the work inside changes what BVNK asks for, so a
        partner never keeps showing a request BVNK has dropped."""
        before = self.info_required(self.customer(reference))
        yield
        customer = self.customer(reference)
        if self.info_required(customer) != before:
            self.emit_update(customer)

    def reevaluate(self, reference: str) -> Row:
        """Move to PENDING once nothing is outstanding."""
        with self.store.transaction():
            customer = self.customer(reference)
            if customer["status"] not in COLLECTING:
                return customer
            submissions = self.submissions_of(reference)
            documents = self.documents_of(reference)
            if outstanding_questionnaires(customer, submissions):
                return customer
            if missing_documents(customer, documents, submissions, accepted=APPROVED):
                return customer
            return self.set_status(customer, PENDING)

    def complete_verification(self, token: str) -> Row:
        """Mark identity verified, as the hosted KYC flow would."""
        with self.store.transaction():
            customer = self.store.get("customers", "verification_token", token)
            if customer is None:
                raise NotFound("Unknown verification link")
            state = dict(customer["state"])
            state["verification"] = {
                **state["verification"],
                "status": "completed",
                "completedTs": time.time(),
            }
            self.store.update(
                "customers",
                "reference",
                customer["reference"],
                state=state,
                updated_at=iso_now(),
            )
            customer = self.customer(customer["reference"])
            self.emit_update(customer)
            return self.reevaluate(customer["reference"])

    # -- timers ---------------------------------------------------------------------------

    def _schedule(self, kind: str, target: str, delay: float) -> None:
        self.store.add_timer(kind, target, time.time() + delay)
        self.wake.set()

    def schedule(self, kind: str, target: str, delay: float) -> None:
        """Run the handler registered for `kind` on `target` after `delay` seconds."""
        self._schedule(kind, target, delay)

    def schedule_check(self, kind: str, target: str) -> None:
        """Schedule an asynchronous document review or questionnaire check."""
        self._schedule(kind, target, self.config.check_seconds)

    def run_timer(self, timer: Row) -> None:
        """Do one piece of due work."""
        handlers = {
            "document": self._review_document,
            "questionnaire": self._check_questionnaire,
            "review": self._review_customer,
            "terminate": self._terminate,
            **self.timer_handlers,
        }
        # Deleting the timer in the same transaction makes the work happen exactly once.
        with self.store.transaction():
            self.store.delete_timer(timer["id"])
            handlers[timer["kind"]](timer["target"])

    def _review_document(self, reference: str) -> None:
        document = self.store.get("documents", "reference", reference)
        if document is None or document["status"] != "PENDING":
            return
        rejected = MAGIC_REJECT_DOCUMENT in document["name"]
        self.review_document(
            reference, "REJECTED" if rejected else "APPROVED", REJECT_REASON if rejected else ""
        )

    def review_document(self, reference: str, status: str, reason: str = "") -> Row:
        """Approve or reject a document, with BVNK's reason; the usual webhooks follow."""
        document = self.store.get("documents", "reference", reference)
        if document is None:
            raise NotFound("Unknown document")
        meta = {**document["meta"], "rejectionReason": reason if status == "REJECTED" else None}
        self.store.update(
            "documents", "reference", reference, status=status, meta=meta, updated_at=iso_now()
        )
        customer_ref = document["customer_reference"]
        data = {
            "reference": customer_ref,
            "documentReference": reference,
            "status": status,
            "type": document["type"],
            "subType": document["sub_type"],
        }
        if status == "REJECTED" and reason:
            data[self.config.document_reason_key] = reason
        self.outbox.enqueue(EVENT_DOCUMENT, data, customer_reference=customer_ref)
        if status == "REJECTED":
            self.emit_update(self.customer(customer_ref))
        self.reevaluate(customer_ref)
        return {**document, "status": status, "meta": meta}

    def request_document(self, reference: str, asked: dict[str, Any]) -> Row:
        """Ask for a document after the submission: INFO_REQUIRED, or ACTIONS_REQUIRED for a
        verified customer (the move the transition table has for a periodic review)."""
        with self.store.transaction(), self.announcing_changes(reference):
            customer = self.customer(reference)
            state = dict(customer["state"])
            state["requested"] = [*state.get("requested", []), {**asked, "since": time.time()}]
            self.store.update(
                "customers", "reference", reference, state=state, updated_at=iso_now()
            )
            customer = self.customer(reference)
            target = ACTIONS_REQUIRED if customer["status"] == VERIFIED else INFO_REQUIRED
            return self.set_status(customer, target, forced=True)

    def _check_questionnaire(self, reference: str) -> None:
        submission = self.store.get("questionnaires", "reference", reference)
        if submission is None or submission["status"] != "SUBMITTED":
            return
        missing = missing_answers(submission["code"], submission["sections"])
        self.store.update(
            "questionnaires",
            "reference",
            reference,
            status="INCOMPLETE" if missing else "COMPLETE",
            missing=missing,
        )
        customer = self.customer(submission["customer_reference"])
        self.emit_update(customer)
        self.reevaluate(customer["reference"])

    def _review_customer(self, reference: str) -> None:
        customer = self.store.get("customers", "reference", reference)
        if customer is None or customer["status"] != PENDING:
            return
        outcome = review_outcome(customer)
        customer = self.set_status(customer, outcome)
        if outcome == VERIFIED and MAGIC_TERMINATE in magic_name(customer):
            self._schedule("terminate", reference, self.config.review_seconds)

    def _terminate(self, reference: str) -> None:
        customer = self.store.get("customers", "reference", reference)
        if customer is not None and customer["status"] == VERIFIED:
            self.set_status(customer, TERMINATED)


class Scheduler(threading.Thread):
    """Run due timers; wakes early when new work is scheduled."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        super().__init__(name="bvnk-emulator-scheduler", daemon=True)
        self.lifecycle = lifecycle
        self.stopping = threading.Event()

    def run(self) -> None:
        """Loop until stopped."""
        store = self.lifecycle.store
        while not self.stopping.is_set():
            self.lifecycle.wake.clear()
            try:
                for timer in store.due_timers(time.time()):
                    try:
                        self.lifecycle.run_timer(timer)
                    except Exception:  # one bad timer must not stop the others
                        log.exception("Timer %s failed", timer)
                        store.delete_timer(timer["id"])
                due = store.next_timer_due()
                wait = 1.0 if due is None else max(0.0, min(1.0, due - time.time()))
            except Exception:
                log.exception("Scheduler error")
                wait = 0.5
            self.lifecycle.wake.wait(wait)

    def stop(self) -> None:
        """Ask the thread to finish."""
        self.stopping.set()
        self.lifecycle.wake.set()
