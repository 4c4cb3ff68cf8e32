"""Measure what lessons/COURSE.md says each exercise and each lesson needs (instructors only).

    python -m lessons.instructors.needs WORKDIR            exercises: about 11 s each, 2 cores
    python -m lessons.instructors.needs WORKDIR --lessons  lessons, run fast: about 10 minutes

In a student release everything runs on the student's own code. Exercises: a release with
every hole filled by the reference; for each exercise Y in turn, Y alone is put back to its
stub and every exercise graded: those that stop passing need Y (the "needs exercises"
column). Lessons: in a release with every hole empty, each lesson is run (LESSON_FAST=1);
it stops at the first exercise it needs, which is then filled, until it runs to the end (the
"runs in your copy once written" column). Prints one line per exercise or lesson:
"X: Y, Z", or "X: -".
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lessons.exercises import EXERCISES
from lessons.release import REPO, make_release, solution_sources, strip_solutions

ORDER = list(EXERCISES)


def with_stubs(rel, cut):
    """The release's text of library file ``rel`` with the exercises in ``cut`` cut out and
    every other solution in place."""
    return strip_solutions((REPO / rel).read_text(), rel, filled=set(EXERCISES) - set(cut))[0]


def run(folder, args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(folder), "LESSON_FAST": "1",
           "LESSON_OUTPUT": str(folder / "lesson_output"), "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=timeout)


def failing(folder):
    """The exercises that do not get full marks when graded in ``folder``."""
    results = folder / "results.json"
    run(folder, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--exercise", "all",
                 f"--results={results}"])
    tests = json.loads(results.read_text())["tests"]
    return {t["name"].split()[-1] for t in tests if t["score"] < t["max_score"]}


def exercise_needs(workdir):
    """{exercise: [the exercises its grading runs through]}."""
    filled = workdir / "filled"
    make_release(filled, filled=True)
    if failing(filled):
        sys.exit("the filled release does not pass: fix that first")
    needs = {exercise_id: [] for exercise_id in EXERCISES}
    for exercise_id, (rel, _) in solution_sources().items():
        copy = shutil.copytree(filled, workdir / f"without_{exercise_id}")
        (copy / rel).write_text(with_stubs(rel, {exercise_id}))
        for other in failing(copy) - {exercise_id}:
            needs[other].append(exercise_id)
        shutil.rmtree(copy)
    return needs


def lesson_needs(workdir):
    """{lesson: [the exercises it calls, filled one at a time until it finishes]}."""
    empty = workdir / "empty"
    make_release(empty)
    sources, needs = solution_sources(), {}
    for path in sorted((REPO / "lessons").glob("[0-9][0-9]*_*.py")):
        lesson, written = path.name.split("_")[0], []
        copy = shutil.copytree(empty, workdir / f"lesson_{lesson}")
        while True:
            done = run(copy, [f"lessons/{path.name}"])
            stop = re.search(r"needs exercise (\S+) \(", done.stderr)
            if done.returncode == 0 or stop is None:
                break
            written.append(stop.group(1))
            rel = sources[stop.group(1)][0]
            (copy / rel).write_text(with_stubs(rel, set(EXERCISES) - set(written)))
        if done.returncode != 0:
            sys.exit(f"lesson {lesson} failed for another reason:\n{done.stderr[-2000:]}")
        needs[lesson] = written
        shutil.rmtree(copy)
    return needs


def main(argv):
    workdir = Path(argv[0])
    needs = lesson_needs(workdir) if "--lessons" in argv else exercise_needs(workdir)
    for name, found in needs.items():
        print(f"{name}: {', '.join(sorted(found, key=ORDER.index)) or '-'}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
