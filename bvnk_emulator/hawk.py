"""Hawk request authentication exactly as BVNK uses it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

# The Hawk library default; BVNK does not publish its tolerance.
CLOCK_SKEW_SECONDS = 60
# BVNK's older docs: a nonce repeated within 15 minutes is rejected.
NONCE_WINDOW_SECONDS = 15 * 60

_ATTRIBUTE = re.compile(r'(\w+)="([^"\\]*)"\s*(?:,\s*|$)')
_KNOWN_ATTRIBUTES = {"id", "ts", "nonce", "mac", "hash", "ext", "app", "dlg"}


class HawkError(Exception):
    """The request's Hawk credentials are missing or wrong."""

    def __init__(self, message: str, *, stale_ts: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stale_ts = stale_ts


@dataclass(frozen=True)
class HawkHeader:
    """The parsed attributes of an `Authorization: Hawk ...` header."""

    id: str
    ts: str
    nonce: str
    mac: str
    hash: str = ""
    ext: str = ""


def normalized_string(
    *,
    ts: str | int,
    nonce: str,
    method: str,
    resource: str,
    host: str,
    port: int | str,
    payload_hash: str = "",
    ext: str = "",
) -> str:
    """Return Hawk's nine-line normalized request string."""
    lines = [
        "hawk.1.header",
        str(ts),
        nonce,
        method.upper(),
        resource,
        host.lower(),
        str(port),
        payload_hash,
        ext,
    ]
    return "\n".join(lines) + "\n"


def compute_mac(
    secret: str,
    *,
    ts: str | int,
    nonce: str,
    method: str,
    resource: str,
    host: str,
    port: int | str,
    payload_hash: str = "",
    ext: str = "",
) -> str:
    """Return the Base64 HMAC-SHA256 of the normalized string, keyed by the raw secret."""
    message = normalized_string(
        ts=ts,
        nonce=nonce,
        method=method,
        resource=resource,
        host=host,
        port=port,
        payload_hash=payload_hash,
        ext=ext,
    )
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def build_header(
    auth_id: str,
    secret: str,
    *,
    method: str,
    resource: str,
    host: str,
    port: int,
    ts: int,
    nonce: str,
) -> str:
    """Return an Authorization header value in BVNK's attribute order."""
    mac = compute_mac(
        secret, ts=ts, nonce=nonce, method=method, resource=resource, host=host, port=port
    )
    return f'Hawk id="{auth_id}", ts="{ts}", nonce="{nonce}", mac="{mac}"'


def parse_header(value: str | None) -> HawkHeader:
    """Parse an Authorization header or raise HawkError."""
    if not value:
        raise HawkError("Missing Authorization header")
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "hawk" or not rest.strip():
        raise HawkError("Authorization scheme must be Hawk")
    rest = rest.strip()
    attributes: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _ATTRIBUTE.match(rest, position)
        if not match:
            raise HawkError("Malformed Hawk header")
        name, attr_value = match.groups()
        if name not in _KNOWN_ATTRIBUTES or name in attributes:
            raise HawkError(f"Unexpected Hawk attribute: {name}")
        attributes[name] = attr_value
        position = match.end()
    missing = [name for name in ("id", "ts", "nonce", "mac") if not attributes.get(name)]
    if missing:
        raise HawkError(f"Missing Hawk attributes: {', '.join(missing)}")
    if not attributes["ts"].isdigit():
        raise HawkError("Invalid Hawk timestamp")
    return HawkHeader(
        id=attributes["id"],
        ts=attributes["ts"],
        nonce=attributes["nonce"],
        mac=attributes["mac"],
        hash=attributes.get("hash", ""),
        ext=attributes.get("ext", ""),
    )


def split_host(host_header: str, scheme: str) -> tuple[str, int]:
    """Split a Host header into host and port, defaulting the port by scheme."""
    host_header = host_header.strip()
    default = 443 if scheme == "https" else 80
    if host_header.startswith("["):  # IPv6 literal
        host, _, rest = host_header[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = host_header.partition(":")
    port = int(port_text) if port_text.isdigit() else default
    return host.lower(), port


class NonceCache:
    """Remember nonces per credential id for the replay window."""

    def __init__(self, window: float = NONCE_WINDOW_SECONDS) -> None:
        self._window = window
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def check_and_store(self, auth_id: str, nonce: str, now: float) -> bool:
        """Record the nonce; return False when it was already used within the window."""
        with self._lock:
            if now >= self._next_sweep:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                self._next_sweep = now + 60
            key = (auth_id, nonce)
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + self._window
            return True

    def clear(self) -> None:
        """Forget every nonce."""
        with self._lock:
            self._seen.clear()


def verify(
    header_value: str | None,
    *,
    method: str,
    resource: str,
    host: str,
    port: int,
    credentials: Mapping[str, str],
    nonces: NonceCache,
    now: float | None = None,
) -> str:
    """Verify a Hawk header and return the credential id, or raise HawkError."""
    header = parse_header(header_value)
    secret = credentials.get(header.id)
    if secret is None:
        raise HawkError("Unknown credentials")
    expected = compute_mac(
        secret,
        ts=header.ts,
        nonce=header.nonce,
        method=method,
        resource=resource,
        host=host,
        port=port,
        payload_hash=header.hash,
        ext=header.ext,
    )
    if not hmac.compare_digest(expected.encode(), header.mac.encode()):
        raise HawkError("Bad mac")
    now = time.time() if now is None else now
    if abs(now - int(header.ts)) > CLOCK_SKEW_SECONDS:
        raise HawkError("Stale timestamp", stale_ts=int(now))
    # Only a request with a valid MAC may burn a nonce, or anyone could block one.
    if not nonces.check_and_store(header.id, header.nonce, now):
        raise HawkError("Invalid nonce")
    return header.id
