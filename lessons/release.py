"""Write a student copy of this repository, with the exercised pieces of the library cut out.

    python -m lessons.release DIR

The library marks its own implementation of every exercise with nbgrader's markers::

    def forward(ctx, x):
        ### BEGIN SOLUTION 6.1
        ...
        ### END SOLUTION

(comments: they change nothing at run time). In the copy, each marked region becomes
``raise NotImplementedError("Exercise 6.1")`` at the same indentation; no marker and no
solution line remains. The exercise stubs in lessons/exercises/ and the instructors' tests
(the catalogue of wrong solutions) are left out, and the copy's registry is switched to
release mode: ``python -m pytest --exercise N.M`` there grades the library itself, so each
exercise fails until its hole is filled, and once every hole is filled ``python train.py``
trains pix2pix on the student's own library.
"""
import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION (?P<id>\d+b?\.\d+)[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
# Instructors' material: not part of a student copy (the stubs are not needed there).
LEFT_OUT = ("lessons/exercises/ex", "tests/wrong_solutions/", "tests/graders/test_graders_reject",
            "tests/lessons/test_release.py", "tests/lessons/test_exercise_stubs.py", "lessons/release.py")
# Where the library's marked solutions live.
LIBRARY = ("nn/", "pix2pix/")
RELEASE_FLAG = "lessons/exercises/RELEASE"


class MarkerError(ValueError):
    pass


def strip_solutions(text, where="<text>"):
    """(text with every marked region replaced by a NotImplementedError, exercise ids)."""
    out, ids, open_id = [], [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        begin = BEGIN.match(line)
        if begin:
            if open_id is not None:
                raise MarkerError(f"{where}:{number}: BEGIN SOLUTION inside exercise {open_id}")
            open_id = begin["id"]
            ids.append(open_id)
            out.append(f'{begin["indent"]}raise NotImplementedError("Exercise {open_id}")\n')
        elif END.match(line):
            if open_id is None:
                raise MarkerError(f"{where}:{number}: END SOLUTION without BEGIN")
            open_id = None
        elif "SOLUTION" in line and "###" in line:
            raise MarkerError(f"{where}:{number}: malformed marker: {line.strip()}")
        elif open_id is None:
            out.append(line)
    if open_id is not None:
        raise MarkerError(f"{where}: exercise {open_id} has no END SOLUTION")
    return "".join(out), ids


def tracked_files(repo=REPO):
    """The repository's files as git knows them (tracked, and untracked but not ignored)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=repo, capture_output=True, text=True, check=True).stdout
    return [p for p in listed.splitlines() if (repo / p).is_file()]


def make_release(dest, repo=REPO):
    """Write the student copy into ``dest`` (which must not exist); returns {id: [files]}."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists: choose a new folder for the release")
    holes = {}
    for rel in tracked_files(repo):
        if rel.startswith(LEFT_OUT):
            continue
        source, target = repo / rel, dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".py") and rel.startswith(LIBRARY):
            text, ids = strip_solutions(source.read_text(), rel)
            target.write_text(text)
            for exercise_id in ids:
                holes.setdefault(exercise_id, []).append(rel)
        else:
            shutil.copy2(source, target)
    (dest / RELEASE_FLAG).write_text("This is a student release: the exercises grade the "
                                     "library itself (see lessons/exercises/__init__.py).\n")
    return holes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessons.release",
                                     description="write a student copy without solutions")
    parser.add_argument("dest", help="new folder for the student copy")
    args = parser.parse_args(argv)
    try:
        holes = make_release(args.dest)
    except (MarkerError, FileExistsError) as e:
        sys.exit(f"release: {e}")
    print(f"wrote a student release to {args.dest}: {len(holes)} exercises cut out")
    for exercise_id, files in sorted(holes.items()):
        print(f"  {exercise_id:5s} {', '.join(sorted(set(files)))}")
    print(f"grade with:  cd {args.dest} && pip install -e . && python -m pytest --exercise all")


if __name__ == "__main__":
    main()
