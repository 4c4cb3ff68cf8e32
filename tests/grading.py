"""The exercise grader: a pytest plugin (registered by tests/conftest.py).

    python -m pytest --exercise 5.1                 grade your stub of exercise 5.1
    python -m pytest --exercise all --results r.json  every exercise, Gradescope's file
    python -m pytest --wrong-solutions              instructors: prove the graders reject
                                                    the catalogue in tests/wrong_solutions/
    python -m pytest --exercise 5.1 --candidate 5.1=BatchNormEvalWithoutSqrt
                                                    instructors: the report a student with
                                                    that mistake gets ("reference": the
                                                    library's own solution)

A graded test is marked ``@pytest.mark.exercise("5.1", "running variance")``: the exercise
and, in words a student can act on, the property it checks ("{mode}" in the words is
filled from the test's parameter of that name). ``visibility="hidden"`` or
``"after_due_date"`` in the marker puts the check in a separate Gradescope test with that
visibility. Each check earns an equal share of the exercise's points
(``lessons.exercises.POINTS``). Its ``implementation``
fixture is the object under test: the library's, the student's stub with --exercise, or
each wrong solution in turn with --wrong-solutions.
"""
import json
import signal
import time
from collections import defaultdict

import pytest

from lessons import exercises


def pytest_addoption(parser):
    group = parser.getgroup("exercises")
    group.addoption("--exercise", action="append", default=[], metavar="ID",
                    help="grade your solution of exercise ID (e.g. 3.2) in lessons/exercises/"
                         ": runs only that exercise's tests, with your code; 'all' for all")
    group.addoption("--results", default=None, metavar="FILE",
                    help="with --exercise: write Gradescope's results.json to FILE")
    group.addoption("--candidate", action="append", default=[], metavar="ID=NAME",
                    help="with --exercise: grade NAME in place of the stub of exercise ID: "
                         "'reference' (the library's solution) or a wrong solution from "
                         "tests/wrong_solutions/")
    group.addoption("--check-timeout", type=float, default=None, metavar="SECONDS",
                    help="with --exercise: a check running longer fails (the autograder's "
                         "per-test limit)")
    group.addoption("--wrong-solutions", action="store_true",
                    help="run every exercise's grader on the reference and on each known "
                         "wrong solution (tests/wrong_solutions/): each must be rejected")


def exercise_of(item):
    marker = item.get_closest_marker("exercise")
    return None if marker is None else marker.args[0]


def property_of(item):
    """The marker's words; "{mode}" in them is filled from the test's parameters."""
    marker = item.get_closest_marker("exercise")
    if len(marker.args) < 2:
        return item.originalname
    params = item.callspec.params if hasattr(item, "callspec") else {}
    return marker.args[1].format(**params) if "{" in marker.args[1] else marker.args[1]


def visibility_of(item):
    return item.get_closest_marker("exercise").kwargs.get("visibility", "visible")


def candidates(config):
    """--candidate ID=NAME options as {exercise id: name}; refuses unknown ones."""
    chosen = {}
    for option in config.getoption("--candidate"):
        exercise, _, name = option.partition("=")
        if exercise not in exercises.EXERCISES or not name:
            raise pytest.UsageError(f"--candidate {option}: expected ID=NAME with ID one of "
                                    f"{', '.join(exercises.EXERCISES)}")
        known = ["reference"] + [w.__name__ for w in _wrong(exercise)]
        if name not in known:
            raise pytest.UsageError(f"--candidate {option}: exercise {exercise} has no "
                                    f"candidate {name!r}; known: {', '.join(known)}")
        chosen[exercise] = name
    return chosen


def _wrong(exercise):
    """The catalogue's wrong solutions of an exercise (none in a student release)."""
    try:
        from tests.wrong_solutions import WRONG
    except ImportError:
        return []
    return WRONG.get(exercise, [])


def _grading(config):
    return bool(config.getoption("--exercise")) or config.getoption("--wrong-solutions")


def pytest_configure(config):
    config.addinivalue_line("markers", "exercise(id, property): grades lesson exercise id")
    if config.getoption("--results") and not config.getoption("--exercise"):
        raise pytest.UsageError("--results needs --exercise ID (or --exercise all): it writes "
                                "the scores of the exercises graded")
    if config.getoption("--candidate"):
        if not config.getoption("--exercise"):
            raise pytest.UsageError("--candidate needs --exercise ID (the exercise to grade)")
        candidates(config)                        # refuse a misspelt name before any test
    if _grading(config):
        if config.option.tbstyle == "auto":       # a student reads the assertion, not pytest;
            # the catalogue's verdict is its own report (its failures are the point)
            config.option.tbstyle = "no" if config.getoption("--wrong-solutions") else "short"
        config.option.reportchars = ""            # the report below replaces the summary
        config.pluginmanager.register(Grader(config), "exercise-grader")


def pytest_generate_tests(metafunc):
    """--wrong-solutions: run each graded test on the reference and every wrong one."""
    if not metafunc.config.getoption("--wrong-solutions"):
        return
    marker = metafunc.definition.get_closest_marker("exercise")
    if marker is None or "implementation" not in metafunc.fixturenames:
        return
    names = ["reference"] + [w.__name__ for w in _wrong(marker.args[0])]
    metafunc.parametrize("implementation", names, indirect=True, ids=names)


@pytest.fixture
def implementation(request):
    """The object a test marked ``@pytest.mark.exercise("N.M", ...)`` checks."""
    marker = request.node.get_closest_marker("exercise")
    if marker is None:
        raise RuntimeError('the implementation fixture needs @pytest.mark.exercise("N.M")')
    exercise = marker.args[0]
    candidate = getattr(request, "param", None) or \
        candidates(request.config).get(exercise)
    if candidate not in (None, "reference"):
        return {w.__name__: w for w in _wrong(exercise)}[candidate]
    student = bool(request.config.getoption("--exercise")) and candidate is None
    return exercises.load(exercise, student=student)


class Grader:
    """Selects the graded tests, records each outcome, and reports per exercise."""

    def __init__(self, config):
        self.config = config
        self.chosen = config.getoption("--exercise") or ["all"]
        self.outcomes = defaultdict(list)    # (exercise, candidate) -> [(property, passed)]
        self.cupy_skipped = 0
        self.notes = {}                      # exercise -> "not written yet", ...
        self.started = time.monotonic()
        self.checks = defaultdict(list)      # exercise -> [(property, passed, visibility)]

    def pytest_collection_modifyitems(self, config, items):
        unknown = [c for c in self.chosen if c != "all" and c not in exercises.EXERCISES]
        if unknown:
            raise pytest.UsageError(f"unknown exercise {unknown}; known: "
                                    f"{', '.join(exercises.EXERCISES)}")
        import nn
        keep, drop = [], []
        for item in items:
            exercise = exercise_of(item)
            graded = exercise is not None and ("all" in self.chosen or exercise in self.chosen)
            on_cupy = "[cupy" in item.name or "-cupy" in item.name
            if graded and on_cupy and not nn.gpu_available():
                self.cupy_skipped += 1
                graded = False
            if "strict_cupy" in item.name:   # the library's device path, not the student's
                graded = False
            (keep if graded else drop).append(item)
        config.hook.pytest_deselected(items=drop)
        items[:] = keep

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        """--check-timeout: an endless loop fails its check instead of hanging the run."""
        limit = self.config.getoption("--check-timeout")
        if not limit:
            yield
            return

        def expired(signum, frame):
            raise TimeoutError(f"the check ran longer than {limit:g} s (an endless loop?)")
        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """Code not written yet, or that does not import: one line, not a traceback."""
        report = (yield).get_result()
        if not report.failed or call.excinfo is None:
            return
        if call.excinfo.errisinstance(NotImplementedError):
            note = "not written yet"
            report.longrepr = f"NotImplementedError: {call.excinfo.value} ({note})"
        elif call.when == "setup" and call.excinfo.errisinstance((SyntaxError, ImportError)):
            note = f"your code does not import: {call.excinfo.typename}: {call.excinfo.value}"
            report.longrepr = note
        else:
            return
        self.notes.setdefault(exercise_of(item), note)

    def pytest_runtest_logreport(self, report):
        if report.skipped:          # e.g. the torch check without torch: not a failure
            return
        if report.when == "call" or report.outcome == "failed":
            item = self._items.get(report.nodeid)
            if item is None:
                return
            candidate = getattr(item, "callspec", None)
            candidate = candidate.params.get("implementation", "reference") if candidate \
                else "reference"
            key = (exercise_of(item), candidate)
            self.outcomes[key].append((property_of(item), report.passed))
            if candidate == "reference":
                self.checks[exercise_of(item)].append(
                    (property_of(item), report.passed, visibility_of(item)))

    def pytest_collection_finish(self, session):
        self._items = {item.nodeid: item for item in session.items}

    def summary(self):
        """{exercise: ([failed properties], checks passed, checks run)}."""
        result = {}
        for (exercise, candidate), records in sorted(self.outcomes.items()):
            if candidate == "reference":
                failed = list(dict.fromkeys(p for p, ok in records if not ok))
                result[exercise] = (failed, sum(ok for _, ok in records), len(records))
        return result

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        write("")
        if self.cupy_skipped:
            write(f"({self.cupy_skipped} CuPy checks not run: no GPU here; NumPy ones ran)")
        if self.config.getoption("--wrong-solutions"):
            self._report_catalogue(write)
            return
        summary = self.summary()
        for exercise, (failed, passed, count) in summary.items():
            todo = f"; {self.notes[exercise]}" if exercise in self.notes else ""
            write(f"Exercise {exercise}: {'NOT YET' if failed else 'PASSED'} "
                  f"({passed}/{count} checks passed{todo})")
            for prop in failed:
                write(f"  failed: {prop}")
            if failed:
                write(f"  reread: {exercises.EXERCISES[exercise].lesson}")
        path = self.config.getoption("--results")
        if path:
            write_results(path, self.checks, time.monotonic() - self.started)
            write(f"wrote {path}")

    def _report_catalogue(self, write):
        """Every wrong solution must fail a check, the reference none; else exit 1."""
        problems = []
        by_exercise = defaultdict(list)
        for (exercise, candidate), records in sorted(self.outcomes.items()):
            caught = [p for p, ok in records if not ok]
            by_exercise[exercise].append((candidate, caught))
            if candidate == "reference" and caught:
                problems.append(f"the reference of {exercise} fails: {caught[0]}")
            if candidate != "reference" and not caught:
                problems.append(f"{exercise}: wrong solution {candidate} passes the grader")
        for exercise, rows in by_exercise.items():
            wrong = [(c, caught) for c, caught in rows if c != "reference"]
            write(f"Exercise {exercise}: {len(wrong)} wrong solutions")
            for candidate, caught in wrong:
                write(f"  {candidate}: {'caught by ' + repr(caught[0]) if caught else 'NOT CAUGHT'}")
        for problem in problems:
            write(f"PROBLEM: {problem}")
        self.catalogue_ok = not problems

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.config.getoption("--wrong-solutions"):
            # Failing tests are the point here; the verdict is the catalogue's.
            problems = [1 for (e, c), records in self.outcomes.items()
                        if (c == "reference") == any(not ok for _, ok in records)]
            session.exitstatus = 1 if problems else 0


def exercise_results(exercise, checks):
    """Gradescope tests for one exercise: [(property, passed, visibility)] -> one test per
    visibility, each check earning an equal share of the exercise's points."""
    points = exercises.POINTS[exercise] / max(len(checks), 1)
    tests = []
    for visibility in dict.fromkeys(v for _, _, v in checks):
        mine = [(p, ok) for p, ok, v in checks if v == visibility]
        failed = list(dict.fromkeys(p for p, ok in mine if not ok))
        passed = sum(ok for _, ok in mine)
        output = f"all {len(mine)} checks passed" if not failed else (
            f"{passed}/{len(mine)} checks passed; failed: " + "; ".join(failed) +
            f". Reread {exercises.EXERCISES[exercise].lesson}.")
        name = f"Exercise {exercise}" + ("" if visibility == "visible" else f" ({visibility})")
        tests.append({"name": name, "number": exercise, "score": round(points * passed, 4),
                      "max_score": round(points * len(mine), 4), "output": output,
                      "visibility": visibility, "status": "failed" if failed else "passed"})
    return tests


def results_document(tests, execution_time):
    """Gradescope's results.json: the total, the tests, how long grading took."""
    return {"score": round(sum(t["score"] for t in tests), 4), "tests": tests,
            "execution_time": round(execution_time, 1), "visibility": "visible",
            "stdout_visibility": "hidden"}


def write_results(path, checks, execution_time):
    """Gradescope's autograder results for the exercises graded (checks: exercise ->
    [(property, passed, visibility)])."""
    tests = [t for exercise in sorted(checks, key=list(exercises.EXERCISES).index)
             for t in exercise_results(exercise, checks[exercise])]
    with open(path, "w") as f:
        json.dump(results_document(tests, execution_time), f, indent=2)
