"""A grader is a test of tests: every wrong solution in tests/wrong_solutions/ must fail
its exercise's grader, and the library's own solution must pass it."""
import os
import re
import subprocess
import sys

import pytest

from lessons import exercises
from tests.paths import REPO
from tests.wrong_solutions import WRONG

ROOT = REPO  # the repository


def run_catalogue(env=None, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--wrong-solutions", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_at_least_three_wrong_solutions_per_exercise():
    assert sorted(WRONG) == sorted(exercises.EXERCISES)
    assert all(len(solutions) >= 3 for solutions in WRONG.values()), \
        {k: len(v) for k, v in WRONG.items()}


@pytest.mark.needs_torch  # 6b.1's reference passes its grader only with torch.optim.Adam
def test_every_wrong_solution_is_caught_and_the_reference_passes():
    pytest.importorskip("torch")
    result = run_catalogue()
    out = result.stdout
    assert result.returncode == 0, out[-3000:]
    assert "NOT CAUGHT" not in out and "PROBLEM" not in out
    for exercise_id, solutions in WRONG.items():
        assert f"Exercise {exercise_id}: {len(solutions)} wrong solutions" in out
        for solution in solutions:
            assert re.search(rf"  {solution.__name__}: caught by '", out) or \
                re.search(rf'  {solution.__name__}: caught by "', out), solution.__name__


def test_a_wrong_solution_that_passes_fails_the_check():
    """Plant the reference among 8.1's wrong solutions: the check must say so and fail."""
    result = run_catalogue({"WRONG_SOLUTIONS_PLANT_REFERENCE": "8.1"}, "-k", "receptive")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "PROBLEM: 8.1: wrong solution receptive_field passes the grader" in result.stdout
