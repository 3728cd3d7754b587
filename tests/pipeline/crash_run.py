"""Run one submission of the pipeline in this process and die (os._exit) at a checkpoint, as a crash would.

usage: python -m tests.pipeline.crash_run <journal> <endpoint> <download_dir> <spec.json|submission-id> [crash-point]
The API key comes from MOVE_TEST_KEY. With a submission id, resumes it instead of submitting.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from move_mocap.core.api.client import MoveClient
from move_mocap.core.api.retry import RetryPolicy
from move_mocap.core.pipeline import Journal, Pipeline, SubmissionSpec
from tests.pipeline.helpers import fast_config


def main() -> None:
    journal_path, endpoint, download_dir, what = sys.argv[1:5]
    crash_at = sys.argv[5] if len(sys.argv) > 5 else ""
    key = os.environ["MOVE_TEST_KEY"]

    def make(sleep=None) -> MoveClient:
        return MoveClient(key, endpoint=endpoint, retry=RetryPolicy(attempts=3, base_delay=0.05),
                          **({"sleep": sleep} if sleep else {}))

    def checkpoint(sid: str, point: str) -> None:
        if point == crash_at:
            print(f"CRASH {sid} {point}", flush=True)
            os._exit(17)

    pipeline = Pipeline(Journal(journal_path), make, fast_config(endpoint, Path(download_dir)), checkpoint=checkpoint)
    if what.endswith(".json"):
        sid = pipeline.submit(SubmissionSpec.from_json(Path(what).read_text()))
    else:
        sid = what
        pipeline.start(sid)
    row = pipeline.wait(sid, timeout=300)
    print(f"END {sid} {row.state.value} {row.stage.value}", flush=True)


if __name__ == "__main__":
    main()
