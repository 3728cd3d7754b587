"""Server text reaches the user bounded and redacted: History's job names and errors from a hostile
``listJobs`` (megabytes long, carrying a presigned URL and the API key) through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from move_mocap.core.api.redact import MAX_TEXT
from move_mocap.core.pipeline import CaptureChoices, HistoryLoaded, Journal, Pipeline
from tests.api_client.httpstub import StubServer
from tests.pipeline.helpers import factory, fast_config

KEY = "mv-hostile-KEY+/=0123456789"
SIG = "c2lnbmF0dXJlLXNlY3JldA0123"


def test_history_names_and_errors_are_bounded_and_redacted(tmp_path: Path) -> None:
    url = f"https://bucket.example/out.fbx?X-Amz-Signature={SIG}"
    job = {"id": "job-1", "name": f"{KEY} {url} " + "n" * 300_000, "metadata": json.dumps(
        {"error": f"failed for key {KEY}: fetched {url} " + "e" * (2 << 20)}),
        "progress": {"state": "FAILED", "percentageComplete": 3}}
    with StubServer() as stub:
        def handler(payload: dict[str, Any], headers: dict[str, str]):
            return 200, {}, json.dumps({"data": {"listJobs": {"items": [job], "after": None}}}).encode()

        stub.state.graphql_handler = handler
        server = type("S", (), {"api_key": KEY, "url": stub.url("/graphql")})()
        config = fast_config(server.url, tmp_path / "downloads")
        config.secrets = (KEY,)
        pipeline = Pipeline(Journal(tmp_path / "j.sqlite3"), factory(server), config)
        pipeline.load_history().join(30)
        (hist,) = [e for e in pipeline.drain() if isinstance(e, HistoryLoaded)]
    assert not hist.error, hist.error
    (item,) = hist.jobs
    for field in ("name", "error"):
        text = item[field]
        assert KEY not in text and SIG not in text, field
        assert len(text) <= MAX_TEXT + 60, (field, len(text))
    assert item["error"].startswith("failed for key <redacted>: fetched https://bucket.example/out.fbx?")


def test_lenses_and_volumes_are_checked_bounded_and_redacted(tmp_path: Path) -> None:
    """A hostile listCameraSettings / listVolumes: lens names with path or control characters, ids that are
    not ids, names and failure reasons megabytes long carrying the key: only checked values reach the panel."""
    volumes = [
        {"id": "vol-ok_1", "name": f"{KEY} " + "v" * 100_000, "humanHeight": 1.7,
         "metadata": json.dumps({"error": f"key {KEY} " + "r" * (1 << 20)}),
         "progress": {"state": "FAILED", "percentageComplete": 100}},
        {"id": "../../etc/passwd", "name": "escape", "progress": {"state": "FINISHED"}},
        {"id": "x" * 129, "name": "too long", "progress": {"state": "FINISHED"}},
        {"id": "vol-2", "name": "fine", "progress": {"state": "FINISHED", "percentageComplete": 100}},
    ]
    lenses = [{"lens": "iphone-main-wide"}, {"lens": "../lens"}, {"lens": "a\nb"}, {"lens": "l" * 65},
              {"lens": "blackmagic ursa (24mm)"}]
    with StubServer() as stub:
        def handler(payload: dict[str, Any], headers: dict[str, str]):
            query = payload.get("query", "")
            if "listCameraSettings" in query:
                data = {"listCameraSettings": {"items": lenses, "after": None}}
            else:
                data = {"listVolumes": {"items": [{"__typename": "HumanVolume", **v} for v in volumes],
                                        "after": None}}
            return 200, {}, json.dumps({"data": data}).encode()

        stub.state.graphql_handler = handler
        server = type("S", (), {"api_key": KEY, "url": stub.url("/graphql")})()
        config = fast_config(server.url, tmp_path / "downloads")
        config.secrets = (KEY,)
        pipeline = Pipeline(Journal(tmp_path / "j.sqlite3"), factory(server), config)
        pipeline.load_capture_choices().join(30)
        (choices,) = [e for e in pipeline.drain() if isinstance(e, CaptureChoices)]
    assert not choices.error, choices.error
    assert choices.lenses == ("blackmagic ursa (24mm)", "iphone-main-wide")
    assert [v["id"] for v in choices.volumes] == ["vol-ok_1", "vol-2"]
    bad = choices.volumes[0]
    assert bad["state"] == "FAILED" and bad["human_height"] == 1.7
    for field in ("name", "reason"):
        assert KEY not in bad[field] and len(bad[field]) <= 400, field
    assert bad["reason"].startswith("key <redacted> rrr")
