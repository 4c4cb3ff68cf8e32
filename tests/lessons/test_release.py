"""lessons.release: the student copy has every marked solution cut out, nothing else."""
import pytest

from lessons.release import MarkerError, strip_solutions
from tests.paths import REPO

SOURCE = '''def f(x):
    """Doc."""
    ### BEGIN SOLUTION 6.1
    y = x * 2
    return y
    ### END SOLUTION


class A:
    def g(self):
        ### BEGIN SOLUTION 6b.1
        return 1
        ### END SOLUTION
'''


def test_marked_regions_become_not_implemented_at_their_indentation():
    text, ids = strip_solutions(SOURCE)
    assert ids == ["6.1", "6b.1"]
    assert text == '''def f(x):
    """Doc."""
    raise NotImplementedError("Exercise 6.1")


class A:
    def g(self):
        raise NotImplementedError("Exercise 6b.1")
'''
    assert "SOLUTION" not in text and "x * 2" not in text and "return 1" not in text
    compile(text, "<release>", "exec")


@pytest.mark.parametrize("bad, message", [
    ("### BEGIN SOLUTION 1.1\nx\n", "no END SOLUTION"),
    ("x\n### END SOLUTION\n", "END SOLUTION without BEGIN"),
    ("### BEGIN SOLUTION 1.1\n### BEGIN SOLUTION 1.2\n### END SOLUTION\n", "inside exercise 1.1"),
    ("### BEGIN SOLUTION\nx\n### END SOLUTION\n", "malformed marker"),
])
def test_broken_markers_are_refused(bad, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(bad, "f.py")


# ---------------------------------------------------------------- a real release
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from lessons import exercises  # noqa: E402
from lessons.release import BEGIN, END, make_release  # noqa: E402




def marked_regions(text):
    """{exercise id: [solution lines]} of a source file."""
    regions, current = {}, None
    for line in text.splitlines():
        if BEGIN.match(line):
            current = regions.setdefault(BEGIN.match(line)["id"], [])
        elif END.match(line):
            current = None
        elif current is not None:
            current.append(line.strip())
    return regions


def grade(folder, *args):
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--exercise", "all", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    dest = tmp_path_factory.mktemp("release") / "student"
    holes = make_release(dest)
    return dest, holes


def test_every_exercise_has_a_hole_and_no_solution_line_remains(release):
    dest, holes = release
    assert sorted(holes) == sorted(exercises.EXERCISES)
    for files in holes.values():
        for rel in set(files):
            released = (dest / rel).read_text()
            assert "SOLUTION" not in released
            original = (REPO / rel).read_text()
            released_lines = [line.strip() for line in released.splitlines()]
            original_lines = [line.strip() for line in original.splitlines()]
            for exercise_id, lines in marked_regions(original).items():
                assert f'raise NotImplementedError("Exercise {exercise_id}")' in released
                for line in set(lines) - {""}:
                    # gone from the release, except where it also stands outside a region
                    in_regions = sum(r.count(line) for r in marked_regions(original).values())
                    assert released_lines.count(line) == \
                        original_lines.count(line) - in_regions, (rel, line)
    assert not (dest / "tests" / "wrong_solutions").exists()
    assert not list((dest / "lessons" / "exercises").glob("ex*.py"))   # no stubs needed
    assert (dest / "lessons" / "exercises" / "RELEASE").exists()


@pytest.mark.slow
@pytest.mark.needs_torch  # 6b.1 is graded against torch.optim.Adam: full marks need torch
def test_release_grades_the_library_holes_fail_then_full_marks(release, tmp_path):
    pytest.importorskip("torch")
    dest, holes = release
    results = tmp_path / "results.json"
    before = grade(dest, f"--results={results}")
    assert "ERROR" not in before.stdout, before.stdout[-3000:]      # collection is intact
    for exercise_id in exercises.EXERCISES:
        assert f"Exercise {exercise_id}: NOT YET" in before.stdout, exercise_id
    import json
    report = json.loads(results.read_text())
    assert report["score"] == 0 and len(report["tests"]) == len(exercises.EXERCISES)
    # The student fills every hole (here: with the library's own code) -> full marks.
    for files in holes.values():
        for rel in set(files):
            shutil.copy2(REPO / rel, dest / rel)
    after = grade(dest, f"--results={results}")
    assert after.returncode == 0, after.stdout[-3000:]
    for exercise_id in exercises.EXERCISES:
        assert f"Exercise {exercise_id}: PASSED" in after.stdout, exercise_id
    assert json.loads(results.read_text())["score"] == len(exercises.EXERCISES)
