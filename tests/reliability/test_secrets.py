"""No secret at rest: after full runs through the add-on (a failed upload resumed with Retry, an expired
download URL refreshed, a failure message, an apply, a saved .blend), neither the API key nor any presigned
URL signature the server issued is in the saved .blend, the journal (and its WAL), the downloads, the log
or the JSON report. Signatures are collected on the wire, independently of the client."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from tests.reliability.conftest import SIGNATURE_RE
from tests.workflow.conftest import add_footage


def _files(*roots: Path) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
        elif root.is_dir():
            out += [p for p in root.rglob("*") if p.is_file()]
    return out


def _leaks(files: list[Path], secrets: set[str]) -> list[str]:
    found = []
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            if secret.encode() in data:
                found.append(f"{path.name}: {secret[:6]}...")
        if SIGNATURE_RE.search(data.decode("latin-1")):
            found.append(f"{path.name}: an X-Move-Signature")
    return found


def test_no_key_and_no_signature_at_rest(wired, demo_video, tmp_path, signature_recorder) -> None:
    bpy, runtime, server = wired
    from move_mocap.paths import user_dir

    user = user_dir()
    log_path = user / "move_mocap.log"
    handler = logging.FileHandler(log_path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    events: list[object] = []
    runtime.RUNTIME.on_event = events.append
    try:
        add_footage(bpy, demo_video)
        # 1. the upload fails for good, then Retry resumes it (the old journal held the upload URL here)
        server.set_faults([{"route": "upload", "kind": "status", "status": 500, "count": -1}])
        try:
            bpy.ops.move_mocap.process()
        except RuntimeError as exc:
            assert "Upload failed" in str(exc)
        (row,) = runtime.RUNTIME.journal().all()
        assert row.state.value == "failed"
        mid_run = _leaks(_files(user), {server.api_key} | signature_recorder.signatures)
        assert not mid_run, mid_run
        # 2. Retry; the first download URL is refused as expired and refreshed
        server.set_faults([{"route": "download", "kind": "expire_url", "count": 1}])
        assert bpy.ops.move_mocap.retry(submission_id=row.id) == {"FINISHED"}
        row = runtime.RUNTIME.journal().require(row.id)
        assert row.state.value == "done", row.error_message
        assert server.fault_report()["faults"][0]["hits"] == 1
        # 3. a second submission whose download keeps failing: a message mentioning the URL (redacted)
        server.set_faults([{"route": "download", "kind": "status", "status": 403, "count": -1}])
        try:
            bpy.ops.move_mocap.process()
        except RuntimeError as exc:
            assert "Download failed" in str(exc)
        server.clear_faults()
        blend = tmp_path / "scene with result.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=False)
    finally:
        runtime.RUNTIME.on_event = None
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    report = user / "report.json"
    report.write_text(json.dumps({"events": [{"type": type(e).__name__, **asdict(e)} for e in events],
                                  "rows": [{"id": r.id, "state": r.state.value, "error": r.error_message,
                                            "hint": r.error_hint, "outputs": r.outputs}
                                           for r in runtime.RUNTIME.journal().all()]}, default=str))
    runtime.RUNTIME.shutdown()  # close the journal: its WAL is checked as it is left on disk

    secrets = {server.api_key} | signature_recorder.signatures
    # the recorder saw the signatures of every URL used: create (PUT), downloads (GET), refreshed ones
    assert len(signature_recorder.signatures) >= 4, signature_recorder.signatures
    downloads = tmp_path / "downloads"
    files = _files(user, downloads, blend, log_path, report)
    names = {p.name for p in files}
    assert {"journal.sqlite3", "move_mocap.log", "report.json", blend.name} <= names
    assert any(p.suffix == ".json" and p.parent.parent == downloads for p in files)  # the MOTION_DATA
    assert log_path.stat().st_size > 0 and "Uploading" in report.read_text()
    assert _leaks(files, secrets) == []
    # the check itself finds what it looks for
    planted = tmp_path / "planted.txt"
    planted.write_text(f"key={server.api_key} url=?X-Move-Signature={next(iter(signature_recorder.signatures))}")
    assert len(_leaks([planted], secrets)) == 3


def test_redacted_messages_stay_readable_when_redacted_again() -> None:
    """Errors redact their message when built and again when stored: the result must still read as a URL
    with named parameters (it used to turn into ``file-1<redacted><redacted>...``) and leak nothing."""
    from move_mocap.core.api.redact import redact_text, redact_url

    sig = "9f" * 32
    url = f"http://127.0.0.1:8765/ugc/storage/file-1?X-Move-Method=GET&X-Move-Expires=1700000000&X-Move-Signature={sig}"
    once = redact_text(f"Downloading a.json from {redact_url(url)} failed; urllib3 said \"GET /ugc/x?sig={sig} HTTP/1.1\"")
    assert redact_text(once) == once == (
        "Downloading a.json from http://127.0.0.1:8765/ugc/storage/file-1?X-Move-Method=<redacted>&"
        "X-Move-Expires=<redacted>&X-Move-Signature=<redacted> failed; urllib3 said \"GET /ugc/x?<redacted> HTTP/1.1\"")
    assert sig not in redact_text(f"{once} and again {url}")
