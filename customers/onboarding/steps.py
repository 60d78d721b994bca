"""The onboarding journeys: their steps, what each still needs, and the review page's rows.

A step is complete when nothing is missing from it. What is missing is worked out from
the stored draft every time (never stored), by the same forms that validate the pages, so
the stepper, "Resume" and the review page can never disagree with the forms. The documents
steps are built from `slots.py`; BVNK's refusals are mapped onto the steps by
`refusals.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Model
from django.utils.formats import date_format

from .. import payloads
from ..bvnk.errors import BvnkError
from ..bvnk.types import ReferenceItem
from ..bvnk_calls import bvnk_client
from ..models import AgreementSession, Associate, Customer, same_person
from . import forms as f
from .company_forms import AssociateForm, CompanyAddressForm, CompanyDetailsForm
from .individual_forms import (
    AddressForm,
    ContactForm,
    DueDiligenceForm,
    PersonalDetailsForm,
    TaxForm,
)
from .slots import SELF, SlotGroup, company_group, person_group

logger = logging.getLogger(__name__)

REFERENCE_CACHE_SECONDS = 3600
REFERENCE_RETRY_SECONDS = 60
REFERENCE_CACHE_KEYS = {
    "industries": "bvnk:reference:industries",
    "volumes": "bvnk:reference:monthly-expected-volumes",
}

COMPLETE, CURRENT, TODO = "complete", "current", "todo"
# Both journeys end on this step, open to every role (the others need the right to edit).
REVIEW = "review"


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    kind: str  # "form", "associates", "documents", "agreement" or "review"
    form_class: type[f.StepForm] | None = None
    intro: str = ""
    # (legend, field names); a None legend groups fields without a fieldset.
    fieldsets: tuple[tuple[str | None, tuple[str, ...]], ...] = ()


COMPANY_STEPS = (
    Step(
        "company",
        "Company details",
        "form",
        CompanyDetailsForm,
        intro="The legal entity, as registered.",
    ),
    Step(
        "address",
        "Addresses",
        "form",
        CompanyAddressForm,
        intro="The registered address, and where the company operates if that differs.",
        fieldsets=(
            ("Registered address", f.ADDRESS_FIELDS),
            (None, ("has_operational_address",)),
            ("Operating address", f.OPERATIONAL_FIELDS),
        ),
    ),
    Step(
        "associates",
        "Associates",
        "associates",
        intro="The people behind the company: at least one beneficial owner, one "
        "controlling person and one signer. One person may hold several roles.",
    ),
    Step("company-documents", "Company documents", "documents"),
    Step(
        "identity-documents",
        "Identity documents",
        "documents",
        intro="For every associate: an identity document and a proof of address.",
    ),
    Step("agreement", "Agreement", "agreement"),
    Step(REVIEW, "Review and submit", "review"),
)

INDIVIDUAL_STEPS = (
    Step(
        "personal",
        "Personal details",
        "form",
        PersonalDetailsForm,
        intro="As shown on the person's identity document.",
    ),
    Step("contact", "Contact", "form", ContactForm),
    Step("address", "Address", "form", AddressForm, intro="Where the person lives."),
    Step("tax", "Tax identification", "form", TaxForm),
    Step(
        "due-diligence",
        "Due diligence",
        "form",
        DueDiligenceForm,
        intro="BVNK's customer due diligence questions.",
    ),
    Step(
        "documents",
        "Documents",
        "documents",
        intro="An identity document and a proof of address.",
    ),
    Step("agreement", "Agreement", "agreement"),
    Step(REVIEW, "Review and submit", "review"),
)


def steps_for(customer: Customer) -> tuple[Step, ...]:
    return COMPANY_STEPS if customer.is_company else INDIVIDUAL_STEPS


def get_step(customer: Customer, slug: str) -> Step | None:
    return next((step for step in steps_for(customer) if step.slug == slug), None)


# -- BVNK reference lists: industries and monthly volumes ---------------------------------


# A form's choices: (value, label) pairs, or (group label, [(value, label), ...]) groups.
Choices = list[tuple[str, Any]]


@dataclass(frozen=True)
class ReferenceLists:
    """BVNK's industry and monthly-volume lists as form choices; None for a list that
    could not load. Industries are grouped: each industry's sub-industries under it."""

    industries: Choices | None
    volumes: Choices | None

    @property
    def unavailable(self) -> bool:
        return self.industries is None or self.volumes is None


def reference_lists(*, fetch: bool = True) -> ReferenceLists:
    """Return the lists from the cache, fetching a missing one from BVNK when `fetch`.

    A failed fetch is remembered for a minute, so pages stay quick while BVNK is down.
    """
    loaded: dict[str, Choices | None] = {}
    for name, key in REFERENCE_CACHE_KEYS.items():
        items = cache.get(key)
        if items is None and fetch and not cache.get(f"{key}:down"):
            try:
                with bvnk_client(triggered_by="onboarding: reference lists") as client:
                    if name == "industries":
                        result = client.industries()
                    else:
                        result = client.monthly_expected_volumes()
            except BvnkError as error:
                logger.warning("BVNK reference list %s unavailable: %s", name, error.summary())
                cache.set(f"{key}:down", True, REFERENCE_RETRY_SECONDS)
            else:
                items = reference_choices(result)
                cache.set(key, items, REFERENCE_CACHE_SECONDS)
        loaded[name] = list(items) if items else None
    return ReferenceLists(industries=loaded["industries"], volumes=loaded["volumes"])


def reference_choices(items: Sequence[ReferenceItem]) -> Choices:
    """Turn a BVNK reference list into form choices, labelled with BVNK's names as sent.

    An industry with sub-industries becomes a group of them (the create takes a
    sub-industry's reference); one without children is a choice itself.
    """
    choices: Choices = []
    for item in items:
        label = item.name or item.reference
        if item.children:
            choices.append((label, [(c.reference, c.name or c.reference) for c in item.children]))
        else:
            choices.append((item.reference, label))
    return choices


def choice_label(choices: Any, value: str) -> str | None:
    """Return the label of `value` among possibly grouped choices ("Group: label")."""
    for key, label in choices or []:
        if isinstance(label, list | tuple):
            for child_key, child_label in label:
                if str(child_key) == value:
                    return f"{key}: {child_label}"
        elif str(key) == value:
            return str(label)
    return None


def is_us_resident(customer: Customer) -> bool | None:
    """True or False once the customer's country is known, None before."""
    code = payloads.country_code(customer.country)
    return None if not code else code == "US"


def form_kwargs(
    customer: Customer, step: Step, references: ReferenceLists | None = None
) -> dict[str, Any]:
    """Return what a step's form needs besides the draft (lists, residence)."""
    if step.form_class is CompanyDetailsForm:
        references = references or ReferenceLists(None, None)
        return {"industries": references.industries, "volumes": references.volumes}
    if step.form_class is DueDiligenceForm:
        return {"us_resident": is_us_resident(customer)}
    return {}


# -- progress: what each step still needs ----------------------------------------------


def _as_data(value: Any) -> Any:
    """Turn a form's initial value back into what a browser would have posted."""
    if value is None:
        return ""
    if hasattr(value, "code"):  # a django-countries Country
        return value.code or ""
    if isinstance(value, dt.date | Decimal):
        return str(value)
    return value


def form_problems(form_class: type[f.StepForm], instance: Model, **kwargs: Any) -> list[str]:
    """Validate stored values with a step's strict form; return readable problems."""
    probe = form_class(instance=instance, **kwargs)
    data = {name: _as_data(probe[name].value()) for name in probe.fields}
    form = form_class(data=data, instance=instance, **kwargs)
    if form.is_valid():
        return []
    problems = []
    for name, errors in form.errors.as_data().items():
        label = str(form.fields[name].label) if name in form.fields else ""
        for error in errors:
            for message in error.messages:
                if error.code == "required" and label:
                    problems.append(f"{label} is missing")
                else:
                    problems.append(f"{label}: {message}" if label else message)
    return problems


def associate_rule_problems(associates: Sequence[Associate]) -> list[str]:
    """The company-level associate rules BVNK applies to a create's `company.associates`."""
    if not associates:
        return [
            "Add the company's associates: at least one beneficial owner, one controlling "
            "person and one signer."
        ]
    problems = []
    for flag, what in (
        ("is_beneficial_owner", "beneficial owner"),
        ("is_controlling_person", "controlling person"),
        ("is_signer", "signer"),
    ):
        if not any(getattr(a, flag) for a in associates):
            problems.append(f"Add at least one {what}.")
    total = sum(
        ((a.ownership_percentage or Decimal(0)) for a in associates if a.is_beneficial_owner),
        Decimal(0),
    )
    if total > 100:
        problems.append(
            f"Ownership adds up to {total.normalize():f}%; the total cannot be more than 100%."
        )
    seen: list[Associate] = []
    for associate in associates:
        if any(
            same_person(other, associate.first_name, associate.last_name, associate.date_of_birth)
            for other in seen
        ):
            problems.append(f"{associate.full_name} is listed twice; keep one entry.")
        seen.append(associate)
    return problems


class Progress:
    """Everything the stepper, "Resume" and the review page need, loaded once."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.steps = steps_for(customer)
        self.associates = payloads.payload_associates(customer) if customer.is_company else []
        self.documents = list(customer.documents.all())
        self.sessions = list(customer.agreement_sessions.order_by("-created_at", "-id"))
        self.errors: dict[str, Any] = customer.submission_errors or {}
        self._missing: dict[str, list[str]] = {}

    # Steps ----------------------------------------------------------------------------

    def missing(self, step: Step) -> list[str]:
        if step.slug not in self._missing:
            self._missing[step.slug] = self._compute(step) + self._bvnk_problems(step)
        return self._missing[step.slug]

    def is_complete(self, step: Step) -> bool:
        return step.kind != "review" and not self.missing(step)

    def first_incomplete(self) -> Step:
        return next(
            (s for s in self.steps if s.kind != "review" and self.missing(s)), self.steps[-1]
        )

    def states(self, current: Step | None) -> list[tuple[Step, str]]:
        return [
            (step, CURRENT if step == current else COMPLETE if self.is_complete(step) else TODO)
            for step in self.steps
        ]

    def neighbours(self, step: Step) -> tuple[Step | None, Step | None]:
        index = self.steps.index(step)
        previous = self.steps[index - 1] if index > 0 else None
        following = self.steps[index + 1] if index + 1 < len(self.steps) else None
        return previous, following

    def all_missing(self) -> list[tuple[Step, list[str]]]:
        return [(step, self.missing(step)) for step in self.steps if self.missing(step)]

    # Parts ------------------------------------------------------------------------------

    @property
    def latest_session(self) -> AgreementSession | None:
        return self.sessions[0] if self.sessions else None

    @property
    def signed_session(self) -> AgreementSession | None:
        return next((s for s in self.sessions if s.status == AgreementSession.Status.SIGNED), None)

    def document_groups(self, step: Step) -> list[SlotGroup]:
        if step.slug == "company-documents":
            return [company_group(self.customer, self.associates, self.documents)]
        if step.slug == "identity-documents":
            return [
                person_group(
                    associate.full_name,
                    f"associate-{associate.pk}",
                    associate,
                    associate.id_document_type,
                    self.documents,
                )
                for associate in self.associates
            ]
        if step.slug == "documents":
            return [person_group(self.customer.full_name or "The customer", SELF, None, "",
                                 self.documents)]  # fmt: skip
        return []

    def associate_errors(self, associate: Associate) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = self.errors.get("associates", {}).get(str(associate.pk), {})
        return errors

    def step_errors(self, step: Step) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = self.errors.get("steps", {}).get(step.slug, {})
        return errors

    @property
    def refusal_open(self) -> bool:
        """Whether a field or person BVNK objected to in the last submission is unchanged."""
        return bool(self.errors.get("steps") or self.errors.get("associates"))

    @property
    def other_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = self.errors.get("other", {})
        return errors

    def _compute(self, step: Step) -> list[str]:
        customer = self.customer
        if step.kind == "form" and step.form_class is not None:
            return form_problems(step.form_class, customer, **form_kwargs(customer, step))
        if step.kind == "associates":
            problems = associate_rule_problems(self.associates)
            for associate in self.associates:
                problems += [
                    f"{associate.full_name or 'An associate'}: {problem}"
                    for problem in form_problems(AssociateForm, associate)
                ]
            return problems
        if step.kind == "documents":
            if step.slug == "identity-documents" and not self.associates:
                return ["Add the associates first; each needs identity documents."]
            groups = self.document_groups(step)
            return [
                f"{group.title}: {item}" if step.slug != "company-documents" else item
                for group in groups
                for item in group.missing
            ] + [
                # Quarantined by the malware scan: not sent to BVNK until a rescan clears it.
                f"{slot.label}: {slot.document.get_scan_status_display().lower()}"
                for group in groups
                for slot in group.slots
                if slot.document is not None and slot.document.is_quarantined
            ]
        if step.kind == "agreement":
            return self._agreement_problems()
        return []

    def _agreement_problems(self) -> list[str]:
        signed = self.signed_session
        if signed is None:
            return ["Have the customer sign BVNK's agreement."]
        country = payloads.agreement_country(self.customer)
        if country and signed.country.code != country:
            return [
                f"The agreement was signed for {signed.country.name}, but the customer's "
                "country has changed since. Have the customer sign it again."
            ]
        return []

    def _bvnk_problems(self, step: Step) -> list[str]:
        problems = [
            f"BVNK: {message}"
            for messages in self.step_errors(step).values()
            for message in messages
        ]
        if step.kind == "associates":
            by_pk = {str(a.pk): a for a in self.associates}
            for pk, errors in self.errors.get("associates", {}).items():
                name = by_pk[pk].full_name if pk in by_pk else "A removed associate"
                problems += [f"BVNK ({name}): {m}" for ms in errors.values() for m in ms]
        return problems


def preconditions(customer: Customer, step: Step, progress: Progress) -> tuple[str, str] | None:
    """Return (message, step slug to go to) when a step cannot be used yet."""
    if step.slug == "identity-documents" and not progress.associates:
        return "Add the company's associates first: each needs identity documents.", "associates"
    if step.kind == "agreement" and not payloads.agreement_country(customer):
        if customer.is_company:
            return "Choose the company's country of tax residence first.", "company"
        return "Enter the customer's address first: the agreement depends on the country.", (
            "address"
        )
    return None


# -- review ------------------------------------------------------------------------------


def display(field: Any, value: Any) -> str:
    """Return a stored value as the review page shows it."""
    if value in (None, "", []):
        return "—"
    choices = getattr(field, "choices", None)
    if isinstance(value, list):
        return ", ".join(choice_label(choices, str(v)) or str(v) for v in value)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dt.date):
        return date_format(value, "j F Y")
    if choices:
        code = str(getattr(value, "code", value))
        return choice_label(choices, code) or code
    if isinstance(value, Decimal | int | float):
        # An amount as people write it: 2,500 or 2,500.50, never 2500.00.
        return f"{value:,.2f}".removesuffix(".00")
    return str(value)


def review_rows(
    customer: Customer, step: Step, references: ReferenceLists | None = None
) -> list[tuple[str, str]]:
    """Return (label, value) for every field of a form step, as stored."""
    if step.form_class is None:
        return []
    form = step.form_class(instance=customer, **form_kwargs(customer, step, references))
    hidden: set[str] = set()
    if "has_operational_address" in form.fields and not form["has_operational_address"].value():
        hidden = {"has_operational_address", *f.OPERATIONAL_FIELDS}
    return [
        (str(bound.label), display(bound.field, bound.value()))
        for bound in form
        if bound.name not in hidden
    ]
