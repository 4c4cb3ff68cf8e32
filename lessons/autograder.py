"""Gradescope's autograder: grade a submission exercise by exercise, each one alone.

    run_autograder  ->  python -m lessons.autograder

Paths (override them to run it off Gradescope, e.g. in a test):
    AUTOGRADER_ROOT    default /autograder: source/ (this repository, the reference
                       library), submission/ (the student's files), results/results.json
    AUTOGRADER_PYTHON  the interpreter that runs the graders (default: this one)

This process never imports or runs the student's code: it reads the submission as text
(``ast``), takes from it only the exercise functions and classes (matched by name; edits
anywhere else, to the tests or the grader, are ignored), refuses code that imports or
reaches what a solution never needs (torch, subprocess, os, ...), and for each exercise
writes a copy of the reference library in which that one object is the student's. So
every other exercise an exercise uses (the tape, ``numerical_gradient``, other ops) is the
trusted reference. Each copy is graded in its own process, with a time limit per check
and per exercise and a cap on its output, as an unprivileged user where one exists and
this runs as root. results.json is always written, also after a crash or a hang.
"""
import ast
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from lessons.exercises import EXERCISES
from lessons.release import LEFT_OUT, RELEASE_FLAG, _regions, solution_sources, tracked_files

ROOT = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
PYTHON = os.environ.get("AUTOGRADER_PYTHON", sys.executable)
# Limits (the environment may lower them, as the tests do): one graded check; all the
# checks of one exercise, start-up included.
CHECK_SECONDS = float(os.environ.get("AUTOGRADER_CHECK_SECONDS", 60))
EXERCISE_SECONDS = float(os.environ.get("AUTOGRADER_EXERCISE_SECONDS", 300))
# Only these exercises (comma-separated ids; default all): for tests and a quick re-grade.
ONLY = [e for e in os.environ.get("AUTOGRADER_ONLY", "").split(",") if e]
OUTPUT_BYTES = 1 << 20      # what a grader process may print (to a file); more stops it
# Modules a solution never needs (torch would grade torch, not the student), and names
# that reach the interpreter, files or processes.
FORBIDDEN_MODULES = {"torch", "tensorflow", "jax", "cupy", "subprocess", "os", "sys",
                     "atexit", "builtins", "importlib", "ctypes", "gc", "inspect", "io",
                     "pathlib", "shutil", "signal", "socket", "threading", "multiprocessing",
                     "pickle", "tests", "lessons", "pytest", "json"}
ALLOWED_MODULES = {"numpy", "math", "functools", "itertools", "nn", "pix2pix"}
FORBIDDEN_NAMES = {"open", "exec", "eval", "compile", "__import__", "globals", "locals",
                   "vars", "getattr", "setattr", "delattr", "breakpoint", "input", "exit",
                   "quit", "memoryview"}


try:
    import pwd
    NOBODY = pwd.getpwnam("nobody")
except (ImportError, KeyError):
    NOBODY = None


class Refused(ValueError):
    """The submission's code for an exercise cannot be graded; the message says why."""


def forbidden(tree):
    """The first thing in ``tree`` a solution may not use, in words, or None."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if node.__class__ is ast.ImportFrom and node.level:
                    top = "nn"                      # a relative import inside the library
                if top in FORBIDDEN_MODULES or top not in ALLOWED_MODULES:
                    return f"import {name} (only {', '.join(sorted(ALLOWED_MODULES))} may be imported)"
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            return f"{node.id}()"
        elif isinstance(node, ast.Attribute) and (node.attr in FORBIDDEN_MODULES or
                                                  node.attr.startswith("__") and
                                                  node.attr != "__init__"):
            return f".{node.attr}"
    return None


def find_submitted(submission, rel, name):
    """The source of the student's top-level ``name``: in submission/<rel> if present,
    else in the first .py file that defines it. Raises Refused."""
    candidates = [submission / rel] + sorted(submission.rglob("*.py"))
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            if path == submission / rel:
                raise Refused(f"{rel} does not parse: {e.msg} (line {e.lineno})") from None
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
                start = (node.decorator_list[0] if node.decorator_list else node).lineno
                source = "".join(text.splitlines(keepends=True)[start - 1:node.end_lineno])
                problem = forbidden(node)
                if problem:
                    raise Refused(f"{name} uses {problem}: not allowed in a solution")
                return source
    raise Refused(f"no {name} found in the submission (expected in {rel})")


def graded_test_files(source):
    """The test files that hold graded checks (the instructors' own tests left out)."""
    return [rel for rel in tracked_files(source) if rel.startswith("tests/")
            and Path(rel).name.startswith("test_") and not rel.startswith(LEFT_OUT)
            and "mark.exercise(" in (source / rel).read_text()]


def grading_copy(source, dest, exercise_id, student_code):
    """Copy the reference library to ``dest`` with only ``exercise_id``'s object replaced
    by the student's; in release mode, so that the grader grades the library's object."""
    rel, _ = solution_sources(source)[exercise_id]
    for name in tracked_files(source):
        if not name.startswith(LEFT_OUT) and not name.startswith("datasets/"):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    out = []
    for piece in _regions((source / rel).read_text(), rel):
        if isinstance(piece, str):
            out.append(piece)
        elif piece[0] == "solution" and piece[1]["id"] == exercise_id:
            indent = piece[1]["indent"]
            out.append(textwrap.indent(textwrap.dedent(student_code), indent))
        else:
            out.append(piece[2])    # the other solutions and the fast forms: the reference
    (dest / rel).write_text("".join(out))
    (dest / RELEASE_FLAG).write_text("grading copy\n")


def _as_nobody():
    os.setgid(NOBODY.pw_gid)
    os.setuid(NOBODY.pw_uid)


def unprivileged():
    """Whether grader processes run as ``nobody``: only when this runs as root, the user
    exists and can start the grader's interpreter (not so where Python lives under /root)."""
    if os.getuid() != 0 or NOBODY is None:
        return False
    try:
        probe = subprocess.run([PYTHON, "-c", "import numpy, pytest"], cwd="/",
                               preexec_fn=_as_nobody, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _limits(drop):
    """In the grader process: cap what it may write; drop root if ``drop``."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_BYTES, OUTPUT_BYTES))
    os.setsid()
    if drop:
        _as_nobody()


def run_grader(copy, exercise_id, workdir, drop):
    """Grade one exercise in its own process; returns its Gradescope tests or raises
    Refused saying what went wrong."""
    results = workdir / "results.json"
    log = workdir / "output.txt"
    if drop:                                   # nobody writes only in its own folder
        subprocess.run(["chmod", "-R", "a+rX", str(workdir.parent)], check=True)
        subprocess.run(["chmod", "a+rwx", str(workdir)], check=True)
    command = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--exercise",
               exercise_id, f"--results={results}", f"--check-timeout={CHECK_SECONDS:g}",
               *graded_test_files(copy)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(copy),
           "HOME": str(workdir), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=copy, env=env, stdout=out,
                                   stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: _limits(drop))
        try:
            process.wait(timeout=EXERCISE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            raise Refused(f"grading took longer than {EXERCISE_SECONDS:g} s (an endless "
                          f"loop?)") from None
    if log.stat().st_size >= OUTPUT_BYTES or process.returncode == -signal.SIGXFSZ:
        raise Refused(f"the code printed more than {OUTPUT_BYTES >> 20} MB; grading stopped")
    try:
        tests = json.loads(results.read_text())["tests"]
        if not tests:
            raise ValueError("no checks ran")
    except (OSError, ValueError, KeyError):
        tail = log.read_bytes()[-600:].decode(errors="replace")
        raise Refused(f"the grader stopped before reporting (exit {process.returncode}): "
                      f"...{tail}") from None
    return tests


def grade_exercise(exercise_id, source, submission, scratch, drop=False):
    """Gradescope tests for one exercise (partial credit per check)."""
    from tests.grading import exercise_results
    rel, _ = solution_sources(source)[exercise_id]
    name = EXERCISES[exercise_id].reference.split(":")[1]
    try:
        code = find_submitted(submission, rel, name)
        workdir = scratch / exercise_id
        workdir.mkdir()
        grading_copy(source, workdir / "library", exercise_id, code)
        return run_grader(workdir / "library", exercise_id, workdir, drop)
    except Refused as e:
        zero = exercise_results(exercise_id, [("graded", False, "visible")])
        for test in zero:
            test["output"] = f"Not graded: {e}"
        return zero


def main():
    started = time.monotonic()
    source, submission = ROOT / "source", ROOT / "submission"
    results_path = ROOT / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    from tests.grading import results_document
    tests = []
    try:
        drop = unprivileged()
        print(f"grader processes run as {'nobody' if drop else 'this user'}")
        with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
            for exercise_id in ONLY or EXERCISES:
                tests += grade_exercise(exercise_id, source, submission, Path(scratch), drop)
    except Exception as e:                          # the grader's own fault: say so
        tests.append({"name": "Autograder", "score": 0.0, "max_score": 0.0,
                      "output": f"the autograder failed: {type(e).__name__}: {e}",
                      "visibility": "visible", "status": "failed"})
    finally:
        document = results_document(tests, time.monotonic() - started)
        results_path.write_text(json.dumps(document, indent=2))
    print(f"graded {len(ONLY or EXERCISES)} exercises: {document['score']} points")


if __name__ == "__main__":
    main()
