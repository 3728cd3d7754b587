"""Redaction is bounded and linear: a huge or pathological server message cannot stall Blender.

The inputs that made the old patterns quadratic (long runs of scheme characters without ``://``, long runs of
``/`` without ``?``) and a 20 MB message are redacted in a child process under a generous wall-clock bound
(seconds, where the old patterns needed minutes or never finished); the results are checked for content. Speed
figures live in ``scripts/bench.py redact``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from move_mocap.core.api.redact import MAX_TEXT, REDACTED, redact_text

ROOT = Path(__file__).resolve().parents[2]
SIG = "c2lnbmF0dXJlLXNlY3JldA0123"

CHILD = r"""
import json, sys
from move_mocap.core.api.redact import redact_text
SIG = sys.argv[1]
cases = {
    "scheme_run": "a" * 80_000,
    "scheme_run_then_url": "a+b." * 20_000 + f"://h/p?sig={SIG}",
    "slash_run": "/" * 80_000,
    "slash_words": "x /a" * 20_000,
    "question_run": "/?" * 40_000,
    "huge": f"error at https://h/p?X-Amz-Signature={SIG} " + "y" * (20 << 20),
    "huge_spaces": (f"/p?sig={SIG} " * 10) + "z " * (10 << 20),
}
out = {name: redact_text(text, ["never-present-secret"]) for name, text in cases.items()}
print(json.dumps(out))
"""


def test_pathological_and_huge_messages_are_redacted_quickly_and_correctly() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, SIG], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # generous: the old patterns took 11 s per 80 KB case, the 20 MB forever
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name, text in out.items():
        assert len(text) <= MAX_TEXT + 60, (name, len(text))
        assert SIG not in text, name
    assert out["huge"].startswith(f"error at https://h/p?X-Amz-Signature={REDACTED} yyy")
    huge_len = len(f"error at https://h/p?X-Amz-Signature={SIG} ") + (20 << 20)
    assert out["huge"].endswith(f"y [... {huge_len - MAX_TEXT} more characters cut]")
    assert out["huge_spaces"].startswith(f"/p?{REDACTED} /p?{REDACTED} ")
    assert out["scheme_run"] == "a" * MAX_TEXT + f" [... {80_000 - MAX_TEXT} more characters cut]"
    assert out["slash_run"].startswith("/" * MAX_TEXT)


def test_a_secret_straddling_the_cut_is_not_left_half_visible() -> None:
    secret = "sk-0123456789abcdefghij"
    for shift in range(len(secret) + 1):
        text = "x" * (MAX_TEXT - shift) + secret + "y" * 50
        out = redact_text(text, [secret])
        assert secret[:4] not in out.replace(REDACTED, ""), shift


def test_short_text_is_unchanged_but_for_queries() -> None:
    assert redact_text("plain words, no links") == "plain words, no links"
    assert redact_text("see=/a?b=1#frag /c?d=2") == f"see=/a?{REDACTED}#frag /c?{REDACTED}"
    assert redact_text("abc/def?x=1") == "abc/def?x=1"  # not a path: follows a word
    once = redact_text(f"GET https://h/p?X-Amz-Signature={SIG}&y=2 x")
    assert once == redact_text(once) == f"GET https://h/p?X-Amz-Signature={REDACTED}&y={REDACTED} x"
