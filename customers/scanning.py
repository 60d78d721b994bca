"""Malware scanning with ClamAV's clamd, over its INSTREAM protocol (a unix or TCP socket).

A small client of our own: the protocol is three messages (clamd(8), "INSTREAM"), and
the PyPI packages for it are unmaintained. Settings: CLAMAV_URL (tcp://host:port or
unix:///path), CLAMAV_TIMEOUT. Scanning fails closed: a file the scanner could not check
is quarantined (ComplianceDocument.ScanStatus.PENDING), never sent to BVNK nor shown,
until `documents.documents_rescan` (beat) gets an answer for it. Knows no models.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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


def scanner_address() -> tuple[int, str | tuple[str, int]]:
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
    family, address = scanner_address()
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
