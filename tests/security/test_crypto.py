"""Personal data at rest: ciphertext in the database, key rotation, the keyed-hash lookup."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection

from customers import crypto
from customers.models import Associate, BvnkOperation, Customer
from customers.security_checks import check_security_deploy, check_security_settings
from tests.conftest import make_associate, make_company, make_individual

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw(table: str, pk: int, *columns: str) -> tuple[str, ...]:
    with connection.cursor() as cursor:
        # Fixed table and column names from the tests themselves.
        query = f"SELECT {', '.join(columns)} FROM {table} WHERE id = %s"  # noqa: S608
        cursor.execute(query, [pk])
        return tuple(cursor.fetchone())


def test_the_database_holds_only_ciphertext() -> None:
    customer = make_individual(tax_number="123-45-6789", date_of_birth=dt.date(1984, 6, 30))
    associate = make_associate(
        make_company(), tax_number="AB123456C", id_document_number="P1234567"
    )
    tax, born, index = raw("customers_customer", customer.pk, "tax_number", "date_of_birth",
                           "tax_number_hash")  # fmt: skip
    assert tax.startswith("gAAAAA") and "6789" not in tax
    assert born.startswith("gAAAAA") and "1984" not in born
    assert len(index) == 64 and "6789" not in index
    tax, number = raw("customers_associate", associate.pk, "tax_number", "id_document_number")
    assert tax.startswith("gAAAAA") and number.startswith("gAAAAA") and "1234567" not in number
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.tax_number == "123-45-6789"
    assert customer.date_of_birth == dt.date(1984, 6, 30)  # still a date in Python
    assert Associate.objects.get(pk=associate.pk).id_document_number == "P1234567"


def test_the_same_value_encrypts_differently_each_time() -> None:
    first = make_individual(tax_number="123-45-6789")
    second = make_individual(tax_number="123-45-6789")
    assert raw("customers_customer", first.pk, "tax_number") != raw(
        "customers_customer", second.pk, "tax_number"
    )


def test_exact_lookups_go_through_the_keyed_hash() -> None:
    wanted = make_individual(tax_number="123-45-6789")
    make_individual(tax_number="987-65-4321")
    found = Customer.objects.filter(tax_number_hash__in=crypto.blind_indexes("123 45 6789"))
    assert list(found) == [wanted]
    with pytest.raises(FieldError, match="encrypted"):
        list(Customer.objects.filter(tax_number="123-45-6789"))
    assert Customer.objects.filter(tax_number="").count() == 0  # empty stays searchable


def test_a_save_of_some_fields_keeps_the_hash_in_step() -> None:
    customer = make_individual(tax_number="111")
    customer.tax_number = "222"
    customer.save(update_fields=["tax_number"])
    assert Customer.objects.filter(tax_number_hash__in=crypto.blind_indexes("222")).exists()


def test_rotation_keeps_old_rows_readable_and_the_command_moves_them(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    customer = make_individual(
        tax_number="123-45-6789", date_of_birth=dt.date(1990, 1, 2), phone="+12025550100"
    )
    associate = make_associate(make_company(), id_document_number="X99", email="a@b.example")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]  # a new key in front
    assert Customer.objects.get(pk=customer.pk).tax_number == "123-45-6789"
    # Found by its hash under the old key until re-encrypted.
    assert Customer.objects.filter(tax_number_hash__in=crypto.blind_indexes("123456789")).exists()
    call_command("reencrypt_personal_data")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.tax_number == "123-45-6789" and customer.date_of_birth == dt.date(1990, 1, 2)
    associate = Associate.objects.get(pk=associate.pk)
    assert associate.id_document_number == "X99" and associate.email == "a@b.example"
    assert customer.phone == "+12025550100"
    assert Customer.objects.filter(tax_number_hash__in=crypto.blind_indexes("123456789")).exists()


def test_email_hashes_follow_their_own_keys_through_a_rotation(settings) -> None:
    old, new = "o" * 40, "n" * 40
    settings.SEARCH_INDEX_KEYS = [old]
    customer = make_individual(email="Jane@Example.org")
    by_email = Customer.objects.filter
    settings.SEARCH_INDEX_KEYS = [new, old]  # a new key in front: the old hash still found
    assert by_email(email_hash__in=crypto.blind_indexes(" jane@example.ORG", "email")).exists()
    call_command("reencrypt_personal_data")
    settings.SEARCH_INDEX_KEYS = [new]  # the old key is gone
    assert by_email(email_hash__in=crypto.blind_indexes("jane@example.org", "email")).get() == (
        customer
    )
    # The encryption keys are not the search keys: changing them moves no email hash.
    before = Customer.objects.values_list("email_hash", flat=True).get(pk=customer.pk)
    settings.FIELD_ENCRYPTION_KEYS = [NEW, *settings.FIELD_ENCRYPTION_KEYS]
    customer.save()
    assert Customer.objects.values_list("email_hash", flat=True).get(pk=customer.pk) == before


def test_production_without_search_keys_fails_the_deploy_check(settings) -> None:
    settings.SEARCH_INDEX_KEYS = []
    assert "customers.E018" in {error.id for error in check_security_deploy(None)}
    settings.SEARCH_INDEX_KEYS = ["short"]
    assert "customers.E017" in {error.id for error in check_security_settings(None)}


def test_the_command_names_rows_no_key_can_read(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    lost = make_individual(tax_number="123")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    kept = make_individual(tax_number="456")
    with pytest.raises(CommandError, match=f"Customer {lost.pk}"):
        call_command("reencrypt_personal_data")
    assert Customer.objects.get(pk=kept.pk).tax_number == "456"


def test_production_without_keys_fails_the_deploy_check(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = []
    assert "customers.E012" in {error.id for error in check_security_deploy(None)}


def test_a_development_key_is_derived_only_with_debug() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FIELD_ENCRYPTION_KEYS", "DEBUG")}
    script = "from django.conf import settings; print(len(settings.FIELD_ENCRYPTION_KEYS))"
    results = {}
    for debug in ("true", "false"):
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env={**env, "DEBUG": debug},
            capture_output=True,
            text=True,
            timeout=60,
        )
        results[debug] = result.stdout.strip().splitlines()[-1]
    assert results == {"true": "1", "false": "0"}


def test_the_admin_finds_a_customer_by_tax_number(client, lead) -> None:
    wanted = make_individual(tax_number="123-45-6789", first_name="Wanda")
    make_individual(tax_number="987-65-4321", first_name="Other")
    client.force_login(lead)
    page = client.get("/admin/customers/customer/", {"q": "123456789"}).content.decode()
    assert wanted.full_name in page and "Other" not in page


def test_bodies_for_bvnk_and_bvnks_copy_are_one_token_each_and_rotate(settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    body = {"individual": {"person": {"dateOfBirth": "1990-01-02"}}, "b": 1, "a": 2}
    customer = make_individual(bvnk_reference="cus-1", bvnk_data=body)
    operation = BvnkOperation.objects.create(
        customer=customer, kind="UPDATE_CUSTOMER", idempotency_key="k-1", payload={"body": body}
    )
    for table, pk, column in (
        ("customers_customer", customer.pk, "bvnk_data"),
        ("customers_bvnkoperation", operation.pk, "payload"),
    ):
        (stored,) = raw(table, pk, column)
        assert "1990" not in stored and stored.startswith("gAAAAA")
    # Read back in the order it was built: the bytes sent again are the bytes sent first.
    assert list(BvnkOperation.objects.get(pk=operation.pk).payload["body"]) == [
        "individual",
        "b",
        "a",
    ]
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("reencrypt_personal_data")
    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    assert Customer.objects.get(pk=customer.pk).bvnk_data == body
    assert BvnkOperation.objects.get(pk=operation.pk).payload == {"body": body}
