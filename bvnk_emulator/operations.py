"""The API's use cases: one method per endpoint that reads or changes state."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bvnk_emulator import reference_data as ref
from bvnk_emulator import shapes
from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.errors import ApiError, NotFound, ValidationError
from bvnk_emulator.ids import iso_in, iso_now, new_reference
from bvnk_emulator.lifecycle import (
    COLLECTING,
    INFO_REQUIRED,
    PENDING,
    REJECTED,
    TERMINATED,
    Lifecycle,
)
from bvnk_emulator.questionnaires import DEFINITIONS, validate_submission
from bvnk_emulator.store import Row, Store
from bvnk_emulator.validation import (
    Checker,
    validate_customer_create,
    validate_documents,
    validate_session_create,
    validate_session_update,
    validate_update,
)
from bvnk_emulator.webhooks import EVENT_SESSION, Outbox

Json = dict[str, Any]

SESSION_LIFETIME_SECONDS = 365 * 24 * 3600  # observed: about a year
VERIFICATION_LIFETIME_SECONDS = 30 * 24 * 3600  # observed: about 30 days
DOCUMENT_URL_SECONDS = 15 * 60
SORTABLE = {
    "createdAt": lambda c: c["created_at"],
    "updatedAt": lambda c: c["updated_at"],
    "name": lambda c: shapes.customer_name(c).lower(),
    "status": lambda c: c["status"],
    "type": lambda c: c["type"],
    "reference": lambda c: c["reference"],
    "externalReference": lambda c: c["external_reference"] or "",
}
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class Operations:
    """Use cases behind the /platform/v1 routes and the hosted pages."""

    def __init__(
        self, config: EmulatorConfig, store: Store, outbox: Outbox, lifecycle: Lifecycle
    ) -> None:
        self.config = config
        self.store = store
        self.outbox = outbox
        self.lifecycle = lifecycle

    # -- agreement sessions --------------------------------------------------------------

    def create_session(self, auth_id: str, body: Any) -> Json:
        """Create a PENDING agreement session."""
        fields = validate_session_create(body)
        agreement = {"status": "PENDING", **ref.agreement_for(fields["countryCode"])}
        session_body = {
            "reference": new_reference(),
            "accountReference": _account_reference(auth_id),
            "status": "PENDING",
            **fields,
            "expiresOn": iso_in(SESSION_LIFETIME_SECONDS),
            "agreements": [agreement],
        }
        self.store.insert(
            "sessions",
            {
                "reference": session_body["reference"],
                "auth_id": auth_id,
                "status": "PENDING",
                "body": session_body,
                "created_at": iso_now(),
            },
        )
        return session_body

    def session(self, reference: str) -> Row:
        """Return a session row or raise NotFound."""
        row = self.store.get("sessions", "reference", reference)
        if row is None:
            raise NotFound(f"Agreement session not found for reference: {reference}")
        return row

    def update_session(self, reference: str, body: Any) -> None:
        """Apply `PUT .../agreement/sessions/{reference}` (the API signing flow)."""
        fields = validate_session_update(body)
        self.decide_session(reference, fields["status"], fields["ipAddress"])

    def decide_session(self, reference: str, status: str, ip_address: str | None) -> Row:
        """Sign or decline a session and emit its webhook."""
        with self.store.transaction():
            session = self.session(reference)
            if session["customer_reference"]:
                message = f"Agreement session with reference: {reference} is already assigned"
                raise ValidationError({"reference": [f"{message} to the customer"]})
            if session["status"] == status:
                return session
            if session["status"] != "PENDING":
                raise ValidationError(
                    {"status": [f"Agreement session is already {session['status']}"]}
                )
            if session["body"]["expiresOn"] < iso_now():
                raise ValidationError({"reference": ["Agreement session has expired"]})
            body = dict(session["body"])
            body["agreements"] = [{**a, "status": status} for a in body["agreements"]]
            self.store.update(
                "sessions", "reference", reference, status=status, body=body, ip_address=ip_address
            )
            self.outbox.enqueue(EVENT_SESSION, {"status": status, "reference": reference})
            return self.session(reference)

    # -- customers -----------------------------------------------------------------------

    def create_customer(self, auth_id: str, body: Any) -> Json:
        """Create a customer in INFO_REQUIRED (the create answer of BVNK's guide)."""
        customer, check = validate_customer_create(body)
        with self.store.transaction():
            external = customer["externalReference"]
            if external and self.store.one(
                "SELECT 1 AS x FROM customers WHERE auth_id = ? AND external_reference = ?",
                (auth_id, external),
            ):
                message = f"Customer with external reference: {external} already exists"
                check.add("externalReference", message)
            self._check_session(
                check, customer["signedAgreementSessionReference"], customer["type"]
            )
            check.raise_if_errors()

            reference = new_reference()
            kind = customer["type"]
            data = dict(customer["company"] if kind == "COMPANY" else customer["individual"])
            code = None
            if kind == "COMPANY":
                data["associates"] = [
                    {**a, "reference": new_reference()} for a in data["associates"]
                ]
                code = ref.questionnaire_code_for(data["industryReference"])
            else:
                data["personReference"] = new_reference()
            now = iso_now()
            self.store.insert(
                "customers",
                {
                    "reference": reference,
                    "auth_id": auth_id,
                    "type": kind,
                    "status": INFO_REQUIRED,
                    "external_reference": external,
                    "session_reference": customer["signedAgreementSessionReference"],
                    "risk_score": customer["riskScore"],
                    "data": data,
                    "state": {
                        "verification": {
                            "status": "init",
                            "expiresAt": iso_in(VERIFICATION_LIFETIME_SECONDS),
                        },
                        "questionnaireCode": code,
                    },
                    "verification_token": secrets.token_urlsafe(18),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            self.store.update(
                "sessions",
                "reference",
                customer["signedAgreementSessionReference"],
                customer_reference=reference,
            )
            self.count_create(external, replayed=False)
            self.lifecycle.emit_status(reference, INFO_REQUIRED)
        if self.config.create_answer == "pending":
            # As a public capture of BVNK's sandbox shows: INFO_REQUIRED is visible only
            # on a later GET (BVNK_EMULATOR_CREATE_ANSWER=pending).
            return {"reference": reference, "status": PENDING}
        return {
            "reference": reference,
            "status": INFO_REQUIRED,
            "type": kind,
            "infoRequired": self.lifecycle.wire_info_required(
                {"questionnaireCodes": [code] if code else []}
            ),
        }

    def _check_session(
        self, check: Checker, reference: str | None, customer_type: str | None
    ) -> None:
        if not reference:
            return
        field = "signedAgreementSessionReference"
        session = self.store.get("sessions", "reference", reference)
        prefix = f"Agreement session with reference: {reference}"
        if session is None:
            check.add(field, f"{prefix} not found")
        elif session["customer_reference"]:
            check.add(field, f"{prefix} is already assigned to the customer")
        elif session["status"] != "SIGNED":
            check.add(field, f"{prefix} is not signed (status {session['status']})")
        elif customer_type and session["body"]["customerType"] != customer_type:
            check.add(
                field, f"{prefix} was created for customer type {session['body']['customerType']}"
            )
        elif session["body"]["expiresOn"] < iso_now():
            check.add(field, f"{prefix} has expired")

    def count_create(
        self, external_reference: str | None, *, replayed: bool, refused: bool = False
    ) -> None:
        """Count successful, replayed and refused repeated creates per externalReference
        (test control data)."""
        column = "refused" if refused else "replayed" if replayed else "succeeded"
        self.store.execute(
            f"INSERT INTO create_calls (external_reference, {column}) VALUES (?, 1) "  # noqa: S608
            f"ON CONFLICT (external_reference) DO UPDATE SET {column} = {column} + 1",
            (external_reference or "",),
        )

    def get_customer(self, reference: str) -> Json:
        """Return the full customer body."""
        return self.lifecycle.body(self.lifecycle.customer(reference))

    def list_customers(self, args: Mapping[str, str], sorts: list[str]) -> Json:
        """Return a Spring page of customers."""
        errors: dict[str, list[str]] = {}
        page = _int_arg(args, "page", 0, errors)
        size = _int_arg(args, "size", DEFAULT_PAGE_SIZE, errors)
        if page < 0:
            errors["page"] = ["must be greater than or equal to 0"]
        if not 1 <= size <= MAX_PAGE_SIZE:
            errors["size"] = [f"must be between 1 and {MAX_PAGE_SIZE}"]
        order: list[tuple[str, bool]] = []
        for raw in sorts:
            prop, _, direction = raw.partition(",")
            direction = direction.strip().lower() or "asc"
            if prop not in SORTABLE or direction not in {"asc", "desc"}:
                errors.setdefault("sort", []).append(f"Unsupported sort: {raw}")
            else:
                order.append((prop, direction == "desc"))
        if errors:
            raise ValidationError(errors)
        customers = self.store.query("SELECT * FROM customers ORDER BY rowid")
        name = (args.get("name") or "").strip().lower()
        if name:
            customers = [c for c in customers if name in shapes.customer_name(c).lower()]
        for prop, descending in reversed(order):  # stable sorts, last key first
            customers.sort(key=SORTABLE[prop], reverse=descending)
        content = [shapes.list_item(c) for c in customers[page * size : (page + 1) * size]]
        return shapes.spring_page(
            content, page=page, size=size, total=len(customers), sort_keys=[p for p, _ in order]
        )

    def find_customers_v2(self, auth_id: str, args: Mapping[str, str]) -> Json:
        """Return the v2 customer list, filtered on `reference` (the partner's own id).

        BVNK docs (manage-customers): v2 lists filter on name, status, type, model and
        reference; a public capture of BVNK's sandbox: a v1-created customer's v2 `id` is
        its v1 reference and its v2 `reference` its v1 externalReference.
        """
        errors: dict[str, list[str]] = {}
        page = _int_arg(args, "pageNumber", 0, errors)
        size = _int_arg(args, "pageSize", DEFAULT_PAGE_SIZE, errors)
        if not 1 <= size <= MAX_PAGE_SIZE:
            errors["pageSize"] = [f"must be between 1 and {MAX_PAGE_SIZE}"]
        if errors:
            raise ValidationError(errors)
        customers = self.store.query(
            "SELECT * FROM customers WHERE auth_id = ? ORDER BY rowid", (auth_id,)
        )
        wanted = (args.get("reference") or "").strip()
        if wanted:
            customers = [c for c in customers if c["external_reference"] == wanted]
        chosen = customers[page * size : (page + 1) * size]
        return {
            "content": [
                {
                    "id": c["reference"],
                    "reference": c["external_reference"],
                    "status": c["status"],
                    "type": c["type"],
                    "model": "EMBEDDED",
                    "name": shapes.customer_name(c),
                }
                for c in chosen
            ],
            "pageable": {"pageNumber": page, "pageSize": size},
            "totalElements": len(customers),
            "totalPages": -(-len(customers) // size),
            "hasNext": (page + 1) * size < len(customers),
        }

    def update_customer(self, reference: str, body: Any) -> Json:
        """Merge an update and emit `customer:update`."""
        with self.store.transaction():
            customer = self.lifecycle.customer(reference)
            if customer["status"] in (REJECTED, TERMINATED):
                raise ValidationError(
                    {"status": [f"Customer in status {customer['status']} cannot be updated"]}
                )
            data, changed = validate_update(customer["type"], customer["data"], body)
            if changed:
                self.store.update(
                    "customers", "reference", reference, data=data, updated_at=iso_now()
                )
                customer = self.lifecycle.customer(reference)
                self.lifecycle.emit_update(customer)
            return self.lifecycle.body(customer)

    def force_status(self, reference: str, status: Any) -> Json:
        """Force any status (test control), emitting the usual webhooks."""
        if status not in ref.CUSTOMER_STATUSES:
            raise ValidationError(
                {"status": [f"must be one of: {', '.join(ref.CUSTOMER_STATUSES)}"]}
            )
        with self.store.transaction():
            customer = self.lifecycle.customer(reference)
            customer = self.lifecycle.set_status(customer, status, forced=True)
            return self.lifecycle.body(customer)

    def request_document(self, reference: str, body: Any) -> Json:
        """Ask for a document after the submission (test control)."""
        if not isinstance(body, dict) or body.get("type") not in ref.DOCUMENT_TYPES:
            raise ValidationError({"type": [f"must be one of: {', '.join(ref.DOCUMENT_TYPES)}"]})
        asked = {
            "type": body["type"],
            "subType": body.get("subType"),
            "customerPersonReference": body.get("customerPersonReference"),
            "description": body.get("description") or None,
        }
        customer = self.lifecycle.request_document(reference, asked)
        return self.lifecycle.body(customer)

    def review_document(self, reference: str, body: Any) -> Json:
        """Approve or reject a document with a reason (test control)."""
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ("APPROVED", "REJECTED"):
            raise ValidationError({"status": ["must be APPROVED or REJECTED"]})
        with self.store.transaction():
            document = self.lifecycle.review_document(
                reference, status, str(body.get("reason") or "")
            )
        return shapes.document_body(document, self.config.document_reason_key)

    def overview(self) -> Json:
        """Return every customer plus create-call counts (test control)."""
        customers = self.store.query("SELECT * FROM customers ORDER BY rowid")
        calls = self.store.query("SELECT * FROM create_calls ORDER BY external_reference")
        return {
            "customers": [self.lifecycle.body(c) for c in customers],
            "createCalls": {
                c["external_reference"]: {
                    "succeeded": c["succeeded"],
                    "replayed": c["replayed"],
                    "refused": c["refused"],
                }
                for c in calls
            },
        }

    # -- documents -----------------------------------------------------------------------

    def upload_documents(self, reference: str, body: Any) -> list[Json]:
        """Accept documents for asynchronous review."""
        with self.store.transaction(), self.lifecycle.announcing_changes(reference):
            customer = self.lifecycle.customer(reference)
            _require_collecting(customer, "Documents")
            documents = validate_documents(body, shapes.person_references(customer))
            accepted = []
            for document in documents:
                doc_ref = new_reference()
                now = iso_now()
                self.store.insert(
                    "documents",
                    {
                        "reference": doc_ref,
                        "customer_reference": reference,
                        "person_reference": document["customerPersonReference"],
                        "type": document["type"],
                        "kind": document["kind"],
                        "sub_type": document["subType"],
                        "name": document["name"],
                        "status": "PENDING",
                        "meta": {
                            k: document[k]
                            for k in ("description", "countryCode", "externalReference")
                        },
                        "content": document["content"],
                        "created_ts": time.time(),
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                self.lifecycle.schedule_check("document", doc_ref)
                accepted.append(
                    {
                        "reference": doc_ref,
                        "status": "PENDING",
                        "type": document["type"],
                        "subType": document["subType"],
                        "customerPersonReference": document["customerPersonReference"],
                    }
                )
            return accepted

    def documents(
        self, customer_reference: str | None, document_reference: str | None
    ) -> list[Json]:
        """List documents, optionally for one customer or one document."""
        sql, params = "SELECT * FROM documents", []
        if customer_reference:
            self.lifecycle.customer(customer_reference)
            sql, params = sql + " WHERE customer_reference = ?", [customer_reference]
        if document_reference:
            sql += " AND reference = ?" if params else " WHERE reference = ?"
            params.append(document_reference)
        return [
            shapes.document_body(d, self.config.document_reason_key)
            for d in self.store.query(sql + " ORDER BY rowid", params)
        ]

    def document(self, reference: str) -> Row:
        """Return a document row or raise NotFound."""
        row = self.store.get("documents", "reference", reference)
        if row is None:
            raise NotFound(f"Document not found for reference: {reference}")
        return row

    def delete_document(self, reference: str) -> None:
        """Delete a document while the customer is still collecting information."""
        with self.store.transaction():
            document = self.document(reference)
            customer = self.lifecycle.customer(document["customer_reference"])
            _require_collecting(customer, "Documents")
            self.store.execute("DELETE FROM documents WHERE reference = ?", (reference,))
            self.store.cancel_timers(reference, ("document",))

    def document_url(self, reference: str) -> Json:
        """Return a short-lived download URL served by the emulator."""
        self.document(reference)
        expires = int(time.time() + DOCUMENT_URL_SECONDS)
        signature = self._url_signature(reference, expires)
        return {
            "url": f"{self.config.public_url}/files/documents/{reference}"
            f"?expires={expires}&signature={signature}",
            "expiresAt": iso_in(DOCUMENT_URL_SECONDS),
        }

    def document_content(self, reference: str, expires: str, signature: str) -> Row:
        """Return the document behind a signed download URL, or raise ApiError."""
        if not expires.isdigit() or int(expires) < time.time():
            raise ApiError(403, "Download link has expired")
        if not hmac.compare_digest(self._url_signature(reference, int(expires)), signature):
            raise ApiError(403, "Invalid download link")
        return self.document(reference)

    def _url_signature(self, reference: str, expires: int) -> str:
        message = f"{reference}:{expires}".encode()
        return hmac.new(self.config.hawk_secret.encode(), message, hashlib.sha256).hexdigest()[:32]

    # -- questionnaires ------------------------------------------------------------------

    def definitions(self, codes: str | None) -> list[Json]:
        """Return questionnaire definitions, all or the requested codes."""
        if not codes:
            return list(DEFINITIONS.values())
        wanted = [c.strip() for c in codes.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in DEFINITIONS]
        if unknown:
            raise ValidationError({"codes": [f"Unknown questionnaire code: {c}" for c in unknown]})
        return [DEFINITIONS[c] for c in wanted]

    def submit_questionnaires(self, reference: str, body: Any) -> None:
        """Store answers; completeness is checked asynchronously."""
        with self.store.transaction():
            customer = self.lifecycle.customer(reference)
            _require_collecting(customer, "Questionnaires")
            errors = validate_submission(body)
            if errors:
                raise ValidationError(errors)
            for entry in body:
                submission_ref = new_reference()
                self.store.insert(
                    "questionnaires",
                    {
                        "reference": submission_ref,
                        "customer_reference": reference,
                        "code": entry["code"],
                        "sections": entry.get("sections") or {},
                        "status": "SUBMITTED",
                        "missing": [],
                        "created_ts": time.time(),
                        "created_at": iso_now(),
                    },
                )
                self.lifecycle.schedule_check("questionnaire", submission_ref)

    def questionnaires(self, customer_reference: str | None) -> list[Json]:
        """List questionnaire submissions, optionally for one customer."""
        if customer_reference:
            self.lifecycle.customer(customer_reference)
            rows = self.lifecycle.submissions_of(customer_reference)
        else:
            rows = self.store.query("SELECT * FROM questionnaires ORDER BY rowid")
        return [shapes.questionnaire_body(r) for r in rows]


def _require_collecting(customer: Row, what: str) -> None:
    if customer["status"] not in COLLECTING:
        message = (
            f"{what} can only be sent while the customer is INFO_REQUIRED "
            f"(or ACTIONS_REQUIRED); current status {customer['status']}"
        )
        raise ValidationError({"status": [message]})


def _int_arg(args: Mapping[str, str], name: str, default: int, errors: dict[str, list[str]]) -> int:
    """Return an integer query parameter; a malformed one records an error."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        errors[name] = ["must be an integer"]
        return default


def _account_reference(auth_id: str) -> str:
    """Return a stable account reference for a credential id."""
    digest = hashlib.sha256(auth_id.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"
