"""Hawk request signing exactly as BVNK checks it.

Header mode, HMAC-SHA256 over the nine-line normalized string, no payload hash. The MAC
key is the UTF-8 bytes of the secret as issued (it is not base64-decoded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}
# Hawk header attribute values may not carry quotes, backslashes or control characters.
_SAFE_ATTRIBUTE = re.compile(r"^[ \w!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~]*$")


def normalized_string(method: str, url: str, *, ts: int, nonce: str, ext: str = "") -> str:
    """Return the Hawk normalized string for a request to `url`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"Hawk needs an absolute http(s) URL, got {url!r}")
    port = parts.port or _DEFAULT_PORTS[scheme]
    resource = parts.path or "/"
    if parts.query:
        resource = f"{resource}?{parts.query}"
    lines = [
        "hawk.1.header",
        str(ts),
        nonce,
        method.upper(),
        resource,
        parts.hostname.lower(),  # urlsplit drops the port and any userinfo here.
        str(port),
        "",  # Payload hash: BVNK does not validate payloads.
        ext,
    ]
    return "\n".join(lines) + "\n"


def mac(secret: str, normalized: str) -> str:
    """Return the standard Base64 HMAC-SHA256 of `normalized` keyed by the secret's UTF-8."""
    digest = hmac.new(secret.encode("utf-8"), normalized.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def hawk_header(
    method: str,
    url: str,
    *,
    auth_id: str,
    secret: str,
    ts: int | None = None,
    nonce: str | None = None,
    ext: str = "",
) -> str:
    """Build the `Authorization` header value for one request.

    `url` must be the URL actually sent (after any encoding), because BVNK recomputes the
    MAC from the path, query, host and port it receives. A fresh nonce is drawn on every
    call unless one is given (tests only).
    """
    if ts is None:
        ts = int(time.time())
    if nonce is None:
        nonce = secrets.token_hex(6)
    for name, value in (("id", auth_id), ("nonce", nonce), ("ext", ext)):
        if not _SAFE_ATTRIBUTE.match(value):
            raise ValueError(f"Hawk {name} contains characters a header cannot carry")
    signature = mac(secret, normalized_string(method, url, ts=ts, nonce=nonce, ext=ext))
    header = f'Hawk id="{auth_id}", ts="{ts}", nonce="{nonce}"'
    if ext:
        header += f', ext="{ext}"'
    return f'{header}, mac="{signature}"'
