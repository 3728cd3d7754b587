"""The hostile-server suite: every case of tests/hostile/cases.py against the add-on (its Pipeline, and
scripts/mocap.py for crafted outputs), checked by tests/hostile/harness.py. Cases marked ``needs`` depend on
the path-validation / redaction / archive work and fail until it is in (they are not skipped)."""

from __future__ import annotations

import pytest

from tests.hostile.cases import CASES
from tests.hostile.harness import BVH, VIDEO, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case, tmp_path) -> None:
    assert VIDEO.is_file() and BVH.is_file(), "test data missing: run scripts/fetch_test_data.sh"
    for via in case.via:
        result = run_case(case, tmp_path / via, via=via)
        assert result.handled_well, f"{case.name} via {via}: {result.problems}"
