from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import (
    ALLOWED_TRANSITIONS,
    Associate,
    ComplianceDocument,
    Customer,
    InvalidTransition,
    PrivateStorage,
    StatusChange,
)
from customers.services import customer_change_status, customer_create_draft
from customers.validators import validate_e164_phone
from tests.conftest import make_associate, make_company, make_individual

S = Customer.Status
ALL_PAIRS = list(itertools.product(S.values, S.values))
ALLOWED = [(old, new) for old, new in ALL_PAIRS if new in ALLOWED_TRANSITIONS[old]]
REFUSED = [(old, new) for old, new in ALL_PAIRS if new not in ALLOWED_TRANSITIONS[old]]


def at_status(status: str) -> Customer:
    """A customer placed in `status` directly, as a fixture for transition tests."""
    customer = make_company()
    Customer.objects.filter(pk=customer.pk).update(status=status)
    customer.refresh_from_db()
    return customer


def test_table_covers_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(S.values)
    for targets in ALLOWED_TRANSITIONS.values():
        assert targets <= set(S.values)


def test_table_matches_the_lifecycle() -> None:
    assert ALLOWED_TRANSITIONS[S.DRAFT] == {S.SUBMITTING}
    assert ALLOWED_TRANSITIONS[S.TERMINATED] == set()
    assert S.DRAFT not in set().union(
        *(targets for status, targets in ALLOWED_TRANSITIONS.items() if status != S.SUBMITTING)
    )
    assert ALLOWED_TRANSITIONS[S.VERIFIED] == {S.ACTIONS_REQUIRED, S.TERMINATED}


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_every_allowed_move_is_recorded(old: str, new: str, agent) -> None:
    customer = at_status(old)
    change = customer.transition_to(new, source=StatusChange.Source.STAFF, actor=agent)
    customer.refresh_from_db()
    assert customer.status == new
    assert (change.old_status, change.new_status, change.actor) == (old, new, agent)
    assert customer.status_changes.get() == change
    assert customer.status_changed_at == change.changed_at


@pytest.mark.django_db
@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_every_refused_move_raises_and_changes_nothing(old: str, new: str) -> None:
    customer = at_status(old)
    with pytest.raises(InvalidTransition) as excinfo:
        customer.transition_to(new, source=StatusChange.Source.SYSTEM)
    assert old in str(excinfo.value) and new in str(excinfo.value)
    customer.refresh_from_db()
    assert customer.status == old
    assert not customer.status_changes.exists()


@pytest.mark.django_db
def test_service_locks_records_and_ignores_repeats(lead) -> None:
    customer = customer_create_draft(customer_type="COMPANY", actor=lead)
    assert customer.status == S.DRAFT and customer.created_by == lead
    change = customer_change_status(
        customer, S.SUBMITTING, source=StatusChange.Source.STAFF, actor=lead, reason="Submitted"
    )
    assert change is not None and customer.status == S.SUBMITTING
    assert customer_change_status(customer, S.SUBMITTING, source="STAFF") is None
    assert customer.status_changes.count() == 1
    with pytest.raises(InvalidTransition):
        customer_change_status(customer, S.DRAFT, source="STAFF")
        customer_change_status(customer, S.VERIFIED, source="STAFF")
        customer_change_status(customer, S.DRAFT, source="STAFF")


@pytest.mark.django_db
def test_identifiers() -> None:
    first, second = make_company(), make_individual()
    assert first.external_reference != second.external_reference
    assert first.bvnk_reference is None and second.bvnk_reference is None  # NULLs may repeat
    Customer.objects.filter(pk=first.pk).update(bvnk_reference="8a0e1da2")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=second.pk).update(bvnk_reference="8a0e1da2")


@pytest.mark.django_db
def test_names() -> None:
    assert make_company(legal_name="LB Ltd.").name == "LB Ltd."
    assert make_individual(first_name="Jane", last_name="Doe").name == "Jane Doe"
    draft = Customer.objects.create(type=Customer.Type.COMPANY)
    assert str(draft).startswith("Unnamed company draft (started ")


@pytest.mark.django_db
def test_questionnaire_codes_read_either_shape() -> None:
    customer = make_company(info_required={"questionnaireCodes": ["otherQuestionnaireFull"]})
    assert customer.questionnaire_codes == ["otherQuestionnaireFull"]
    customer.info_required = {"questionnaires": [{"code": "a"}, "b", {"code": "a"}]}
    assert customer.questionnaire_codes == ["a", "b"]


@pytest.mark.django_db
def test_associate_roles_and_ownership_range() -> None:
    company = make_company()
    owner = make_associate(company, is_signer=True)
    assert owner.roles == ["BENEFICIAL_OWNER", "SIGNER"]
    assert owner.role_labels == "Beneficial owner, Signer"
    with pytest.raises(IntegrityError), transaction.atomic():
        make_associate(company, ownership_percentage=Decimal("100.01"))
    with pytest.raises(ValidationError):
        Associate(customer=company, ownership_percentage=Decimal("-1")).full_clean(
            exclude=["first_name"]
        )


@pytest.mark.django_db
def test_type_must_be_known() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(type="TRUST")


@pytest.mark.parametrize("value", ["+447911123456", "+12025550123", "+4915112345678", ""])
def test_phone_accepts_e164(value: str) -> None:
    validate_e164_phone(value)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("07911123456", "phone_format"),
        ("+44 7911 123456", "phone_format"),
        ("+4477009", "phone_invalid"),
        ("+999123456789", "phone_format"),
        ("call me", "phone_format"),
    ],
)
def test_phone_refuses_the_rest(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_e164_phone(value)
    assert excinfo.value.code == code


@pytest.mark.django_db
def test_documents_are_private(settings, tmp_path) -> None:
    from django.core.files.base import ContentFile

    customer = make_company()
    document = ComplianceDocument(
        customer=customer,
        document_type="COMPANY_DOC",
        document_sub_type="INCORPORATION_CERT",
        original_name="../../etc/passwd.pdf",
        size=8,
        content_type="application/pdf",
        sha256="0" * 64,
    )
    document.file.save("../../etc/passwd.pdf", ContentFile(b"%PDF-1.7"), save=True)
    stored = document.file.name
    assert stored.startswith(f"documents/{customer.external_reference}/")
    assert stored.endswith(".pdf") and "passwd" not in stored
    assert (settings.PRIVATE_MEDIA_ROOT / stored).read_bytes() == b"%PDF-1.7"
    assert document.kind_label == "Certificate of incorporation"
    with pytest.raises(NotImplementedError):
        PrivateStorage().url(stored)
