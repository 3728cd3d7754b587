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
#: Characters of a text kept before any pattern runs; the rest is cut (and the cut noted).
MAX_TEXT = 10_000

# A run of text that may hold a URL or a request path: everything up to whitespace or a closing quote.
# One character class, no nesting: a single linear pass, whatever the text.
_RUN_RE = re.compile(r"""[^\s'"<>]+""")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_MAX_SCHEME = 32


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
    """Redact every URL query string in free text, and every occurrence of the given secrets.

    Bounded and linear: only the first ``MAX_TEXT`` characters are kept (secrets are replaced first over a
    window reaching past the cut, so none is left half-visible), then one pass over runs of non-space text.
    """
    if not text:
        return text
    known = [s for s in secrets if s and len(s) >= 4]
    longest = max((len(s) for s in known), default=0)
    if len(text) > MAX_TEXT:
        cut = len(text) - MAX_TEXT
        text = text[:MAX_TEXT + longest]
    else:
        cut = 0
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if cut:
        text = f"{text[:MAX_TEXT]} [... {cut} more characters cut]"
    # Idempotent: text redacted before (messages are redacted again when they become exceptions) keeps its
    # "name=<redacted>" pairs; the marker is swapped for a token treated as part of the URL.
    text = text.replace(REDACTED, _TOKEN)
    text = _RUN_RE.sub(_redact_run, text)
    return text.replace(_TOKEN, REDACTED)


_TOKEN = "\x00redacted\x00"


def _redact_run(m: re.Match[str]) -> str:
    """One run of non-space text: from its first ``scheme://`` on, a URL; else each ``/path?query``."""
    run = m.group(0)
    sep = run.find("://")
    if sep > 0:
        start = sep
        while start > 0 and sep - start < _MAX_SCHEME and run[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < sep and not run[start].isalpha():
            start += 1
        if start < sep:
            return run[:start] + redact_url(run[start:]).replace(REDACTED, _TOKEN)
    return _redact_path_queries(run)


def _redact_path_queries(run: str) -> str:
    """``/path?query`` (a path starting after a non-alphanumeric) -> ``/path?<redacted>``, as urllib3 logs
    request lines; queries whose values are all redacted already stay as they are."""
    out: list[str] = []
    pos = 0
    while True:
        q = run.find("?", pos)
        if q < 0:
            break
        slash = run.find("/", pos, q)
        while slash > 0 and (run[slash - 1].isascii() and run[slash - 1].isalnum()):
            slash = run.find("/", slash + 1, q)
        end = run.find("#", q)
        end = len(run) if end < 0 else end
        if slash < 0 or end == q + 1:
            out.append(run[pos:end])
            pos = end
            if end >= len(run):
                break
            continue
        pairs = [pair.partition("=") for pair in run[q + 1:end].split("&")]
        if all(value == _TOKEN for _, _, value in pairs):
            out.append(run[pos:end])
        else:
            out.append(f"{run[pos:q]}?{_TOKEN}")
        pos = end
    out.append(run[pos:])
    return "".join(out)


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
