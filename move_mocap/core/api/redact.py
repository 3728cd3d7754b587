"""Redaction of secrets before anything reaches a log line, an exception message or a report.

Presigned URLs carry their signature (and share links their code) in the query string, Svix portal links
carry a key in the fragment, and the API key travels in a header. Everything here is pure string work:
no network, no bpy, no logging configuration beyond the filter class callers may install.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

REDACTED = "<redacted>"
#: Characters of a text kept before any pattern runs; the rest is cut (and the cut noted).
MAX_TEXT = 10_000

# A run of text that may hold a URL or a request path: everything up to whitespace or a closing quote.
# One character class, no nesting: a single linear pass, whatever the text.
_RUN_RE = re.compile(r"""[^\s'"<>]+""")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_MAX_SCHEME = 32


@functools.lru_cache(maxsize=64)
def secret_forms(secret: str) -> tuple[str, ...]:
    """Every form in which a server may echo ``secret``, longest first: as is, URL-encoded (``+`` for spaces,
    twice; matched in any case, so ``%2f`` too), JSON- and HTML-escaped, and base64 (the part that does not depend on
    what precedes or follows it, at each of the three byte alignments, so ``Basic <base64(user:key)>`` is
    caught too). Forms shorter than 4 characters (base64: 8) are left out: they would redact ordinary text."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret, safe=""),
             quote(quote(secret, safe=""), safe=""), json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1].replace("/", "\\/"),
             html.escape(secret)}
    raw = secret.encode()
    for pad in range(3):
        for enc in (base64.b64encode, base64.urlsafe_b64encode):
            text = enc(b"\x00" * pad + raw).decode()
            middle = text[-(-8 * pad // 6):(8 * (pad + len(raw))) // 6]
            if len(middle) >= 8:
                forms.add(middle)
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))


_KNOWN: tuple[str, ...] = ()  # secrets of this process (API keys): redacted from every text, in every form
_KNOWN_LOCK = threading.Lock()


def remember_secret(secret: str | None) -> None:
    """Redact ``secret`` (in all its :func:`secret_forms`) from every text redacted from now on."""
    global _KNOWN
    if not secret or len(secret) < 4:
        return
    with _KNOWN_LOCK:
        if secret not in _KNOWN:
            _KNOWN = (*_KNOWN, secret)


@functools.lru_cache(maxsize=32)
def _secrets_pattern(secrets: tuple[str, ...]) -> tuple[re.Pattern[str] | None, int]:
    """One case-insensitive alternation of literal forms (``%2f`` and ``%2F`` alike), longest first, and the
    longest form's length. Literals only: linear in the text."""
    forms = sorted({f for s in secrets for f in secret_forms(s)}, key=len, reverse=True)
    if not forms:
        return None, 0
    return re.compile("|".join(map(re.escape, forms)), re.IGNORECASE), len(forms[0])


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
    """Redact every URL query string in free text, and every form (:func:`secret_forms`) of the given
    secrets and of those remembered with :func:`remember_secret`.

    Bounded and linear: only the first ``MAX_TEXT`` characters are kept (secrets are replaced first over a
    window reaching past the cut, so none is left half-visible), then one pass over runs of non-space text.
    """
    if not text:
        return text
    pattern, longest = _secrets_pattern(tuple(sorted({s for s in (*_KNOWN, *secrets) if s and len(s) >= 4})))
    if len(text) > MAX_TEXT:
        cut = len(text) - MAX_TEXT
        text = text[:MAX_TEXT + longest]
    else:
        cut = 0
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
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
        self._secrets: tuple[str, ...] = tuple(s for s in secrets if s)  # replaced, never mutated: thread-safe

    def add_secret(self, secret: str | None) -> None:
        if secret and secret not in self._secrets:
            self._secrets = (*self._secrets, secret)

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
    """Attach the shared redacting filter to the named loggers (idempotent) and remember ``secret`` (for
    every text this process redacts: logs, exceptions, reports)."""
    remember_secret(secret)
    _FILTER.add_secret(secret)
    for name in logger_names:
        if name not in _INSTALLED:
            logging.getLogger(name).addFilter(_FILTER)
            _INSTALLED.add(name)
    return _FILTER
