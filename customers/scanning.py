"""Malware scanning with ClamAV's clamd, over its INSTREAM protocol (a unix or TCP socket).

A small client of our own: the protocol is three messages (clamd(8), "INSTREAM"), and
the PyPI packages for it are unmaintained. Settings: CLAMAV_URL (tcp://host:port or
unix:///path), CLAMAV_TIMEOUT. Scanning fails closed: a file the scanner could not check
is quarantined (ComplianceDocument.ScanStatus.PENDING), never sent to BVNK nor shown,
until `documents_rescan` (beat) gets an answer for it.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# clamd reads a stream in chunks of at most StreamMaxLength in total; 64 KiB pieces.
_PIECE = 64 * 1024


class ScannerUnavailable(Exception):
    """clamd could not be reached, or answered with an error: the file was not checked."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    clean: bool
    signature: str = ""


def configured() -> bool:
    return bool(settings.CLAMAV_URL)


def _address() -> tuple[int, str | tuple[str, int]]:
    url = settings.CLAMAV_URL
    parts = urlsplit(url)
    if parts.scheme == "unix" and parts.path:
        return socket.AF_UNIX, parts.path
    if parts.scheme == "tcp" and parts.hostname and parts.port:
        return socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET, (
            parts.hostname,
            parts.port,
        )
    raise ImproperlyConfigured(f"CLAMAV_URL must be tcp://HOST:PORT or unix:///PATH, not {url!r}.")


def _command(command: bytes, pieces: Iterable[bytes] = ()) -> str:
    """Send one z-command (NUL-terminated) to clamd, stream `pieces`, return its reply."""
    family, address = _address()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(settings.CLAMAV_TIMEOUT)
            sock.connect(address)
            sock.sendall(b"z" + command + b"\0")
            if command == b"INSTREAM":
                for piece in pieces:
                    for start in range(0, len(piece), _PIECE):
                        part = piece[start : start + _PIECE]
                        sock.sendall(struct.pack("!L", len(part)) + part)
                sock.sendall(struct.pack("!L", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                received = sock.recv(4096)
                if not received:
                    break
                reply += received
    except OSError as problem:
        raise ScannerUnavailable(f"clamd at {settings.CLAMAV_URL}: {problem}") from problem
    return reply.rstrip(b"\0").decode("utf-8", "replace").strip()


def ping() -> bool:
    try:
        return _command(b"PING") == "PONG"
    except ScannerUnavailable:
        return False


def scan(pieces: Iterable[bytes]) -> ScanResult:
    """Scan the bytes `pieces` yields; raise ScannerUnavailable when clamd cannot say."""
    reply = _command(b"INSTREAM", pieces)
    # "stream: OK", "stream: <signature> FOUND", or "<reason> ERROR".
    if reply.endswith(" FOUND"):
        signature = reply.removeprefix("stream:").removesuffix("FOUND").strip()
        return ScanResult(clean=False, signature=signature or "unknown")
    if reply.endswith(": OK") or reply == "OK":
        return ScanResult(clean=True)
    raise ScannerUnavailable(f"clamd answered {reply[:200]!r}")


def _deleter(storage: Any, name: str) -> Callable[[], None]:
    def delete() -> None:
        storage.delete(name)

    return delete


def documents_rescan(*, limit: int = 200) -> dict[str, int]:
    """Scan the quarantined documents again: release the clean, refuse the infected.

    Each outcome is audited. Returns counts by outcome; nothing happens without a scanner.
    """
    from . import audit
    from .models import ComplianceDocument

    Scan = ComplianceDocument.ScanStatus
    counts = {"clean": 0, "infected": 0, "unavailable": 0}
    if not configured():
        return counts
    pending = ComplianceDocument.objects.filter(scan_status=Scan.PENDING).select_related("customer")
    for document in pending.order_by("pk")[:limit]:
        try:
            with document.file.open("rb") as stored:
                result = scan(stored.chunks())
        except ScannerUnavailable as problem:
            counts["unavailable"] += 1
            logger.warning("Document %s still quarantined: %s", document.pk, problem)
            continue
        except FileNotFoundError:
            result = ScanResult(clean=False, signature="stored file missing")
        with transaction.atomic():
            locked = ComplianceDocument.objects.select_for_update().get(pk=document.pk)
            if locked.scan_status != Scan.PENDING:
                continue
            locked.scan_status = Scan.CLEAN if result.clean else Scan.INFECTED
            locked.scan_detail = result.signature[:200]
            locked.scanned_at = timezone.now()
            locked.save(update_fields=["scan_status", "scan_detail", "scanned_at", "updated_at"])
            if not result.clean:
                transaction.on_commit(_deleter(locked.file.storage, locked.file.name))
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
