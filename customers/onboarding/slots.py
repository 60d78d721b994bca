"""Document slots: each document a customer or associate may need, and the file stored for it.

The documents steps, the upload service (`services.document_store`) and the review page
all work slot by slot; the slots depend only on the models and BVNK's document types
(`customers/bvnk/wire.py`), so the steps in `customers/onboarding/steps.py` build on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..bvnk import wire
from ..models import DOCUMENT_KINDS, Associate, ComplianceDocument, Customer

COMPANY = "company"
SELF = "self"
ANY_IDENTITY = wire.IDENTITY_DOCUMENT_TYPES
# How the identity chooser names each type.
IDENTITY_NAMES = {
    "PASSPORT": "Passport",
    "ID_CARD": "ID card",
    "DRIVER_LICENSE": "Driving licence",
    "RESIDENCE_PERMIT": "Residence permit",
}
PROOF_OF_RESIDENCE = ("PROOF_OF_RESIDENCE", "")
SELFIE = ("SELFIE", "")


@dataclass
class Slot:
    """One document a customer may need, and the file stored for it, if any."""

    owner: str  # "company", "self" or "associate-<pk>"
    document_type: str
    sub_type: str
    label: str
    required: bool
    associate: Associate | None = None
    document: ComplianceDocument | None = None
    hint: str = ""
    alternative: bool = False  # One of several identity documents, any of which will do.

    @property
    def key(self) -> str:
        return f"{self.owner}:{self.document_type}:{self.sub_type}"

    @property
    def html_id(self) -> str:
        return "slot-" + re.sub(r"[^a-z0-9]+", "-", self.key.lower()).strip("-")


@dataclass
class SlotGroup:
    """The slots of one owner: the company, the individual or one associate."""

    title: str
    hint: str
    slots: list[Slot]
    missing: list[str] = field(default_factory=list)
    others: list[ComplianceDocument] = field(default_factory=list)
    # When the identity document is not known yet: the owner's key, the types to choose
    # from and the one chosen (the type of a stored identity document); only its slots show.
    owner: str = ""
    id_types: list[tuple[str, str]] = field(default_factory=list)
    id_type_chosen: str = ""

    @property
    def id_type_field(self) -> str:
        return f"{self.owner}:identity-type"


def _sides(kind: str) -> list[str]:
    return ["FRONT_SIDE", "BACK_SIDE"] if kind in wire.TWO_SIDED_DOCUMENT_TYPES else ["FRONT_SIDE"]


def _owner(document: ComplianceDocument) -> str:
    if document.associate_id:
        return f"associate-{document.associate_id}"
    return COMPANY if document.document_type in {t for t, _ in wire.COMPANY_DOCUMENTS} else SELF


def _attach(slots: list[Slot], documents: Iterable[ComplianceDocument]) -> None:
    by_key = {slot.key: slot for slot in slots}
    for document in documents:
        key = f"{_owner(document)}:{document.document_type}:{document.document_sub_type}"
        if key in by_key:
            by_key[key].document = document


def company_group(
    customer: Customer, associates: Sequence[Associate], documents: Sequence[ComplianceDocument]
) -> SlotGroup:
    signers_only = [a for a in associates if a.is_signer and not a.is_controlling_person]
    slots = [
        Slot(COMPANY, kind, sub, label, required=kind != "POWER_OF_ATTORNEY")
        for (kind, sub), label in wire.COMPANY_DOCUMENTS.items()
    ]
    attorney = slots[-1]
    if signers_only:
        attorney.required = True
        names = ", ".join(a.full_name for a in signers_only)
        attorney.hint = f"Needed: {names} signs for the company but is not a controlling person."
    else:
        attorney.hint = "Only needed when a signer is not a controlling person."
    mine = [d for d in documents if _owner(d) == COMPANY]
    _attach(slots, mine)
    group = SlotGroup(
        title="Company documents",
        hint="Scans of the company's formation documents.",
        slots=slots,
    )
    group.missing = [slot.label for slot in slots if slot.required and slot.document is None]
    return group


def person_group(
    title: str,
    owner: str,
    associate: Associate | None,
    id_type: str,
    documents: Sequence[ComplianceDocument],
) -> SlotGroup:
    kinds = [id_type] if id_type else list(ANY_IDENTITY)
    slots = [
        Slot(
            owner,
            kind,
            side,
            wire.PERSON_DOCUMENTS[(kind, side)],
            required=bool(id_type),
            associate=associate,
            alternative=not id_type,
        )
        for kind in kinds
        for side in _sides(kind)
    ]
    slots.append(
        Slot(owner, *PROOF_OF_RESIDENCE, "Proof of address", True, associate,
             hint="A utility bill or bank statement from the last three months.")
    )  # fmt: skip
    slots.append(
        Slot(owner, *SELFIE, "Selfie", False, associate, hint="Only if BVNK asks for one.")
    )
    mine = [d for d in documents if _owner(d) == owner]
    _attach(slots, mine)
    stored = {id(slot.document) for slot in slots if slot.document}
    group = SlotGroup(
        title=title,
        hint=(
            f"{wire.PERSON_DOCUMENTS[(id_type, 'FRONT_SIDE')].split(' (')[0]}"
            + (", both sides." if id_type in wire.TWO_SIDED_DOCUMENT_TYPES else ".")
            if id_type
            else "Choose the identity document first: a passport, or both sides of an ID "
            "card, driving licence or residence permit."
        ),
        slots=slots,
        others=[d for d in mine if id(d) not in stored],
        owner=owner,
    )
    if not id_type:
        group.id_types = [(kind, IDENTITY_NAMES[kind]) for kind in kinds]
        group.id_type_chosen = next(
            (s.document_type for s in slots if s.alternative and s.document), ""
        )
    have = {(s.document_type, s.sub_type) for s in slots if s.document}
    if not any(all((kind, side) in have for side in _sides(kind)) for kind in kinds):
        if id_type:
            group.missing += [s.label for s in slots[: len(_sides(id_type))] if not s.document]
        else:
            group.missing.append(
                "An identity document (a passport, or both sides of an ID card, driving licence "
                "or residence permit)"
            )
    if PROOF_OF_RESIDENCE not in have:
        group.missing.append("Proof of address")
    return group


def requested_slots(customer: Customer, documents: Sequence[ComplianceDocument]) -> list[Slot]:
    """What BVNK asks for after the submission, one slot per document, with the owner's name.

    Two sources: `infoRequired.documents` as last heard, and the documents BVNK rejected
    (BVNK's reason as the hint). A slot's `document` is the file sent for it since BVNK last
    said what it needs (or since the rejection): the request is answered, BVNK not yet heard.
    """
    people = {a.bvnk_person_reference: a for a in customer.associates.all()}
    company_types = {kind for kind, _ in wire.COMPANY_DOCUMENTS}
    found: dict[str, Slot] = {}
    since: dict[str, Any] = {}

    def add(
        kind: str, sub_type: str, associate: Associate | None, hint: str, name: str = ""
    ) -> Slot:
        owner = f"associate-{associate.pk}" if associate else SELF
        if associate is None and kind in company_types:
            owner = COMPANY
        label = DOCUMENT_KINDS.get((kind, sub_type)) or kind
        name = name or (associate.full_name if associate else customer.name)
        slot = Slot(owner, kind, sub_type, f"{label} — {name}", True, associate, hint=hint)
        return found.setdefault(slot.key, slot)

    items = (customer.info_required or {}).get("documents")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("type"):
            asked_of = item.get("customerPersonReference") or ""
            person = people.get(asked_of)
            note = item.get(wire.REQUESTED_DOCUMENT_NOTE_KEY)
            hint = note if isinstance(note, str) else ""
            # A person BVNK knows and the portal does not is not the customer itself.
            name = "a person the portal does not know" if asked_of and person is None else ""
            add(str(item["type"]), str(item.get("subType") or ""), person, hint or "", name)
        elif isinstance(item, str) and item:
            # BVNK has not confirmed the list's shape: a bare document type is read as one.
            add(item, "", None, "")
    rejected = ComplianceDocument.UploadStatus.REJECTED
    for document in documents:
        if document.upload_status == rejected:
            reason = document.bvnk_reason or "BVNK gave no reason."
            rejection = f"BVNK rejected {document.original_name}: {reason}"
            slot = add(document.document_type, document.document_sub_type, document.associate, "")
            # The newest rejection first, then what BVNK said when it asked.
            slot.hint = " ".join(part for part in (rejection, slot.hint) if part)
            since[slot.key] = max(since.get(slot.key, document.created_at), document.created_at)
    for document in documents:
        key = f"{_owner(document)}:{document.document_type}:{document.document_sub_type}"
        wanted = found.get(key)
        # A rejected file, or one the malware scan holds (never sent), answers nothing.
        if wanted is None or document.upload_status == rejected or document.is_quarantined:
            continue
        after = since.get(key) or customer.bvnk_synced_at
        if after is None or document.created_at > after:
            wanted.document = document
    return list(found.values())
