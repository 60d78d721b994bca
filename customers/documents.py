"""Upload checks for compliance documents: size, type from the bytes, a clean name, a hash.

BVNK publishes no limits for uploads, so the portal accepts PDF, JPEG and PNG,
recognised by their magic bytes (never by the browser's Content-Type), up to
settings.DOCUMENT_MAX_BYTES. The extension must agree with the content, so a renamed
executable or a PNG called .pdf is refused before it is stored.

Then, when CLAMAV_URL is set, clamd scans the bytes as uploaded (customers/scanning.py):
malware is refused; a file the scanner could not check is stored quarantined. Images are
decoded and encoded again by Pillow (within a pixel limit, with its decompression-bomb
guard), so what is stored is pixels only: no metadata (EXIF, GPS), no trailing script, no
polyglot. PDFs cannot be rebuilt safely; they are only ever downloaded as attachments.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from . import audit, scanning
from .models import ComplianceDocument, private_storage

logger = logging.getLogger(__name__)

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

# Magic bytes of each accepted format (the first bytes of the file).
_SIGNATURES = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
EXTENSIONS = {PDF: (".pdf",), JPEG: (".jpg", ".jpeg"), PNG: (".png",)}
TYPE_NAMES = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
ACCEPT = ",".join(ext for exts in EXTENSIONS.values() for ext in exts)
_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG"}
# Scan states (ComplianceDocument.ScanStatus values).
NOT_SCANNED, CLEAN, PENDING, INFECTED = "NOT_SCANNED", "CLEAN", "PENDING", "INFECTED"
QUARANTINED = frozenset({PENDING, INFECTED})
QUARANTINE_MESSAGE = (
    "The malware scanner could not check this file yet. It is kept in quarantine (not "
    "sent to BVNK, not viewable) until a rescan clears it, usually within minutes."
)
_CHUNK = 64 * 1024
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^\w .()+,@&'-]")


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """What the portal stores about an accepted upload besides its bytes."""

    name: str
    size: int
    content_type: str
    sha256: str
    # The bytes to store instead of the upload's (a re-encoded image); None: the upload's.
    content: bytes | None = None
    scan_status: str = NOT_SCANNED
    scan_detail: str = ""


def max_bytes() -> int:
    return int(settings.DOCUMENT_MAX_BYTES)


def too_large_message(limit: int | None = None) -> str:
    limit = max_bytes() if limit is None else limit
    return f"This file is larger than {filesizeformat(limit)}. Upload a smaller scan or photo."


def sniff(head: bytes) -> str | None:
    """Return the content type the first bytes of a file show, or None when not accepted."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def sanitise_name(name: str) -> str:
    """Return the base name of an uploaded file, safe to show and to put in a header."""
    name = unicodedata.normalize("NFKC", name or "")
    name = PurePath(name.replace("\\", "/")).name  # No folders, whichever OS sent them.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE_NAME_CHARACTERS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        name = f"{stem[: 200 - len(extension) - 1]}.{extension}" if dot else name[:200]
    return name or "document"


def check_upload(upload: Any) -> CheckedFile:
    """Accept an uploaded file or raise ValidationError with a message staff can act on.

    The size comes from the upload handler (no read); the type from the first bytes; the
    hash is computed in chunks, so a large file is never held in memory. Then the scan
    and, for images, the re-encoding; size and hash are those of the bytes to store.
    """
    limit = max_bytes()
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(too_large_message(limit), code="too_large")
    if not size:
        raise ValidationError("This file is empty.", code="empty")
    name = sanitise_name(getattr(upload, "name", ""))
    head = _read_head(upload)
    content_type = sniff(head)
    if content_type is None:
        raise ValidationError(
            "This file is not a PDF, JPEG or PNG. Upload a scan or photo in one of those formats.",
            code="file_type",
        )
    extension = PurePath(name).suffix.lower()
    if extension not in EXTENSIONS[content_type]:
        raise ValidationError(
            f"This file is a {TYPE_NAMES[content_type]} but its name ends in "
            f"“{extension or 'nothing'}”. Rename it to end in "
            f"{' or '.join(EXTENSIONS[content_type])} and upload it again.",
            code="extension_mismatch",
        )
    digest, counted = _hash(upload, limit)
    if counted > limit:
        raise ValidationError(too_large_message(limit), code="too_large")
    scan_status, scan_detail = _scan(upload)
    content = None
    if content_type in _PILLOW_FORMATS:
        content = reencode_image(upload, content_type)
        digest, counted = hashlib.sha256(content).hexdigest(), len(content)
    return CheckedFile(
        name=name,
        size=counted,
        content_type=content_type,
        sha256=digest,
        content=content,
        scan_status=scan_status,
        scan_detail=scan_detail,
    )


def _scan(upload: Any) -> tuple[str, str]:
    """Scan the upload as sent; refuse malware, quarantine what could not be checked."""
    if not scanning.configured():
        return NOT_SCANNED, ""
    try:
        result = scanning.scan(upload.chunks(_CHUNK))
    except scanning.ScannerUnavailable as problem:
        return PENDING, str(problem)[:200]
    finally:
        upload.seek(0)
    if not result.clean:
        raise ValidationError(
            f"This file contains malware ({result.signature}) and was refused. Do not open "
            "it; ask the customer for a clean copy.",
            code="malware",
        )
    return CLEAN, ""


def reencode_image(upload: Any, content_type: str) -> bytes:
    """Decode the image and encode it again: pixels only, upright, no metadata."""
    from PIL import Image, ImageOps

    unreadable = ValidationError(
        f"This {TYPE_NAMES[content_type]} image could not be read. Export or scan it again "
        "and upload the new file.",
        code="image_unreadable",
    )
    budget = settings.DOCUMENT_MAX_IMAGE_PIXELS
    too_many_pixels = ValidationError(
        "This image has too many pixels to be a document scan. Scan it at a lower "
        f"resolution (under {budget / 1_000_000:g} megapixels) and upload it again.",
        code="image_too_large",
    )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns past Image.MAX_IMAGE_PIXELS and refuses past twice that; here
            # its warning is a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload, formats=[_PILLOW_FORMATS[content_type]]) as image:
                # Read from the header, before a single pixel is decoded.
                if image.width * image.height > budget:
                    raise too_many_pixels
                image.seek(0)  # the first frame of an animated PNG
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                out = io.BytesIO()
                if content_type == JPEG:
                    if upright.mode not in ("RGB", "L"):
                        upright = upright.convert("RGB")
                    upright.save(out, format="JPEG", quality=90)
                else:
                    if upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
                        upright = upright.convert("RGBA")
                    upright.save(out, format="PNG")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many_pixels from None
    except ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as problem:
        raise unreadable from problem
    finally:
        upload.seek(0)
    return out.getvalue()


def is_released(document: Any) -> bool:
    """Whether a stored document may be shown, downloaded or sent to BVNK."""
    return document.scan_status not in QUARANTINED


def ensure_released(document: Any) -> None:
    """Refuse (403, with the reason) a quarantined document."""
    from django.core.exceptions import PermissionDenied

    if document.scan_status == INFECTED:
        raise PermissionDenied("The malware scanner found malware in this document; it is gone.")
    if document.scan_status == PENDING:
        raise PermissionDenied(QUARANTINE_MESSAGE)


def _read_head(upload: Any) -> bytes:
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    return bytes(head)


def _hash(upload: Any, limit: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    counted = 0
    for chunk in upload.chunks(_CHUNK):  # File.chunks() starts from the beginning.
        counted += len(chunk)
        if counted > limit:
            break
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest(), counted


# Files one upload request may carry: a documents step's slots, with room to spare (a
# company step with many associates). DATA_UPLOAD_MAX_NUMBER_FILES in the settings sits
# one above, so this handler, not Django's bare 400, answers a request just over it.
MAX_FILES_PER_REQUEST = 60


class DocumentSizeLimitHandler(FileUploadHandler):
    """Stop receiving a file once it passes the document limit, instead of spooling it all.

    Django would otherwise write the whole request body to a temporary file before the
    form sees it. Each file has its own limit; a file over it is skipped and its field
    named in `request.uploads_too_large`, so the form can say which file did not arrive
    and why. A second file for the same field is skipped and the field named in
    `request.uploads_repeated`; files past `MAX_FILES_PER_REQUEST` set
    `request.upload_too_many`.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = max_bytes()
        self.received = 0
        self.files = 0
        self.seen: set[str] = set()
        if request is not None:
            # Read by the documents form; set here so the view needs no getattr defaults.
            request.uploads_too_large = set()  # type: ignore[attr-defined]
            request.uploads_repeated = set()  # type: ignore[attr-defined]
            request.upload_too_many = False  # type: ignore[attr-defined]

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        self.received = 0
        self.files += 1
        super().new_file(field_name, *args, **kwargs)
        if self.files > MAX_FILES_PER_REQUEST:
            self._mark("upload_too_many")
            raise SkipFile
        if field_name in self.seen:
            self._mark("uploads_repeated")
            raise SkipFile
        self.seen.add(field_name)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._mark("uploads_too_large")
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _mark(self, what: str) -> None:
        if self.request is None:
            return
        if what == "upload_too_many":
            self.request.upload_too_many = True  # type: ignore[attr-defined]
        else:
            getattr(self.request, what).add(self.field_name)


def file_response(request: HttpRequest, document: Any, *, inline: bool) -> FileResponse:
    """Stream a stored document to staff: audited, never cached, never sniffed.

    `inline` shows an image in the browser (preview); a PDF is always an attachment
    (download), since a PDF can carry scripts and browsers' PDF viewers do not run in a
    sandbox. Refuses a document the malware scan still holds in quarantine.
    """
    inline = inline and document.content_type != PDF
    ensure_released(document)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("The stored file is missing.") from missing
    verb = "Previewed" if inline and document.content_type != PDF else "Downloaded"
    audit.record(
        actor=request.user,
        action=audit.Action.DOWNLOAD,
        summary=f"{verb} {document.kind_label} ({document.original_name})",
        customer=document.customer,
        details={"document": document.pk, "sha256": document.sha256},
        request=request,
    )
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    if inline:
        # The browser's own image page styles itself inline: harmless in a sandbox that
        # runs no script, and without it the preview is unstyled and logs CSP errors.
        response["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
        )
    return response


def delete_files_on_commit(names: list[str]) -> None:
    """Remove stored files once the rows pointing at them are gone for good (on commit)."""

    def delete() -> None:
        storage = private_storage()
        for name in names:
            if name:
                storage.delete(name)

    transaction.on_commit(delete)


def documents_rescan(*, limit: int = 200) -> dict[str, int]:
    """Scan the quarantined documents again: release the clean, refuse the infected.

    Each outcome is audited. Returns counts by outcome; nothing happens without a scanner.
    """
    Scan = ComplianceDocument.ScanStatus
    counts = {"clean": 0, "infected": 0, "unavailable": 0}
    if not scanning.configured():
        return counts
    pending = ComplianceDocument.objects.filter(scan_status=Scan.PENDING).select_related("customer")
    for document in pending.order_by("pk")[:limit]:
        try:
            with document.file.open("rb") as stored:
                result = scanning.scan(stored.chunks())
        except scanning.ScannerUnavailable as problem:
            counts["unavailable"] += 1
            logger.warning("Document %s still quarantined: %s", document.pk, problem)
            continue
        except FileNotFoundError:
            result = scanning.ScanResult(clean=False, signature="stored file missing")
        with transaction.atomic():
            locked = ComplianceDocument.objects.select_for_update().get(pk=document.pk)
            if locked.scan_status != Scan.PENDING:
                continue
            locked.scan_status = Scan.CLEAN if result.clean else Scan.INFECTED
            locked.scan_detail = result.signature[:200]
            locked.scanned_at = timezone.now()
            locked.save(update_fields=["scan_status", "scan_detail", "scanned_at", "updated_at"])
            if not result.clean:
                delete_files_on_commit([locked.file.name])
            audit.record(
                actor=None,
                action=audit.Action.ACTION,
                summary=(
                    f"Malware scan released {locked.kind_label}"
                    if result.clean
                    else f"Malware scan found {result.signature} in {locked.kind_label}; "
                    "the file was deleted"
                ),
                customer=locked.customer,
                details={"document": locked.pk, "sha256": locked.sha256},
            )
        counts["clean" if result.clean else "infected"] += 1
    return counts
