"""Hostile uploads, refused or defused, leaving nothing behind; malware scanning with clamd."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from customers import documents, scanning
from customers.models import AuditEvent, ComplianceDocument
from customers.onboarding import steps as onboarding
from tests.customers.conftest import PDF, add_associate, add_document, company_draft
from tests.emulator_server import free_port
from tests.security.conftest import EICAR, SIGNATURE

pytestmark = pytest.mark.django_db
CERT = "company:COMPANY_DOC:INCORPORATION_CERT"


def jpeg(extra: bytes = b"") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue() + extra


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def decompression_bomb(side: int = 20_000) -> bytes:
    """A side x side PNG of zeros: tiny on disk, 400 megapixels decoded by default."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" * (1 + side // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def stored_files() -> list[Path]:
    root = Path(django_settings.PRIVATE_MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def company(db: Any) -> Any:
    customer = company_draft()
    add_associate(customer, "Ada", is_beneficial_owner=True, ownership_percentage=100)
    return customer


def upload(client: Any, customer: Any, *files: SimpleUploadedFile) -> Any:
    url = reverse("customers:onboarding-document-upload", args=[customer.pk, "company-documents"])
    return client.post(url, {CERT: list(files) if len(files) > 1 else files[0]})


HOSTILE = [
    pytest.param("eicar.pdf", EICAR, "application/pdf", "not a PDF, JPEG or PNG", id="eicar"),
    pytest.param(
        "invoice.pdf",
        b"<!doctype html><script>fetch('/x')</script>",
        "application/pdf",
        "not a PDF, JPEG or PNG",
        id="html-renamed-pdf",
    ),
    pytest.param(
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "image/svg+xml",
        "not a PDF, JPEG or PNG",
        id="svg",
    ),
    pytest.param("empty.pdf", b"", "application/pdf", "This file is empty.", id="zero-bytes"),
    pytest.param(
        "scan.png",
        decompression_bomb(),
        "image/png",
        "too many pixels",
        id="decompression-bomb",
    ),
    pytest.param(
        "photo.png",
        b"<html><body onload=alert(1)>",
        "image/png",
        "not a PDF, JPEG or PNG",
        id="spoofed-content-type",
    ),
    pytest.param(
        "broken.jpg",
        b"\xff\xd8\xff\xe0" + bytes(64),
        "image/jpeg",
        "could not be read",
        id="bad-jpeg",
    ),
]


@pytest.mark.parametrize(("name", "content", "content_type", "message"), HOSTILE)
def test_hostile_uploads_are_refused_and_leave_nothing(
    client, agent, company, name, content, content_type, message
) -> None:
    client.force_login(agent)
    response = upload(client, company, SimpleUploadedFile(name, content, content_type))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ComplianceDocument.objects.exists()
    assert stored_files() == []


def test_an_image_over_the_pixel_budget_is_refused_before_decoding(
    client, agent, company, monkeypatch
) -> None:
    """49 megapixels: under Pillow's own bomb guard, over the portal's 25 MP budget."""
    from PIL import PngImagePlugin

    def no_decoding(self: Any) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", no_decoding)
    client.force_login(agent)
    image = SimpleUploadedFile("scan.png", decompression_bomb(7_000), "image/png")
    page = upload(client, company, image).content.decode()
    assert "too many pixels" in page and "under 25 megapixels" in page
    assert not ComplianceDocument.objects.exists() and stored_files() == []


def test_an_oversized_file_is_dropped_while_it_arrives(client, agent, company, settings) -> None:
    settings.DOCUMENT_MAX_BYTES = 64 * 1024
    client.force_login(agent)
    big = SimpleUploadedFile("big.pdf", PDF + bytes(256 * 1024), "application/pdf")
    response = upload(client, company, big)
    assert "larger than 64.0" in response.content.decode()
    assert not ComplianceDocument.objects.exists() and stored_files() == []


def test_several_files_for_one_document_are_refused(client, agent, company) -> None:
    client.force_login(agent)
    files = [SimpleUploadedFile(f"{i}.pdf", PDF, "application/pdf") for i in range(3)]
    response = upload(client, company, *files)
    assert "Choose one file for this document; several were sent." in response.content.decode()
    assert not ComplianceDocument.objects.exists() and stored_files() == []


def test_files_past_the_per_request_limit_store_none(client, agent, company, monkeypatch) -> None:
    monkeypatch.setattr(documents, "MAX_FILES_PER_REQUEST", 2)
    client.force_login(agent)
    url = reverse("customers:onboarding-document-upload", args=[company.pk, "company-documents"])
    files = {
        f"company:COMPANY_DOC:{sub}": SimpleUploadedFile(f"{sub}.pdf", PDF)
        for sub in ("INCORPORATION_CERT", "PROOF_OF_ADDRESS", "DIRECTORS_REGISTRY")
    }
    response = client.post(url, files)
    assert "Too many files in one upload: send at most 2." in response.content.decode()
    assert not ComplianceDocument.objects.exists() and stored_files() == []


def test_a_flood_of_files_is_refused_while_parsing(client, agent, company, settings) -> None:
    client.force_login(agent)
    count = settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1
    files = [SimpleUploadedFile(f"{i}.pdf", PDF, "application/pdf") for i in range(count)]
    assert upload(client, company, *files).status_code == 400
    assert stored_files() == []


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "a\x00b.pdf", "..\\..\\win.ini.pdf"])
def test_hostile_names_become_plain_metadata(client, agent, company, name) -> None:
    client.force_login(agent)
    upload(client, company, SimpleUploadedFile(name, PDF, "application/pdf"))
    document = ComplianceDocument.objects.get()
    assert "/" not in document.original_name and "\\" not in document.original_name
    assert "\x00" not in document.original_name and ".." not in document.original_name
    assert document.file.name.startswith(f"documents/{company.external_reference}/")
    (path,) = stored_files()
    assert path.resolve().is_relative_to(Path(django_settings.PRIVATE_MEDIA_ROOT).resolve())


def test_a_jpeg_polyglot_is_stored_as_pixels_only(client, agent, company) -> None:
    client.force_login(agent)
    hostile = jpeg(b"<script>alert(document.cookie)</script>")
    response = upload(client, company, SimpleUploadedFile("id.jpg", hostile, "image/jpeg"))
    assert response.status_code == 302
    document = ComplianceDocument.objects.get()
    with document.file.open("rb") as stored:
        content = stored.read()
    assert b"<script" not in content and content.startswith(b"\xff\xd8\xff")
    assert document.size == len(content)


def test_images_lose_their_metadata(client, agent, company) -> None:
    client.force_login(agent)
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # any tag: the location would be stripped the same way
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="JPEG", exif=exif.tobytes())
    upload(client, company, SimpleUploadedFile("id.jpg", out.getvalue(), "image/jpeg"))
    with ComplianceDocument.objects.get().file.open("rb") as stored:
        assert b"Camera maker" not in stored.read()


def test_a_pdf_sent_with_an_image_content_type_is_typed_by_its_bytes(
    client, agent, company
) -> None:
    client.force_login(agent)
    upload(client, company, SimpleUploadedFile("deed.pdf", PDF, "image/png"))
    assert ComplianceDocument.objects.get().content_type == "application/pdf"


# -- malware scanning (a real clamd) ---------------------------------------------------------


def eicar_pdf() -> bytes:
    return b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n"


@pytest.mark.parametrize("transport", ["unix_url", "tcp_url"])
def test_the_scanner_tells_clean_from_infected(clamd, settings, transport) -> None:
    settings.CLAMAV_URL = getattr(clamd, transport)
    assert scanning.scan([PDF]).clean
    infected = scanning.scan([eicar_pdf()[:20], eicar_pdf()[20:]])
    assert not infected.clean and infected.signature.startswith(SIGNATURE)


def test_malware_is_refused_with_its_name(client, agent, company, clamd, settings) -> None:
    settings.CLAMAV_URL = clamd.unix_url
    client.force_login(agent)
    response = upload(client, company, SimpleUploadedFile("deed.pdf", eicar_pdf()))
    page = response.content.decode()
    assert "This file contains malware (Portal.Test.EICAR" in page
    assert not ComplianceDocument.objects.exists() and stored_files() == []


def test_a_clean_scan_is_recorded(client, agent, company, clamd, settings) -> None:
    settings.CLAMAV_URL = clamd.tcp_url
    client.force_login(agent)
    upload(client, company, SimpleUploadedFile("deed.pdf", PDF))
    document = ComplianceDocument.objects.get()
    assert document.scan_status == "CLEAN" and document.scanned_at is not None


def test_scanner_down_quarantines_until_a_rescan_releases(
    client, agent, company, clamd, settings
) -> None:
    settings.CLAMAV_URL = f"tcp://127.0.0.1:{free_port()}"  # nothing listens
    client.force_login(agent)
    response = upload(client, company, SimpleUploadedFile("deed.pdf", PDF))
    assert response.status_code == 302
    document = ComplianceDocument.objects.get()
    assert document.scan_status == "PENDING" and document.is_quarantined
    assert "quarantine" in client.get(response["Location"]).content.decode()
    for view in ("customers:document-preview", "customers:document-download"):
        refused = client.get(reverse(view, args=[company.pk, document.pk]))
        assert refused.status_code == 403 and b"malware scanner" in refused.content
    progress = onboarding.Progress(company)
    step = onboarding.get_step(company, "company-documents")
    assert any("quarantined until scanned" in item for item in progress.missing(step))
    # Scanner still down: nothing changes. Back up: released, and audited.
    assert documents.documents_rescan()["unavailable"] == 1
    settings.CLAMAV_URL = clamd.unix_url
    assert documents.documents_rescan() == {"clean": 1, "infected": 0, "unavailable": 0}
    document.refresh_from_db()
    assert document.scan_status == "CLEAN"
    preview = client.get(reverse("customers:document-preview", args=[company.pk, document.pk]))
    assert preview.status_code == 200
    assert AuditEvent.objects.filter(summary__startswith="Malware scan released").exists()


def test_a_rescan_that_finds_malware_deletes_the_file(
    company, clamd, settings, django_capture_on_commit_callbacks
) -> None:
    settings.CLAMAV_URL = clamd.unix_url
    document = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT", content=eicar_pdf())
    ComplianceDocument.objects.filter(pk=document.pk).update(scan_status="PENDING")
    with django_capture_on_commit_callbacks(execute=True):
        assert documents.documents_rescan()["infected"] == 1
    document.refresh_from_db()
    assert document.scan_status == "INFECTED" and document.scan_detail.startswith(SIGNATURE)
    assert stored_files() == []


def test_quarantined_documents_are_never_queued_for_bvnk(company) -> None:
    from customers.outbox import senders

    held = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT")
    ComplianceDocument.objects.filter(pk=held.pk).update(scan_status="PENDING")
    clean = add_document(company, "COMPANY_DOC", "INCORPORATION_ARTICLES")
    queued = senders.queue_documents(company)
    assert [operation.document_id for operation in queued] == [clean.pk]


def test_the_names_kept_are_sanitised() -> None:
    checked = documents.check_upload(SimpleUploadedFile("../x/\x00évil<>.pdf", PDF))
    assert checked.name == "évil__.pdf"


def test_a_requested_document_the_scan_holds_goes_to_bvnk_once_released(
    client, agent, clamd, settings, django_capture_on_commit_callbacks
) -> None:
    """A document BVNK asked for after the submission, uploaded while the scanner was
    down: stored and held back, then queued to BVNK by the rescan that clears it, once."""
    from customers import services
    from customers.models import BvnkOperation
    from customers.onboarding import slots
    from tests.conftest import make_individual

    settings.CLAMAV_URL = f"tcp://127.0.0.1:{free_port()}"  # nothing listens
    customer = make_individual(
        status="INFO_REQUIRED",
        bvnk_reference="ref-held",
        info_required={"documents": [{"type": "PROOF_OF_RESIDENCE"}]},
    )
    client.force_login(agent)
    response = client.post(
        reverse("customers:requests-upload", args=[customer.pk]),
        {"self:PROOF_OF_RESIDENCE:": SimpleUploadedFile("bill.pdf", PDF)},
        follow=True,
    )
    document = ComplianceDocument.objects.get(customer=customer)
    assert document.is_quarantined
    assert not BvnkOperation.objects.filter(customer=customer).exists()
    assert "goes to BVNK by itself once the scan clears it" in response.content.decode()
    (slot,) = slots.requested_slots(customer, [document])
    assert slot.document is None, "a held file answers nothing: the request stays open"

    assert services.documents_rescan()["unavailable"] == 1  # still down: still held
    assert not BvnkOperation.objects.filter(customer=customer).exists()
    settings.CLAMAV_URL = clamd.unix_url
    with django_capture_on_commit_callbacks(execute=False):
        counts = services.documents_rescan()
    assert counts == {"clean": 1, "infected": 0, "unavailable": 0, "sent": 1}
    operation = BvnkOperation.objects.get(customer=customer)
    assert operation.kind == BvnkOperation.Kind.UPLOAD_DOCUMENT
    assert operation.document_id == document.pk and operation.state == "PENDING"
    assert operation.created_by == agent  # who uploaded it
    # A second rescan queues nothing more.
    assert services.documents_rescan()["sent"] == 0
    assert BvnkOperation.objects.filter(customer=customer).count() == 1
