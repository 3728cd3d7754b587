"""What to do with a submission that is asked for again (the same video and settings, or a job's result):
the resubmission policy, one function the command line and the panel both follow.

``plan_resubmission`` looks at the journal's row (and whether its downloaded files are still on disk) and
says: start it (new), skip it (already applied where asked), apply the downloaded result again, download
the same finished job again (adopt: never a second job), resume it, retry it, or leave it failed. The
caller does the step (bpy, threads). Reads file existence only: no network, no bpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .journal import SubmissionRow
from .model import State


class Step(StrEnum):
    START = "start"      # a new submission: run it from the start
    SKIP = "skip"        # applied already where it is asked for: nothing to do
    APPLY = "apply"      # its outputs are on disk: apply them (again)
    ADOPT = "adopt"      # finished on the server but the files are gone: download the same job again
    RESUME = "resume"    # still active (a run was interrupted): carry on from its last stage
    RETRY = "retry"      # failed or cancelled: retry the stage that stopped
    LEAVE = "leave"      # failed, and retrying was not wanted: report the old failure


@dataclass(frozen=True)
class Plan:
    step: Step
    reapply: bool  # the result was applied before (the outcome is a re-apply, not a first apply)
    message: str   # what the user is told, after the item's name


def outputs_on_disk(row: SubmissionRow) -> bool:
    """Every downloaded output of ``row`` is still a file (and there is at least one)."""
    return bool(row.outputs) and all(Path(p).is_file() for p in row.outputs.values())


def plan_resubmission(row: SubmissionRow, *, created: bool, applied_here: bool = False,
                      retry_failed: bool = True) -> Plan:
    """The step for ``row`` asked for again. ``created``: the row was made by this request (a new
    submission). ``applied_here``: its recorded action is in the open file on the armature asked for.
    ``retry_failed``: retry a failed or cancelled one (else leave it failed)."""
    state = row.state
    if created:
        return Plan(Step.START, False, f"new submission {row.id[:8]}")
    if state is State.DONE:
        if applied_here:
            return Plan(Step.SKIP, False, f"already applied ({row.applied_action} on {row.applied_to}); skipped")
        if outputs_on_disk(row):
            return Plan(Step.APPLY, True, f"job {row.job_id} done before; applying its downloaded result")
        return Plan(Step.ADOPT, True, f"job {row.job_id} done before; downloading it again")
    if state is State.READY:
        if outputs_on_disk(row):
            return Plan(Step.APPLY, False, f"job {row.job_id} downloaded before; applying")
        if row.job_id:
            return Plan(Step.ADOPT, False, f"job {row.job_id} finished before; downloading it again")
    if state is State.ACTIVE:
        return Plan(Step.RESUME, False, f"resuming after {row.stage.value} (job {row.job_id or 'not yet'})")
    if not retry_failed:
        return Plan(Step.LEAVE, False, f"failed in an earlier run: {row.error_message}")
    return Plan(Step.RETRY, False, f"retrying ({state.value} at {row.error_stage or row.stage.value})")
