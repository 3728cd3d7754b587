"""The hostile-server case table: one list of cases, each a server behaviour and the expected outcome.

Used by tests/hostile/test_hostile_server.py (one test per case) and by ``scripts/bench.py hostile`` (the
whole table, one JSON line). ``needs`` names work that lives elsewhere (path validation of server names,
bounded redaction of echoed keys, archive caps, .blend cleaning: the ``hostile-paths`` change); such cases
stay in the table and fail until that change is in. Test-only code.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.hostile.server import Behaviour

PATHS = "hostile-paths"  # validation of server names as paths, redaction of echoes, archive caps


@dataclass(frozen=True)
class Case:
    name: str
    behaviour: Callable[[], Behaviour]
    expect: str                     # "ready", "cancelled" or "failed:<stage>" (the stage the failure names)
    cancel_at: str = ""             # cancel once the pipeline reports progress of this stage
    via: tuple[str, ...] = ("pipeline",)   # "pipeline": the add-on's Pipeline; "mocap": scripts/mocap.py
    needs: str = ""                 # work this case depends on (see module docstring)
    message_has: tuple[str, ...] = ()  # words the failure message must contain (the problem named)
    limits: dict[str, Any] = field(default_factory=dict)  # client limits overriding the harness's
    seconds_max: float | None = None  # bounded work: the case must end within this (generous) time
    watch: tuple[str, ...] = ()     # absolute paths the server aims at, which must not appear


def _zip(members: dict[str, bytes], *, symlinks: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in symlinks:
                info.external_attr = (0o120777 << 16)
            zf.writestr(info, data)
    return buf.getvalue()


def _bomb() -> bytes:
    return _zip({f"part{i}.json": b" " * (200 * 1024 * 1024) for i in range(2)})


def _out(key: str = "MOTION_DATA", fmt: str = "bvh", name: str = "motion.bvh") -> list[dict[str, Any]]:
    return [{"key": key, "format": fmt, "name": name}]


B = Behaviour
CASES: list[Case] = [
    # --- a well-behaved server (the baseline the benchmark compares with)
    Case("plain", B, "ready"),
    # --- creates whose answer comes late (item 3): never a second job
    Case("create_answers_after_timeout", lambda: B(create_delay={"createSingleCamJob": 1.5}), "ready"),
    Case("take_create_answers_after_timeout", lambda: B(create_delay={"createSingleCamTake": 1.5}), "ready"),
    # --- slow, trickled, huge answers (item 6): deadlines and cancel
    Case("trickled_getjob_answer", lambda: B(trickle={"getJob": 0.05}), "failed:processed",
         message_has=("timed out",)),
    Case("trickled_download", lambda: B(trickle={"download": 0.02}), "failed:downloaded",
         message_has=("too slowly",)),
    Case("cancel_during_upload", lambda: B(trickle={"upload": 0.01}), "cancelled", cancel_at="upload",
         limits={"transfer_deadline": 60.0}),
    Case("cancel_during_take_create", lambda: B(trickle={"createSingleCamTake": 0.2}), "cancelled",
         cancel_at="take", limits={"request_deadline": 60.0}),
    Case("cancel_during_polling", lambda: B(trickle={"getJob": 0.2}), "cancelled", cancel_at="processing",
         limits={"request_deadline": 60.0}),
    Case("cancel_during_download", lambda: B(trickle={"download": 0.01}), "cancelled", cancel_at="download",
         limits={"transfer_deadline": 60.0}),
    Case("endless_running_then_cancel", lambda: B(states=["RUNNING"]), "cancelled", cancel_at="processing"),
    Case("huge_graphql_answer", lambda: B(graphql_raw={"getJob": (200, {}, b'{"data":{"getJob":{"id":"'
                                                                   + b"x" * (20 * 1024 * 1024) + b'"}}}')}),
         "failed:processed", message_has=("more than",)),
    Case("deeply_nested_json", lambda: B(graphql_raw={"getJob": (200, {}, b"[" * 200_000 + b"]" * 200_000)}),
         "failed:processed", message_has=("not JSON",)),
    # --- Retry-After (item 9): parsed safely, capped, never past the deadline
    *[Case(f"retry_after_{label}", (lambda v=value: B(graphql_raw={"getJob": (429, {"Retry-After": v}, b"{}")},
                                                      raw_count={"getJob": 1})), "ready")
      for label, value in (("huge", "999999999"), ("inf", "inf"), ("nan", "nan"), ("negative", "-5"),
                           ("date_past", "Wed, 21 Oct 2015 07:28:00 GMT"),
                           ("date_future", "Fri, 01 Jan 2100 00:00:00 GMT"), ("garbage", "soon\u2122"))],
    # --- redirects (item 9)
    Case("download_redirect_other_host", lambda: B(redirect_download="http://127.0.0.2:9/out/x?redirected=1"),
         "failed:downloaded", message_has=("another host",)),
    Case("download_redirect_link_local", lambda: B(redirect_download="http://169.254.169.254/latest/meta-data"),
         "failed:downloaded", message_has=("link-local",)),
    Case("output_url_link_local", lambda: B(outputs=[{"key": "MOTION_DATA", "format": "bvh",
                                                      "url": "http://169.254.169.254/latest/meta-data"}]),
         "failed:downloaded", message_has=("link-local",)),
    Case("graphql_redirect", lambda: B(graphql_raw={"getJob": (307, {"Location": "http://169.254.169.254/"},
                                                               b"")}), "failed:processed",
         message_has=("redirect",)),
    # --- sizes (item 9)
    Case("download_short_body", lambda: B(output_body=b"HIERARCHY\n" * 100, output_length=10_000),
         "failed:downloaded"),
    Case("download_over_size_cap", lambda: B(output_length=64 * 1024 * 1024), "failed:downloaded",
         message_has=("more than",)),
    # --- job states
    Case("states_go_backwards", lambda: B(states=["RUNNING", "NOT_STARTED", "RUNNING", "FINISHED"]), "ready"),
    Case("job_fails_echoing_the_key", lambda: B(states=["FAILED"], job_error="bad footage",
                                                echo_key_in_errors=True), "failed:processed"),
    # --- names from the server that would become paths (hostile-paths)
    Case("job_id_traversal", lambda: B(job_id="../../escaped"), "failed:downloaded", needs=PATHS),
    Case("job_id_absolute", lambda: B(job_id="/tmp/move-mocap-hostile-abs"), "failed:downloaded", needs=PATHS,
         watch=("/tmp/move-mocap-hostile-abs",)),
    Case("output_key_traversal", lambda: B(outputs=_out(key="../../../evil")), "failed:downloaded", needs=PATHS),
    Case("output_format_traversal", lambda: B(outputs=_out(fmt="bvh/../../../../startup.py")),
         "failed:downloaded", needs=PATHS),
    Case("error_echoes_url_encoded_key", lambda: B(graphql_raw={"getJob": (
        200, {}, b'{"errors":[{"errorType":"BadRequest","message":"key hostile-test-key%2D6f1d2c9a8b7e4f30 '
                 b'and hostile-test-key-6f1d2c9a8b7e4f30"}]}')}), "failed:processed", needs=PATHS),
    Case("huge_error_message", lambda: B(graphql_raw={"getJob": (200, {}, b'{"errors":[{"message":"'
                                                                  + b"http://a/" * 8_000 + b'"}]}')}),
         "failed:processed", needs=PATHS, seconds_max=10.0),
    # --- crafted outputs, applied by scripts/mocap.py (hostile-paths for archives and .blend)
    Case("truncated_bvh", lambda: B(output_body=b"HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0"), "failed:applied",
         via=("mocap",)),
    Case("zip_slip_motion_data", lambda: B(outputs=_out(fmt="zip", name="m.zip"),
                                           output_body=_zip({"../../../escaped.json": b"{}"})),
         "failed:applied", via=("mocap",), needs=PATHS),
    Case("symlink_in_zip", lambda: B(outputs=_out(fmt="zip", name="m.zip"),
                                     output_body=_zip({"motion.json": b"/etc/passwd"}, symlinks=("motion.json",))),
         "failed:applied", via=("mocap",), needs=PATHS),
    Case("zip_bomb_motion_data", lambda: B(outputs=_out(fmt="zip", name="m.zip"), output_body=_bomb()),
         "failed:applied", via=("mocap",), needs=PATHS),
    Case("glb_lies_about_size", lambda: B(outputs=_out(key="MAIN_GLB", fmt="glb", name="m.glb"),
                                          output_body=b"glTF\x02\x00\x00\x00" + (10 ** 9).to_bytes(4, "little")
                                          + b"\x00" * 64), "failed:applied", via=("mocap",)),
    Case("truncated_fbx", lambda: B(outputs=_out(key="MAIN_FBX", fmt="fbx", name="m.fbx"),
                                    output_body=b"Kaydara FBX Binary  \x00\x1a\x00" + b"\x00" * 40),
         "failed:applied", via=("mocap",)),
]

BY_NAME = {c.name: c for c in CASES}
