"""Presigned storage URLs, in the manner of S3's: an HMAC over method, object and expiry. No HTTP here.

A URL looks like ``{base}/ugc/storage/{file_id}?X-Move-Method=GET&X-Move-Expires=1700000000&X-Move-Signature=hex``.
It allows exactly one method on one object until the expiry (unix seconds). Anything changed in it, or a
late use, makes :func:`verify` return a reason for a 403.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

STORAGE_PREFIX = "/ugc/storage/"


def _signature(key: bytes, method: str, file_id: str, expires: int) -> str:
    msg = f"{method.upper()}\n{file_id}\n{expires}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def presign(key: bytes, base_url: str, method: str, file_id: str, expires_in: float, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + expires_in)
    query = urlencode(
        {
            "X-Move-Method": method.upper(),
            "X-Move-Expires": str(expires),
            "X-Move-Signature": _signature(key, method, file_id, expires),
        }
    )
    return f"{base_url.rstrip('/')}{STORAGE_PREFIX}{file_id}?{query}"


def verify(key: bytes, method: str, file_id: str, params: dict[str, str], now: float | None = None) -> str | None:
    """None when the URL is valid for ``method`` now; otherwise the reason it is refused."""
    try:
        signed_method = params["X-Move-Method"]
        expires = int(params["X-Move-Expires"])
        signature = params["X-Move-Signature"]
    except (KeyError, ValueError):
        return "Request is not signed"
    if not (signed_method.isascii() and signature.isascii()):
        return "SignatureDoesNotMatch"  # compare_digest takes ASCII strings only; no valid signature is other
    if signed_method.upper() != method.upper():
        return "Signature does not allow this method"
    expected = _signature(key, signed_method, file_id, expires)
    if not hmac.compare_digest(expected, signature):
        return "SignatureDoesNotMatch"
    if (time.time() if now is None else now) > expires:
        return "Request has expired"
    return None
