"""Failure messages fit for the client: no absolute path of the engine's machine, bounded length. No I/O.

A solver, a writer or Python itself may put paths in an exception (``[Errno 2] No such file: '/srv/data/..'``);
the client learns the file's name, never where the engine keeps it. Linear-time patterns only.
"""

from __future__ import annotations

import re

MAX_MESSAGE = 2000
# A POSIX absolute path (two or more components) or a Windows drive path, up to a quote, space or bracket.
_POSIX = re.compile(r"(?<![\w.~:/-])/(?:[^\s/'\"()<>\[\]]+/)+([^\s/'\"()<>\[\],;:]*)")
_WINDOWS = re.compile(r"\b[A-Za-z]:[\\/](?:[^\s\\/'\"()<>\[\]]+[\\/])*([^\s\\/'\"()<>\[\],;:]*)")


def public_message(text: str) -> str:
    """``text`` with each absolute path replaced by its last component, cut to MAX_MESSAGE characters."""
    text = text[: MAX_MESSAGE * 2]
    text = _WINDOWS.sub(lambda m: m.group(1) or "<path>", text)
    text = _POSIX.sub(lambda m: m.group(1) or "<path>", text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
