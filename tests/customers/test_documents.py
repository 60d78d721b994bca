"""Upload checks (customers/documents.py), the upload and remove views, and the preview."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers import documents
from customers.models import ComplianceDocument
from tests.customers.conftest import (
    JPEG,
    PDF,
    PNG,
    add_associate,
    add_document,
    company_draft,
    individual_draft,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64)


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


# -- the checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("deed.pdf", PDF, "application/pdf"), ("id.JPG", JPEG, "image/jpeg"),
     ("id.jpeg", JPEG, "image/jpeg"), ("selfie.png", PNG, "image/png")],
)  # fmt: skip
def test_accepted_files_are_typed_by_their_bytes(name, content, content_type) -> None:
    checked = documents.check_upload(upload(name, content))
    assert checked.content_type == content_type
    # Images are stored re-encoded (tests/security/test_uploads.py); PDFs as sent.
    stored = content if content_type == "application/pdf" else checked.content
    assert stored is not None
    assert checked.size == len(stored)
    assert checked.sha256 == hashlib.sha256(stored).hexdigest()
    assert checked.name == name


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("invoice.pdf", EXE, "file_type"),  # a renamed executable
        ("scan.pdf", PNG, "extension_mismatch"),  # a PNG called .pdf
        ("scan.png", PDF, "extension_mismatch"),
        ("scan", PDF, "extension_mismatch"),
        ("notes.pdf", b"<html><script>alert(1)</script>", "file_type"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_refused_files_say_why(name, content, code) -> None:
    with pytest.raises(ValidationError) as refused:
        documents.check_upload(upload(name, content))
    assert refused.value.code == code
    assert refused.value.messages[0].endswith(".")


def test_oversized_files_are_refused_from_their_size_without_reading(settings) -> None:
    settings.DOCUMENT_MAX_BYTES = 100

    class Unreadable(SimpleUploadedFile):
        def read(self, *args, **kwargs):  # pragma: no cover - must not be called
            raise AssertionError("the size check must not read the file")

    big = Unreadable("big.pdf", PDF + bytes(200), content_type="application/pdf")
    with pytest.raises(ValidationError) as refused:
        documents.check_upload(big)
    assert refused.value.code == "too_large"
    assert "larger than 100" in refused.value.messages[0]


def test_hashing_stops_at_the_limit_when_the_size_was_understated(settings) -> None:
    settings.DOCUMENT_MAX_BYTES = 100
    liar = upload("big.pdf", PDF + bytes(200))
    liar.size = 10
    with pytest.raises(ValidationError, match="larger than"):
        documents.check_upload(liar)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\ann\\Passport scan.PDF", "Passport scan.PDF"),
        ('bad"name;\r\n<x>.pdf', "bad_name__x_.pdf"),
        ("   ", "document"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_original_names_are_sanitised(raw, clean) -> None:
    assert documents.sanitise_name(raw) == clean


# -- upload, replace, remove through the pages ---------------------------------------------


@pytest.fixture
def company(db):
    customer = company_draft()
    add_associate(customer, "Ada", is_beneficial_owner=True, ownership_percentage=100)
    return customer


def post_upload(client, customer, slot: str, name: str, content: bytes, step="company-documents"):
    return client.post(
        reverse("customers:onboarding-document-upload", args=[customer.pk, step]),
        {slot: SimpleUploadedFile(name, content)},
    )


CERT = "company:COMPANY_DOC:INCORPORATION_CERT"


def test_upload_stores_the_file_privately_with_its_facts(client, agent, company) -> None:
    client.force_login(agent)
    response = post_upload(client, company, CERT, "../Certificate.pdf", PDF)
    assert response.status_code == 302
    # Back to the top of the step, where the message saying what was stored shows.
    assert response["Location"].endswith("/company-documents/")
    document = ComplianceDocument.objects.get()
    assert (document.document_type, document.document_sub_type) == (
        "COMPANY_DOC",
        "INCORPORATION_CERT",
    )
    assert document.original_name == "Certificate.pdf"
    assert document.content_type == "application/pdf" and document.size == len(PDF)
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert document.uploaded_by == agent
    assert document.file.name.startswith(f"documents/{company.external_reference}/")
    assert "Certificate" not in document.file.name  # stored under a generated name
    with document.file.open("rb") as stored:
        assert stored.read() == PDF


def test_a_new_upload_replaces_the_slot_and_deletes_the_old_file(
    client, agent, company, django_capture_on_commit_callbacks
) -> None:
    client.force_login(agent)
    post_upload(client, company, CERT, "first.pdf", PDF)
    first = ComplianceDocument.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        post_upload(client, company, CERT, "second.png", PNG)
    second = ComplianceDocument.objects.get()
    assert second.original_name == "second.png" and second.content_type == "image/png"
    assert not first.file.storage.exists(first.file.name)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.pdf", EXE, "is not a PDF, JPEG or PNG"),
        ("photo.pdf", PNG, "This file is a PNG but its name ends in"),
    ],
)
def test_refused_uploads_show_the_reason_on_the_slot(
    client, agent, company, name, content, message
):
    client.force_login(agent)
    response = post_upload(client, company, CERT, name, content)
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert not ComplianceDocument.objects.exists()


def test_an_oversized_upload_is_stopped_while_it_arrives(client, agent, company, settings):
    settings.DOCUMENT_MAX_BYTES = 1024
    client.force_login(agent)
    response = post_upload(client, company, CERT, "huge.pdf", PDF + bytes(5000))
    assert response.status_code == 200
    assert "This file is larger than 1.0" in response.content.decode()
    assert not ComplianceDocument.objects.exists()


def test_uploads_only_go_to_slots_the_customer_has(client, agent, company):
    client.force_login(agent)
    response = post_upload(client, company, "company:PASSPORT:FRONT_SIDE", "x.pdf", PDF)
    assert response.status_code == 200
    assert not ComplianceDocument.objects.exists()


def test_remove_deletes_row_and_file(client, agent, company, django_capture_on_commit_callbacks):
    client.force_login(agent)
    post_upload(client, company, CERT, "cert.pdf", PDF)
    document = ComplianceDocument.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("customers:document-remove", args=[company.pk, document.pk]),
            {"step": "company-documents"},
        )
    assert response["Location"].endswith("/onboarding/company-documents/")
    assert not ComplianceDocument.objects.exists()
    assert not document.file.storage.exists(document.file.name)


def test_viewers_cannot_upload_or_remove(client, viewer, company):
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT")
    client.force_login(viewer)
    assert post_upload(client, company, CERT, "cert.pdf", PDF).status_code == 403
    remove = reverse("customers:document-remove", args=[company.pk, document.pk])
    assert client.post(remove).status_code == 403
    assert ComplianceDocument.objects.count() == 1


# -- preview --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"), [("viewer", 403), ("nobody", 403), ("agent", 200), ("lead", 200)]
)
def test_preview_needs_the_download_permission(client, personas, company, persona, expected):
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT", content=PNG,
                            name="cert.png", content_type="image/png")  # fmt: skip
    client.force_login(personas[persona])
    response = client.get(reverse("customers:document-preview", args=[company.pk, document.pk]))
    assert response.status_code == expected


def test_preview_streams_an_image_inline_sandboxed_never_sniffed_nor_cached(client, agent, company):
    document = add_document(
        company, "COMPANY_DOC", "INCORPORATION_CERT", name="cert.png", content=PNG,
        content_type="image/png",
    )  # fmt: skip
    client.force_login(agent)
    response = client.get(reverse("customers:document-preview", args=[company.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_a_pdf_is_never_shown_inline(client, agent, company):
    """A PDF can carry scripts, and browsers' PDF viewers do not run sandboxed."""
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT", name='cert "1".pdf')
    client.force_login(agent)
    response = client.get(reverse("customers:document-preview", args=[company.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_preview_of_another_customers_document_is_not_found(client, agent, company):
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT")
    other = company_draft()
    client.force_login(agent)
    response = client.get(reverse("customers:document-preview", args=[other.pk, document.pk]))
    assert response.status_code == 404


def test_logged_out_preview_goes_to_login(client, company):
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT")
    response = client.get(reverse("customers:document-preview", args=[company.pk, document.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_size_limit_handler_skips_a_file_once_it_passes_the_limit(settings, rf) -> None:
    from django.core.files.uploadhandler import SkipFile

    settings.DOCUMENT_MAX_BYTES = 10
    request = rf.post("/")
    handler = documents.DocumentSizeLimitHandler(request)
    handler.new_file("file", "big.pdf", "application/pdf", None)
    assert handler.receive_data_chunk(b"12345", 0) == b"12345"
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"678901", 5)
    assert request.uploads_too_large == {"file"}


def test_uploads_still_need_the_csrf_token(agent, company) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    response = post_upload(client, company, CERT, "cert.pdf", PDF)
    assert response.status_code == 403
    assert not ComplianceDocument.objects.exists()


# -- several files in one submit --------------------------------------------------------------

ARTICLES = "company:COMPANY_DOC:INCORPORATION_ARTICLES"
DIRECTORS = "company:COMPANY_DOC:DIRECTORS_REGISTRY"


def post_files(client, customer, files: dict[str, tuple[str, bytes]], step="company-documents"):
    return client.post(
        reverse("customers:onboarding-document-upload", args=[customer.pk, step]),
        {slot: SimpleUploadedFile(name, content) for slot, (name, content) in files.items()},
    )


def test_several_files_in_one_submit_are_all_stored(client, agent, company) -> None:
    client.force_login(agent)
    response = post_files(
        client,
        company,
        {CERT: ("cert.pdf", PDF), ARTICLES: ("articles.pdf", PDF), DIRECTORS: ("dirs.png", PNG)},
    )
    assert response.status_code == 302
    stored = {(d.document_sub_type, d.original_name) for d in ComplianceDocument.objects.all()}
    assert stored == {
        ("INCORPORATION_CERT", "cert.pdf"),
        ("INCORPORATION_ARTICLES", "articles.pdf"),
        ("DIRECTORS_REGISTRY", "dirs.png"),
    }
    page = client.get(response["Location"]).content.decode()
    assert "Certificate of incorporation: cert.pdf uploaded." in page
    assert "Articles of association: articles.pdf uploaded." in page
    assert "Register of directors: dirs.png uploaded." in page


def test_one_bad_file_is_reported_on_its_slot_and_the_others_are_stored(
    client, agent, company
) -> None:
    client.force_login(agent)
    response = post_files(
        client,
        company,
        {CERT: ("cert.pdf", PDF), ARTICLES: ("articles.pdf", b"MZ not a pdf"),
         DIRECTORS: ("dirs.png", PNG)},
    )  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert "Articles of association: This file is not a PDF, JPEG or PNG" in page
    assert 'href="#slot-company-company-doc-incorporation-articles-file"' in page  # summary link
    assert "Certificate of incorporation: cert.pdf uploaded." in page
    stored = {d.document_sub_type for d in ComplianceDocument.objects.all()}
    assert stored == {"INCORPORATION_CERT", "DIRECTORS_REGISTRY"}


def test_an_oversized_file_is_named_and_the_others_are_stored(
    client, agent, company, settings
) -> None:
    settings.DOCUMENT_MAX_BYTES = 4 * 1024
    client.force_login(agent)
    response = post_files(
        client, company, {CERT: ("big.pdf", PDF + bytes(64 * 1024)), ARTICLES: ("a.pdf", PDF)}
    )
    page = response.content.decode()
    assert "Certificate of incorporation: This file is larger than 4.0" in page
    assert [d.document_sub_type for d in ComplianceDocument.objects.all()] == [
        "INCORPORATION_ARTICLES"
    ]


def test_a_submit_without_files_asks_for_one(client, agent, company) -> None:
    client.force_login(agent)
    response = client.post(
        reverse("customers:onboarding-document-upload", args=[company.pk, "company-documents"])
    )
    assert "Choose at least one file to upload." in response.content.decode()
    assert not ComplianceDocument.objects.exists()


def test_the_documents_step_is_one_form_with_a_file_input_per_slot(client, agent, company):
    client.force_login(agent)
    page = client.get(
        reverse("customers:onboarding-step", args=[company.pk, "company-documents"])
    ).content.decode()
    assert page.count('enctype="multipart/form-data"') == 1
    assert page.count('type="file"') == 5
    assert f'name="{CERT}"' in page and "Upload the chosen files" in page


# -- the identity document chosen first ----------------------------------------------------------

PASSPORT = "self:PASSPORT:FRONT_SIDE"
ID_FRONT = "self:ID_CARD:FRONT_SIDE"
CHOOSER = "self:identity-type"


def documents_page(client, customer, step="documents") -> str:
    url = reverse("customers:onboarding-step", args=[customer.pk, step])
    return client.get(url).content.decode()


def test_an_individual_chooses_the_identity_document_before_its_slots(client, agent) -> None:
    customer = individual_draft()
    client.force_login(agent)
    page = documents_page(client, customer)
    assert "Which identity document for" in page
    for kind in ("PASSPORT", "ID_CARD", "DRIVER_LICENSE", "RESIDENCE_PERMIT"):
        assert f'name="{CHOOSER}" value="{kind}"' in page
        assert f'data-id-type="{kind}"' in page  # shown by the stylesheet once chosen
    assert "checked" not in page.split("Which identity document")[1].split("</fieldset>")[0]


def test_a_file_for_another_identity_document_than_the_chosen_one_is_reported(
    client, agent
) -> None:
    customer = individual_draft()
    client.force_login(agent)
    url = reverse("customers:onboarding-document-upload", args=[customer.pk, "documents"])
    response = client.post(
        url,
        {
            CHOOSER: "PASSPORT",
            PASSPORT: SimpleUploadedFile("passport.png", PNG),
            ID_FRONT: SimpleUploadedFile("id.png", PNG),
            "self:PROOF_OF_RESIDENCE:": SimpleUploadedFile("bill.pdf", PDF),
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert (
        "ID card (front): This file is for the ID card, but the passport is chosen as the "
        "identity document; it was not stored." in page
    )
    stored = {d.document_type for d in ComplianceDocument.objects.all()}
    assert stored == {"PASSPORT", "PROOF_OF_RESIDENCE"}
    # The stored passport decides the choice shown next time.
    assert 'value="PASSPORT" id="id_self:identity-type_0" checked' in documents_page(
        client, customer
    )


def test_a_known_identity_document_shows_only_its_slots(client, agent) -> None:
    customer = company_draft()
    add_associate(
        customer,
        "Ada",
        is_beneficial_owner=True,
        ownership_percentage=100,
        id_document_type="ID_CARD",
        id_document_number="X1",
        id_document_issuing_country="DE",
    )
    client.force_login(agent)
    page = documents_page(client, customer, "identity-documents")
    assert "Which identity document" not in page
    assert "ID card (front)" in page and "ID card (back)" in page
    assert "Passport" not in page


def test_continue_uploads_the_chosen_files_then_moves_on(client, agent, company) -> None:
    client.force_login(agent)
    url = reverse("customers:onboarding-document-upload", args=[company.pk, "company-documents"])
    response = client.post(
        url, {"then": "identity-documents", CERT: SimpleUploadedFile("cert.pdf", PDF)}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/identity-documents/")
    assert [d.original_name for d in ComplianceDocument.objects.all()] == ["cert.pdf"]
    # Without a file, Continue just moves on; a refused file keeps the page.
    response = client.post(url, {"then": "identity-documents"})
    assert response["Location"].endswith("/identity-documents/")
    response = client.post(
        url, {"then": "identity-documents", ARTICLES: SimpleUploadedFile("a.pdf", b"MZ")}
    )
    assert response.status_code == 200
    assert "Articles of association: This file is not a PDF, JPEG or PNG" in (
        response.content.decode()
    )
