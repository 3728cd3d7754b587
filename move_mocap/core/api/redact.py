"""Redaction of secrets before anything reaches a log line, an exception message or a report.

Presigned URLs carry their signature (and share links their code) in the query string, Svix portal links
carry a key in the fragment, and the API key travels in a header. Everything here is pure string work:
no network, no bpy, no logging configuration beyond the filter class callers may install.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

REDACTED = "<redacted>"

# Any URL with a scheme; stops at whitespace and characters that usually close a quoted URL.
_URL_RE = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+""")
# A request line or path with a query string, as urllib3 logs it: "PUT /bucket/key?X-Amz-...=... HTTP/1.1".
_PATH_QUERY_RE = re.compile(r"""(?<![A-Za-z0-9])(/[^\s'"<>?]*)\?([^\s'"<>#]+)""")


def redact_url(url: str) -> str:
    """Return ``url`` with every query value and any fragment replaced by ``<redacted>``.

    Parameter names are kept (``X-Amz-Expires=<redacted>``) so a log still says what kind of link it was.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "&".join(f"{name}={REDACTED}" for name, _ in pairs) if pairs else REDACTED
    fragment = REDACTED if parts.fragment else ""
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Redact every URL query string in free text, and every occurrence of the given secrets."""
    if not text:
        return text
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    # Idempotent: text redacted before (messages are redacted again when they become exceptions) keeps its
    # "name=<redacted>" pairs; the marker is swapped for a token the patterns treat as part of the URL.
    text = text.replace(REDACTED, _TOKEN)
    text = _URL_RE.sub(lambda m: redact_url(m.group(0)).replace(REDACTED, _TOKEN), text)
    text = _PATH_QUERY_RE.sub(_redact_path_query, text)
    return text.replace(_TOKEN, REDACTED)


_TOKEN = "\x00redacted\x00"


def _redact_path_query(m: re.Match[str]) -> str:
    pairs = [pair.partition("=") for pair in m.group(2).split("&")]
    if all(value == _TOKEN for _, _, value in pairs):
        return m.group(0)  # already redacted
    return f"{m.group(1)}?{_TOKEN}"


def mask_key(key: str | None) -> str:
    """A printable stand-in for an API key: says only that one is set, and its length."""
    if not key:
        return "<no key>"
    return f"<key set ({len(key)} chars)>"


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites records so they carry no presigned signature and no known secret.

    Installed by the client on its own logger and on urllib3's connection-pool logger (which logs request
    paths with their query strings at DEBUG level).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s}

    def add_secret(self, secret: str | None) -> None:
        if secret:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return True
        cleaned = redact_text(message, self._secrets)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


_FILTER = RedactingFilter()
_INSTALLED: set[str] = set()


def install_log_redaction(secret: str | None = None, logger_names: Iterable[str] = ()) -> RedactingFilter:
    """Attach the shared redacting filter to the named loggers (idempotent) and remember ``secret``."""
    _FILTER.add_secret(secret)
    for name in logger_names:
        if name not in _INSTALLED:
            logging.getLogger(name).addFilter(_FILTER)
            _INSTALLED.add(name)
    return _FILTER
