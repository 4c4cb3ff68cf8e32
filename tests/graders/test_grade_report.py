"""The grader's report, as a student and Gradescope see it.

One pytest session grades three exercises in the three states a student's code can be
in: 3.1 not written (the stub), 5.1 with a typical mistake (``--candidate`` puts the
catalogue's eval mode without the square root in place of the stub) and 9.2 right (the
library's own solution). The report must say, per exercise, passed or not, which
property failed in words, and what to reread; and ``--results`` must write Gradescope's
results.json with the same verdicts.
"""
import json
import os
import subprocess
import sys

import pytest

import nn
from lessons import exercises
from tests.paths import REPO

ROOT = REPO  # the repository
# An instructors' test: it grades the stubs and the catalogue, which a release leaves out.
pytestmark = pytest.mark.skipif(exercises.RELEASE, reason="a student release has no stubs "
                                "and no catalogue of wrong solutions")


def grade(*args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    results = tmp_path_factory.mktemp("grade") / "results.json"
    run = grade("--exercise", "3.1", "--exercise", "5.1", "--exercise", "9.2",
                "--candidate", "5.1=BatchNormEvalWithoutSqrt", "--candidate", "9.2=reference",
                f"--results={results}")
    return run, json.loads(results.read_text())


def block(out, exercise):
    """The report's lines for one exercise: its header and the indented lines under it."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"Exercise {exercise}: "))
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):
        end += 1
    return lines[start:end]


def test_a_wrong_solution_gets_the_failed_property_and_the_lesson(graded):
    run, _ = graded
    assert run.returncode == 1, run.stdout[-3000:]
    lines = block(run.stdout, "5.1")
    assert lines[0].startswith("Exercise 5.1: NOT YET (")
    assert lines[1:] == ["  failed: forward values in eval mode",
                         "  reread: lesson 5, sections 1, 1b and 2 (statistics, backward, "
                         "running averages)"]


def test_a_right_solution_passes(graded):
    run, _ = graded
    lines = block(run.stdout, "9.2")
    assert len(lines) == 1 and lines[0].startswith("Exercise 9.2: PASSED (")


def test_code_not_written_yet_is_one_line_per_check(graded):
    run, _ = graded
    lines = block(run.stdout, "3.1")
    assert lines[0].startswith("Exercise 3.1: NOT YET (0/") and "not written yet" in lines[0]
    assert "  failed: every column element against the definition" in lines
    assert "  reread: lesson 3, section 3 (im2col)" in lines
    assert "NotImplementedError: Exercise 3.1 (not written yet)" in run.stdout
    assert "raise NotImplementedError" not in run.stdout          # no traceback into the stub


def test_short_output_no_test_source_and_cupy_in_one_line(graded):
    run, _ = graded
    out = run.stdout
    assert "def test_" not in out and '"""' not in out             # short tracebacks
    assert "SKIPPED" not in out
    if not nn.gpu_available():
        assert sum("CuPy checks not run" in line for line in out.splitlines()) == 1
    assert len(out.splitlines()) < 100, len(out.splitlines())


def test_results_json_in_gradescope_format(graded):
    _, results = graded
    by_name = {t["name"]: t for t in results["tests"]}
    assert sorted(by_name) == ["Exercise 3.1", "Exercise 5.1", "Exercise 9.2"]
    for test in results["tests"]:
        assert test["max_score"] == exercises.POINTS[test["number"]]
        assert test["visibility"] == "visible"
    assert by_name["Exercise 3.1"]["score"] == 0 and by_name["Exercise 3.1"]["status"] == "failed"
    # one check of 5.1 fails: the others earn their share of its points
    assert 0 < by_name["Exercise 5.1"]["score"] < exercises.POINTS["5.1"]
    assert by_name["Exercise 5.1"]["status"] == "failed"
    assert by_name["Exercise 9.2"]["score"] == exercises.POINTS["9.2"]
    assert by_name["Exercise 9.2"]["status"] == "passed"
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert "forward values in eval mode" in by_name["Exercise 5.1"]["output"]
    assert "lesson 5" in by_name["Exercise 5.1"]["output"]
    assert results["stdout_visibility"] == "hidden" and results["execution_time"] >= 0


def test_points_for_every_exercise():
    assert sorted(exercises.POINTS) == sorted(exercises.EXERCISES)
    assert exercises.POINTS["5.1"] > exercises.POINTS["9.2"]     # BatchNorm worth more than L1


@pytest.mark.parametrize("args, message", [
    (["--exercise", "5.1", "--candidate", "5.1=NoSuchMistake"], "BatchNormEvalWithoutSqrt"),
    (["--exercise", "5.1", "--candidate", "5.7=reference"], "ID=NAME with ID one of"),
    (["--candidate", "5.1=reference"], "--candidate needs --exercise"),
    (["--results=r.json"], "--results needs --exercise"),
])
def test_misused_grading_options_are_refused_saying_why(args, message):
    run = grade(*args, "tests/graders/test_grade_exercises.py")
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert message in run.stderr


def test_hidden_and_after_due_date_checks_form_their_own_tests():
    from tests.grading import exercise_results
    tests = exercise_results("5.1", [("a", True, "visible"), ("b", False, "visible"),
                                     ("c", True, "hidden"), ("d", True, "after_due_date")])
    assert [t["visibility"] for t in tests] == ["visible", "hidden", "after_due_date"]
    assert [t["max_score"] for t in tests] == [2.0, 1.0, 1.0]     # 4 points, 1 per check
    assert [t["score"] for t in tests] == [1.0, 1.0, 1.0]
    assert tests[0]["status"] == "failed" and "failed: b" in tests[0]["output"]
