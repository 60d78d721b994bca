"""Data migrations: rows written before a migration come out of it as the models expect."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers import crypto

BEFORE = ("customers", "0008_webhook_rejection_scheme")
AFTER = ("customers", "0009_encrypted_payloads")


def raw_column(table: str, column: str, pk: int) -> object:
    with connection.cursor() as cursor:
        # Fixed table and column names from the test itself.
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_existing_payloads_and_bvnk_copies_are_encrypted_in_place() -> None:
    call_command("migrate", *BEFORE, verbosity=0)
    old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
    body = {"person": {"dateOfBirth": "1979-03-17"}, "taxIdentification": {"number": "912"}}
    customer = old.get_model("customers", "Customer").objects.create(
        type="INDIVIDUAL", status="VERIFIED", first_name="Jane", bvnk_data=body
    )
    operation = old.get_model("customers", "BvnkOperation").objects.create(
        customer_id=customer.pk, kind="CREATE_CUSTOMER", idempotency_key="k", payload={"body": body}
    )
    try:
        call_command("migrate", *AFTER, verbosity=0)
        for table, column, pk, value in (
            ("customers_customer", "bvnk_data", customer.pk, body),
            ("customers_bvnkoperation", "payload", operation.pk, {"body": body}),
        ):
            stored = str(raw_column(table, column, pk))
            assert "1979" not in stored and json.loads(crypto.decrypt(stored)) == value
        new = MigrationExecutor(connection).loader.project_state(AFTER).apps
        assert new.get_model("customers", "Customer").objects.get(pk=customer.pk).bvnk_data == body
        operations = new.get_model("customers", "BvnkOperation").objects
        assert operations.get(pk=operation.pk).payload == {"body": body}
        call_command("migrate", *BEFORE, verbosity=0)  # and back: plain JSON again
        plain = raw_column("customers_customer", "bvnk_data", customer.pk)
        assert json.loads(str(plain)) == body
    finally:
        call_command("migrate", verbosity=0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the backfill is PostgreSQL's SQL")
@pytest.mark.django_db(transaction=True)
def test_existing_associates_names_are_copied_for_search() -> None:
    before, after = ("customers", "0010_industry_sector_labels"), ("customers", "0011_work_queue")
    call_command("migrate", *before, verbosity=0)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    company = old.get_model("customers", "Customer").objects.create(
        type="COMPANY", legal_name="Holding Ltd"
    )
    people = old.get_model("customers", "Associate").objects
    people.create(customer_id=company.pk, first_name="Grace", last_name="Hopper")
    people.create(customer_id=company.pk, first_name="Alan", last_name="Turing")
    try:
        call_command("migrate", *after, verbosity=0)
        names = raw_column("customers_customer", "associate_names", company.pk)
        assert names == "Grace Hopper · Alan Turing"
    finally:
        call_command("migrate", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_existing_contacts_are_encrypted_and_indexed_in_place() -> None:
    before, after = (
        ("customers", "0012_case_view"),
        ("customers", "0013_contact_encryption"),
    )
    call_command("migrate", *before, verbosity=0)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    customer = old.get_model("customers", "Customer").objects.create(
        type="COMPANY", legal_name="Acme", email="Desk@Acme.example", phone="+12025550111"
    )
    associate = old.get_model("customers", "Associate").objects.create(
        customer_id=customer.pk, first_name="Jo", email="jo@acme.example", phone="+12025550112"
    )
    try:
        call_command("migrate", *after, verbosity=0)
        for table, pk, email, phone in (
            ("customers_customer", customer.pk, "Desk@Acme.example", "+12025550111"),
            ("customers_associate", associate.pk, "jo@acme.example", "+12025550112"),
        ):
            assert crypto.decrypt(str(raw_column(table, "email", pk))) == email
            assert crypto.decrypt(str(raw_column(table, "phone", pk))) == phone
            assert raw_column(table, "email_hash", pk) == crypto.blind_index(email, "email")
        new = MigrationExecutor(connection).loader.project_state(after).apps
        assert new.get_model("customers", "Customer").objects.get(pk=customer.pk).email == (
            "Desk@Acme.example"
        )
        assert new.get_model("customers", "Associate").objects.get(pk=associate.pk).phone == (
            "+12025550112"
        )
        call_command("migrate", *before, verbosity=0)  # and back: plain again
        assert raw_column("customers_customer", "email", customer.pk) == "Desk@Acme.example"
        assert raw_column("customers_associate", "phone", associate.pk) == "+12025550112"
    finally:
        call_command("migrate", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_existing_refusals_are_encrypted_in_place() -> None:
    before, after = (
        ("customers", "0013_contact_encryption"),
        ("customers", "0014_encrypted_refusals"),
    )
    call_command("migrate", *before, verbosity=0)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    refusal = {"steps": {"contact": {"email": ["is invalid: jo@acme.example"]}}}
    customer = old.get_model("customers", "Customer").objects.create(
        type="COMPANY", legal_name="Acme", submission_errors=refusal
    )
    operation = old.get_model("customers", "BvnkOperation").objects.create(
        customer_id=customer.pk,
        kind="CREATE_CUSTOMER",
        idempotency_key="refused",
        last_error="400 Invalid request: jo@acme.example",
        field_errors={"individual.emailAddress": ["is invalid: jo@acme.example"]},
    )
    try:
        call_command("migrate", *after, verbosity=0)
        for table, column, pk in (
            ("customers_customer", "submission_errors", customer.pk),
            ("customers_bvnkoperation", "last_error", operation.pk),
            ("customers_bvnkoperation", "field_errors", operation.pk),
        ):
            stored = str(raw_column(table, column, pk))
            assert "jo@acme.example" in crypto.decrypt(stored) and "acme" not in stored
        call_command("migrate", *before, verbosity=0)  # and back: plain again
        plain = raw_column("customers_bvnkoperation", "last_error", operation.pk)
        assert plain == "400 Invalid request: jo@acme.example"
    finally:
        call_command("migrate", verbosity=0)
