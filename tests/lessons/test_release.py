"""lessons.release: the student copy has every marked solution cut out, nothing else."""
import pytest

from lessons.release import MarkerError, strip_solutions
from tests.paths import REPO

SOURCE = '''import x


### BEGIN SOLUTION 6.1
def f(x):
    """Doc of f."""
    y = x * 2
    return y
### END SOLUTION


class A:
    ### BEGIN FAST 6.1: g = f
    def g(self):
        return 1
    ### END FAST


### BEGIN SOLUTION 6b.1
class B(A):
    """Doc of B."""

    @staticmethod
    def h(
            a, b=2):
        return a + b
### END SOLUTION
'''


def test_solutions_become_their_stubs_and_fast_forms_their_routes():
    text, ids = strip_solutions(SOURCE)
    assert ids == ["6.1", "6b.1"]
    assert text == '''import x


def f(x):
    """Doc of f."""
    raise NotImplementedError("Exercise 6.1")


class A:
    g = f  # the student's exercise 6.1


class B(A):
    """Doc of B."""

    @staticmethod
    def h(
            a, b=2):
        raise NotImplementedError("Exercise 6b.1")
'''
    assert "SOLUTION" not in text and "x * 2" not in text and "return 1" not in text
    compile(text, "<release>", "exec")
    filled, _ = strip_solutions(SOURCE, filled=True)
    assert "return a + b" in filled and "return 1" not in filled and "SOLUTION" not in filled


@pytest.mark.parametrize("bad, message", [
    ("### BEGIN SOLUTION 1.1\ndef f():\n    pass\n", "no END"),
    ("x\n### END SOLUTION\n", "without its BEGIN"),
    ("### BEGIN SOLUTION 1.1\n### BEGIN SOLUTION 1.2\n### END SOLUTION\n", "inside exercise 1.1"),
    ("### BEGIN SOLUTION\nx\n### END SOLUTION\n", "malformed marker"),
    ("### BEGIN FAST 1.1\nx\n### END FAST\n", "malformed marker"),
    ("### BEGIN FAST 1.1: f = g\nx = 1\n### END SOLUTION\n", "without its BEGIN"),
    ("### BEGIN SOLUTION 1.1\nx = 1\n### END SOLUTION\n", "exactly one function or class"),
    ("### BEGIN SOLUTION 1.1\ndef f(): pass\ndef g(): pass\n### END SOLUTION\n",
     "exactly one function or class"),
])
def test_broken_markers_are_refused(bad, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(bad, "f.py")


# ---------------------------------------------------------------- a real release
import os  # noqa: E402
import subprocess  # noqa: E402
import ast  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import textwrap  # noqa: E402
import sys  # noqa: E402

from lessons import exercises  # noqa: E402
from lessons.release import (  # noqa: E402
    _regions,
    make_release,
    release_diff,
    solution_sources,
    strip_solutions,
    stub_of,
)


def cut_lines(text, where):
    """Every stripped line the release must drop from a library file, with its count there:
    solution lines its stub does not keep, and the fast forms."""
    cut = {}
    for piece in _regions(text, where):
        if isinstance(piece, str):
            continue
        kind, begin, region, _ = piece
        kept = set() if kind == "fast" else \
            {line.strip() for line in stub_of(region, begin["id"]).splitlines()}
        for line in region.splitlines():
            if line.strip() and line.strip() not in kept:
                cut[line.strip()] = cut.get(line.strip(), 0) + 1
    return cut


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
            assert "SOLUTION" not in released and "### BEGIN FAST" not in released
            original = (REPO / rel).read_text()
            released_lines = [line.strip() for line in released.splitlines()]
            original_lines = [line.strip() for line in original.splitlines()]
            for line, in_regions in cut_lines(original, rel).items():
                # gone from the release, except where it also stands outside a region
                assert released_lines.count(line) == \
                    original_lines.count(line) - in_regions, (rel, line)
    for exercise_id, files in holes.items():
        assert any(f'raise NotImplementedError("Exercise {exercise_id}")' in
                   (dest / rel).read_text() for rel in files)
    assert not (dest / "tests" / "wrong_solutions").exists()
    readme = (dest / "README.md").read_text()          # the students' own, not ours
    assert "--exercise" in readme and "Submit" in readme and "lessons/exercises/ex" not in readme
    assert subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True).stdout.strip() in (dest / "lessons/exercises/RELEASE").read_text()
    assert not list((dest / "lessons" / "exercises").glob("ex*.py"))   # no stubs needed
    assert (dest / "lessons" / "exercises" / "RELEASE").exists()


@pytest.mark.slow
@pytest.mark.needs_torch  # 6b.1 is graded against torch.optim.Adam: full marks need torch
def test_release_grades_the_library_holes_fail_then_full_marks(release, tmp_path):
    pytest.importorskip("torch")
    holes = release[1]
    dest = shutil.copytree(release[0], tmp_path / "student")   # filled below: a copy
    results = tmp_path / "results.json"
    before = grade(dest, f"--results={results}")
    assert "ERROR" not in before.stdout, before.stdout[-3000:]      # collection is intact
    for exercise_id in exercises.EXERCISES:
        assert f"Exercise {exercise_id}: NOT YET" in before.stdout, exercise_id
    report = json.loads(results.read_text())
    assert report["score"] == 0 and len(report["tests"]) == len(exercises.EXERCISES)
    # The student fills every hole (here: with the library's own code) -> full marks.
    for files in holes.values():
        for rel in set(files):
            (dest / rel).write_text(strip_solutions((REPO / rel).read_text(), rel, filled=True)[0])
    after = grade(dest, f"--results={results}")
    assert after.returncode == 0, after.stdout[-3000:]
    for exercise_id in exercises.EXERCISES:
        assert f"Exercise {exercise_id}: PASSED" in after.stdout, exercise_id
    assert json.loads(results.read_text())["score"] == sum(exercises.POINTS.values())


# ---------------------------------------------------------------- training runs the exercises
# Run in the filled release: every exercise object's code is watched (sys.setprofile) while
# pix2pix.training.loop.main trains a tiny pix2pix; prints the ids whose code ran.
TRAIN_AND_WATCH = """
import inspect, json, sys, threading
from lessons.exercises import EXERCISES, load
import pix2pix.training.loop as loop
codes = {}
for exercise_id in EXERCISES:
    obj = load(exercise_id)
    members = vars(obj).values() if inspect.isclass(obj) else [obj]
    for member in members:
        function = getattr(member, "__func__", member)
        if inspect.isfunction(function):
            codes[function.__code__] = exercise_id
ran = set()
def watch(frame, event, arg):
    if event == "call" and frame.f_code in codes:
        ran.add(codes[frame.f_code])
loop.plot_losses = lambda *args, **kwargs: None
sys.setprofile(watch)
threading.setprofile(watch)      # Adam updates its parameters in a few threads
status = loop.main(sys.argv[1:])
sys.setprofile(None)
print(json.dumps({"status": status, "ran": sorted(ran)}))
"""
# Exercises that are tools or lessons, not part of a pix2pix training step: the numerical
# gradient checks backwards, the sigmoid is lesson 6's (the GAN loss takes logits), the
# receptive field measures a discriminator.
# Not part of a training step: the numerical gradient, the sigmoid, the receptive field; and
# 12.1, synchronized batch norm, which replaces 5.1 only under --norm syncbatch.
NOT_IN_TRAINING = {"2.1", "6.4", "8.1", "12.1"}


@pytest.mark.slow
def test_training_in_a_filled_release_runs_the_students_code(tmp_path):
    """3.1 and 6b.1 too: in a release, im2col and Adam call the student's textbook forms."""
    dest = tmp_path / "filled"
    make_release(dest, filled=True)
    args = ["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
            "--load_size", "36", "--ngf", "4", "--ndf", "4", "--n_epochs", "1",
            "--n_epochs_decay", "0", "--max_dataset_size", "2", "--num_samples", "1",
            "--no_progress", "--checkpoints_dir", str(tmp_path / "ck"), "--name", "run"]
    run = subprocess.run([sys.executable, "-c", TRAIN_AND_WATCH, *args], cwd=dest,
                         env={**os.environ, "PYTHONPATH": str(dest)}, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["status"] in (0, None)
    assert sorted(result["ran"]) == sorted(set(exercises.EXERCISES) - NOT_IN_TRAINING)


# ---------------------------------------------------------------- no answers in the release
def statements(tree):
    """Every simple statement of a parsed file, normalised (ast.unparse), docstrings left out."""
    compound = (ast.FunctionDef, ast.ClassDef, ast.If, ast.For, ast.While, ast.With, ast.Try,
                ast.Import, ast.ImportFrom)
    return {ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.stmt)
            and not isinstance(node, compound)
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))}


# Solution statements that also stand, rightly, elsewhere: the same bookkeeping in other
# ops and the graders' own definitions (the naive loops the fast forms are checked against).
GENERIC = {"return (grad_x, grad_w, grad_b, None, None)", "out += bias.reshape(1, -1, 1, 1)",
           "out = x_hat * _per_channel(gamma)",
           "ho, wo = (conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))"}
# Known and not yet removed: lesson 2 shows batch norm's backward with one term missing
# (the all-ones trap), written out before exercise 5.1 asks for it.
# Synchronized batch norm (12.1) shares that backward's statements, so the same cell shows them.
KNOWN = {("5.1", "lessons/02_gradient_checking.py"), ("12.1", "lessons/02_gradient_checking.py")}


def test_no_solution_statement_stands_anywhere_in_the_release(release):
    """Each exercise's distinctive statements (30 characters or more), normalised, are
    searched in every Python file of the release: lessons and tests included."""
    dest, _ = release
    released = {str(p.relative_to(dest)): statements(ast.parse(p.read_text()))
                for p in dest.rglob("*.py")}
    found = []
    for exercise_id, (_, text) in solution_sources().items():
        solution = statements(ast.parse(textwrap.dedent(text)))
        for statement in sorted(s for s in solution if len(s) >= 30 and s not in GENERIC):
            for rel, present in released.items():
                if statement in present and (exercise_id, rel) not in KNOWN:
                    found.append(f"{exercise_id}: {statement!r} in {rel}")
    assert not found, "\n".join(found)


def test_diff_lists_what_a_newer_release_changes(release, tmp_path):
    dest, _ = release
    newer = tmp_path / "newer"
    shutil.copytree(dest, newer)
    (newer / "nn" / "optim.py").write_text((newer / "nn" / "optim.py").read_text() + "# fix\n")
    (newer / "NOTES.md").write_text("mid-term fix\n")
    (newer / "test.py").unlink()
    lines = release_diff(dest, newer)
    assert lines[0].startswith("old: Built from commit ") and lines[1].startswith("new: ")
    assert lines[2:] == ["added    NOTES.md", "changed  nn/optim.py", "removed  test.py"]
    with pytest.raises(FileNotFoundError, match="not a student release"):
        release_diff(dest, tmp_path)


# ---------------------------------------------------------------- lessons in a release
import re  # noqa: E402

from lessons.release import (  # noqa: E402
    LIBRARY,
    RECORDED,
    RecordingError,
    printed_solutions_cut,
    record_lessons,
    tracked_files,
)

LESSON = "03_convolution"       # short (3 s), and it prints exercise 3.1's source (getsource)


def stops_at(lesson, exercise_id, name, recorded=True):
    """The one line a release's lesson stops with at an exercise not written yet."""
    where = f"its recorded output is {RECORDED}/{lesson}.txt; " if recorded else ""
    return (f"lesson {int(lesson[:2])} needs exercise {exercise_id} ({name}), not written yet: "
            f"{where}grade yours with python -m pytest --exercise {exercise_id}")


def run_in(folder, args, output):
    env = {**os.environ, "PYTHONPATH": str(folder), "LESSON_FAST": "1",
           "LESSON_OUTPUT": str(output), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def recorded_release(tmp_path_factory):
    """A release with lesson 3's output recorded (built as --recorded builds every lesson's)."""
    dest = tmp_path_factory.mktemp("recorded") / "student"
    make_release(dest)
    record_lessons(dest, lessons=[LESSON], log=lambda line: None)
    return dest


@pytest.mark.parametrize("which, lesson, line", [
    ("recorded_release", LESSON, stops_at(LESSON, "3.1", "im2col_reference")),
    # lesson 2 needs lesson 6's tanh; this release has no recorded output
    ("release", "02_gradient_checking", stops_at("02_gradient_checking", "6.3", "TanhFunction",
                                                 recorded=False)),
], ids=["lesson 3, recorded", "lesson 2, not recorded"])
def test_a_lesson_stops_at_an_exercise_not_written_with_one_line(which, lesson, line,
                                                                 request, tmp_path):
    """Exit status 1 (the lesson did not finish), the one line on stderr, no traceback."""
    dest = request.getfixturevalue(which)
    dest = dest[0] if isinstance(dest, tuple) else dest
    run = run_in(dest, [f"lessons/{lesson}.py"], tmp_path)
    assert run.returncode == 1 and run.stderr.splitlines() == [line], run.stderr[-3000:]


def test_the_notebook_runner_stops_with_the_same_line(recorded_release, tmp_path):
    pytest.importorskip("nbclient", reason="pip install -e '.[lessons]' (jupytext, nbclient)")
    import nbformat
    run = run_in(recorded_release, ["-m", "lessons.notebook", "--execute", "--fast",
                                    f"lessons/{LESSON}.py", "--out", str(tmp_path)], tmp_path)
    line = stops_at(LESSON, "3.1", "im2col_reference")
    assert run.returncode == 1, run.stderr[-3000:]
    # the kernel may warn on stderr (ipykernel's TCP note); no traceback, one line of ours
    assert "Traceback" not in run.stderr and line in run.stderr.splitlines(), run.stderr
    assert not run.stdout.strip()
    # In Jupyter the failing cell shows the same line, not a traceback.
    notebook = nbformat.read(str(tmp_path / f"{LESSON}.ipynb"), as_version=4)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    assert outputs[-1].get("name") == "stderr" and outputs[-1].text.strip() == line


def test_a_filled_release_runs_the_lesson_to_its_end_showing_the_students_code(tmp_path):
    dest = tmp_path / "filled"
    make_release(dest, filled=True)
    run = run_in(dest, [f"lessons/{LESSON}.py"], tmp_path / "out")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Pictures from this lesson:" in run.stdout
    # the cell that prints im2col_reference prints the student's (here: the library's) code
    assert solution_sources()["3.1"][1].strip() in run.stdout


def test_recorded_output_has_its_pictures_and_no_answer(recorded_release):
    """The item-3 grep on the recorded text: no line that the release cuts from the library
    (solutions and fast forms; 10 characters or more) was printed."""
    texts = list((recorded_release / RECORDED).glob("*.txt"))
    assert [p.stem for p in texts] == [LESSON]
    library = [rel for rel in tracked_files(REPO) if rel.endswith(".py")
               and rel.startswith(LIBRARY)]
    cut = {line for rel in library for line in cut_lines((REPO / rel).read_text(), rel)
           if len(line) >= 10}
    for path in texts:
        text = path.read_text()
        pictures = re.findall(rf"saved ({RECORDED}/\S+\.png)", text)
        assert len(pictures) == 4 and all((recorded_release / p).is_file() for p in pictures)
        assert 'raise NotImplementedError("Exercise 3.1")' in text   # the stub, as printed
        leaked = {line.strip() for line in text.splitlines()} & cut
        assert not leaked, f"{path.name} prints solution lines: {sorted(leaked)}"


def test_recording_refuses_a_printed_solution_line():
    solutions = solution_sources()
    region = solutions["3.1"][1]
    answer = max(set(region.splitlines()) - set(stub_of(region, "3.1").splitlines()), key=len)
    with pytest.raises(RecordingError, match="prints solution lines"):
        printed_solutions_cut(f"before\n{answer}\nafter\n", solutions, LESSON)
