"""Write a student copy of this repository, with the exercised pieces of the library cut out.

    python -m lessons.release DIR          the student copy
    python -m lessons.release DIR --recorded [full]
                                           ... with each lesson's output recorded in
                                           lessons/recorded/ (fast mode unless "full")
    python -m lessons.release --stubs      write the missing stubs in lessons/exercises/
                                           (the in-repo workflow; lessons/stubs.py)
    python -m lessons.release --diff OLD NEW   what changed between two releases (a
                                           mid-term fix: which files to send students)
    python -m lessons.release --autograder OUT.zip
                                           Gradescope's autograder: setup.sh, run_autograder
                                           and this repository (the reference library and
                                           the grader; see lessons/autograder.py)

The library marks its own implementation of every exercise, one function or class, with
nbgrader's markers (comments: they change nothing at run time)::

    ### BEGIN SOLUTION 6.1
    class LeakyReLUFunction(Function):
        '''Exercise 6.1 ... the whole contract: shapes, conventions, errors, graded.'''
        ...
    ### END SOLUTION

That object is the one source of the exercise. Its *stub* is generated from it: the same
signatures and docstrings, every body replaced by ``raise NotImplementedError("Exercise
6.1")`` (``stub_of``). The student copy has the stub where the solution was; the in-repo
workflow's stub files in lessons/exercises/ are generated from the same text, never
committed (lessons/stubs.py).

Where the library runs a faster form of an exercise (``im2col`` beside the textbook
``im2col_reference``, Adam's in-place update beside ``adam_step_reference``), the fast form
is marked too::

    ### BEGIN FAST 3.1: im2col = im2col_reference
    def im2col(...): ...
    ### END FAST

and the copy replaces it by the statement after the colon, so that it runs the student's
function instead. Once every hole is filled, ``python train.py`` trains pix2pix on the
student's own code. The exercise stubs and the instructors' tests (the catalogue of wrong
solutions) are left out, and the copy's registry is switched to release mode:
``python -m pytest --exercise N.M`` there grades the library itself.
"""
import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXERCISE_ID = r"\d+b?\.\d+"
BEGIN = re.compile(rf"^(?P<indent>[ \t]*)### BEGIN SOLUTION (?P<id>{EXERCISE_ID})[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
FAST_BEGIN = re.compile(rf"^(?P<indent>[ \t]*)### BEGIN FAST (?P<id>{EXERCISE_ID}): "
                        r"(?P<route>\S.*?)[ \t]*$")
FAST_END = re.compile(r"^[ \t]*### END FAST[ \t]*$")
# Instructors' material: not part of a student copy (the stubs are not needed there; the
# answer notes of COURSE.md's written questions, and the test that reads them).
LEFT_OUT = ("lessons/exercises/ex", "lessons/stubs.py", "tests/wrong_solutions/",
            "tests/graders/test_graders_reject",
            "tests/lessons/test_release.py", "tests/lessons/test_exercise_stubs.py",
            "tests/lessons/test_autograder.py", "lessons/release.py", "lessons/autograder.py",
            "lessons/gradescope/", "lessons/STUDENT_README.md",
            "lessons/instructors/", "tests/lessons/test_course.py")
STUDENT_README = "lessons/STUDENT_README.md"      # the release's README.md
GRADESCOPE = "lessons/gradescope"     # setup.sh and run_autograder, at the zip's top
# Where the library's marked solutions live.
LIBRARY = ("nn/", "pix2pix/")
RELEASE_FLAG = "lessons/exercises/RELEASE"
# Each lesson's output in a release (<lesson>.txt and its pictures in <lesson>/): a lesson
# there stops at the first exercise not written yet and points at it (lessons/common.py).
RECORDED = "lessons/recorded"


class MarkerError(ValueError):
    pass


class RecordingError(RuntimeError):
    pass


def _docstring(node):
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        return first
    return None


def _stub_lines(node, lines, exercise_id):
    """Source lines of ``node`` (a def or class) with every function body replaced."""
    start = (node.decorator_list[0] if node.decorator_list else node).lineno
    first = node.body[0]
    if first.lineno == node.lineno:
        raise MarkerError(f"exercise {exercise_id}: {node.name}'s body starts on its def line")
    out = lines[start - 1:first.lineno - 1]                 # decorators and the signature
    doc = _docstring(node)
    if doc is not None:
        out += lines[doc.lineno - 1:doc.end_lineno]
    rest = node.body[1:] if doc is not None else node.body
    if isinstance(node, ast.ClassDef):
        for statement in rest:
            if isinstance(statement, ast.FunctionDef):
                out += ["\n"] + _stub_lines(statement, lines, exercise_id)
            else:                                           # class attributes stay
                out += lines[statement.lineno - 1:statement.end_lineno]
    else:
        indent = re.match(r"[ \t]*", lines[first.lineno - 1]).group()
        out.append(f'{indent}raise NotImplementedError("Exercise {exercise_id}")\n')
    return out


def stub_of(source, exercise_id):
    """The stub of a solution (the text of one def or class, at any indentation)."""
    source = textwrap.dedent(source)
    body = ast.parse(source).body
    if len(body) != 1 or not isinstance(body[0], (ast.FunctionDef, ast.ClassDef)):
        raise MarkerError(f"exercise {exercise_id}: a solution region must hold exactly one "
                          f"function or class")
    return "".join(_stub_lines(body[0], source.splitlines(keepends=True), exercise_id))


def _indented(text, indent):
    return "".join(indent + line if line.strip() else line
                   for line in text.splitlines(keepends=True))


def _regions(text, where):
    """[(kind, begin match, region text, line number)] and the lines outside regions."""
    out, open_region = [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        begin = BEGIN.match(line) or FAST_BEGIN.match(line)
        if begin:
            if open_region is not None:
                raise MarkerError(f"{where}:{number}: BEGIN inside exercise {open_region[1]['id']}")
            open_region = ["fast" if "route" in begin.groupdict() else "solution", begin, [],
                           number]
        elif END.match(line) or FAST_END.match(line):
            kind = "solution" if END.match(line) else "fast"
            if open_region is None or open_region[0] != kind:
                raise MarkerError(f"{where}:{number}: {line.strip()} without its BEGIN")
            out.append(tuple(open_region[:2]) + ("".join(open_region[2]), open_region[3]))
            open_region = None
        elif "###" in line and ("SOLUTION" in line or "FAST" in line):
            raise MarkerError(f"{where}:{number}: malformed marker: {line.strip()}")
        elif open_region is not None:
            open_region[2].append(line)
        else:
            out.append(line)
    if open_region is not None:
        raise MarkerError(f"{where}: exercise {open_region[1]['id']} has no END")
    return out


def strip_solutions(text, where="<text>", filled=False):
    """(text with every solution replaced by its stub, exercise ids).

    Fast forms are replaced by their route to the exercise. filled=True keeps the solutions
    (a copy whose holes a student filled with the library's code: for tests); a set of ids
    keeps those only (a student who wrote those: lessons/instructors/needs.py).
    """
    out, ids = [], []
    for piece in _regions(text, where):
        if isinstance(piece, str):
            out.append(piece)
            continue
        kind, begin, region, _ = piece
        indent = begin["indent"]
        if kind == "fast":
            out.append(f"{indent}{begin['route']}  # the student's exercise {begin['id']}\n")
            continue
        ids.append(begin["id"])
        solved = filled is True or (filled and begin["id"] in filled)
        out.append(region if solved else _indented(stub_of(region, begin["id"]), indent))
    return "".join(out), ids


def solution_sources(repo=REPO):
    """{exercise id: (library file, solution text)}; each id marks one region only."""
    found = {}
    for rel in tracked_files(repo):
        if not (rel.endswith(".py") and rel.startswith(LIBRARY)):
            continue
        for piece in _regions((repo / rel).read_text(), rel):
            if not isinstance(piece, str) and piece[0] == "solution":
                exercise_id = piece[1]["id"]
                if exercise_id in found:
                    raise MarkerError(f"exercise {exercise_id} is marked twice: "
                                      f"{found[exercise_id][0]} and {rel}")
                found[exercise_id] = (rel, piece[2])
    return found


def tracked_files(repo=REPO):
    """The repository's files as git knows them (tracked, and untracked but not ignored);
    outside a git checkout (the autograder's unpacked copy) every file."""
    if not (repo / ".git").exists():
        return sorted(str(p.relative_to(repo)) for p in repo.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=repo, capture_output=True, text=True, check=True).stdout
    return [p for p in listed.splitlines() if (repo / p).is_file()]


def make_release(dest, repo=REPO, filled=False):
    """Write the student copy into ``dest`` (which must not exist); returns {id: [files]}.

    filled=True: the copy a student who solved everything would have (for tests).
    """
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
            text, ids = strip_solutions(source.read_text(), rel, filled)
            target.write_text(text)
            for exercise_id in ids:
                holes.setdefault(exercise_id, []).append(rel)
        else:
            shutil.copy2(source, target)
    shutil.copy2(repo / STUDENT_README, dest / "README.md")
    (dest / RELEASE_FLAG).write_text("This is a student release: the exercises grade the "
                                     "library itself (see lessons/exercises/__init__.py).\n"
                                     f"Built from commit {_commit(repo)}.\n")
    return holes


def _commit(repo):
    """The commit the release is built from (with "+changes" when the tree differs)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True,
                           text=True).stdout.strip()
    return head + (" +changes" if dirty else "")


def record_lessons(dest, repo=REPO, fast=True, lessons=None, log=print):
    """Run each lesson (every lessons/NN_*.py, or the names in ``lessons``) on this
    repository's full library and write what it printed to dest/lessons/recorded/<lesson>.txt,
    its pictures beside it in <lesson>/. Returns {lesson: seconds its run took}."""
    folder = Path(dest) / RECORDED
    folder.mkdir(parents=True, exist_ok=True)
    names = lessons or sorted(p.stem for p in (repo / "lessons").glob("[0-9]*.py"))
    solutions = solution_sources(repo)
    env = {**os.environ, "PYTHONPATH": str(repo), "LESSON_OUTPUT": str(folder),
           "MPLBACKEND": "Agg", "LESSON_FAST": "1" if fast else "0"}
    seconds = {}
    for name in names:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, str(repo / "lessons" / f"{name}.py")], cwd=repo,
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise RecordingError(f"lesson {name} failed:\n{run.stderr[-3000:]}")
        text = run.stdout.replace(str(folder), RECORDED).replace(f"{repo}{os.sep}", "")
        (folder / f"{name}.txt").write_text(printed_solutions_cut(text, solutions, name))
        seconds[name] = time.perf_counter() - start
        log(f"  recorded {name} ({seconds[name]:.0f} s)")
    return seconds


def printed_solutions_cut(text, solutions, where):
    """A lesson's output with each solution it printed whole (inspect.getsource) replaced by
    its stub, as the release prints it before the student writes it. solutions: as
    solution_sources() gives them. RecordingError when any other line of a solution (20
    characters or more) is left: no answers in a release."""
    for exercise_id, (_, region) in solutions.items():
        node = ast.parse(textwrap.dedent(region)).body[0]        # the one def or class
        start = (node.decorator_list[0] if node.decorator_list else node).lineno
        end = node.end_lineno
        lines = region.splitlines(keepends=True)
        indent = re.match(r"[ \t]*", lines[start - 1]).group()
        text = text.replace("".join(lines[start - 1:end]),
                            _indented(stub_of(region, exercise_id), indent))
    printed = _stripped_lines(text)
    leaked = [f"{exercise_id}: {line}" for exercise_id, (_, region) in solutions.items()
              for line in _stripped_lines(region) - _stripped_lines(stub_of(region, exercise_id))
              if len(line) >= 20 and line in printed]
    if leaked:
        raise RecordingError(f"lesson {where} prints solution lines:\n" + "\n".join(leaked))
    return text


def _stripped_lines(text):
    return {line.strip() for line in text.splitlines()}


def make_autograder(out_zip, repo=REPO):
    """Gradescope's autograder zip: the repository as it is (solutions included: it never
    reaches students) with setup.sh and run_autograder at the top. Returns the file count."""
    out_zip = Path(out_zip)
    if out_zip.exists():
        raise FileExistsError(f"{out_zip} exists: choose a new file for the autograder")
    files = [rel for rel in tracked_files(repo) if not rel.startswith("datasets/")]
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in files:
            archive.write(repo / rel, rel)
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16            # executable, as Gradescope needs
            archive.writestr(info, (repo / GRADESCOPE / name).read_text())
    return len(files) + 2


def release_diff(old, new):
    """Lines saying which files a newer release adds, removes or changes, after the
    commits both were built from."""
    old, new = Path(old), Path(new)
    for folder in (old, new):
        if not (folder / RELEASE_FLAG).is_file():
            raise FileNotFoundError(f"{folder} is not a student release (no {RELEASE_FLAG})")

    def files(folder):
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}
    before, after = files(old), files(new)
    lines = [f"old: {(old / RELEASE_FLAG).read_text().splitlines()[-1]}",
             f"new: {(new / RELEASE_FLAG).read_text().splitlines()[-1]}"]
    for rel in sorted(set(before) | set(after)):
        if rel == RELEASE_FLAG:
            continue
        if rel not in before:
            lines.append(f"added    {rel}")
        elif rel not in after:
            lines.append(f"removed  {rel}")
        elif before[rel] != after[rel]:
            lines.append(f"changed  {rel}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lessons.release",
                                     description="write a student copy without solutions")
    parser.add_argument("dest", nargs="?", help="new folder for the student copy")
    parser.add_argument("--stubs", action="store_true",
                        help="write the missing stubs in lessons/exercises/ from the library")
    parser.add_argument("--autograder", metavar="OUT.zip",
                        help="write Gradescope's autograder zip")
    parser.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"),
                        help="list what changed between two releases")
    parser.add_argument("--recorded", nargs="?", const="fast", choices=("fast", "full"),
                        help="with DEST: also record every lesson's output, run on this "
                             "library, in DEST/lessons/recorded/ (fast mode unless 'full')")
    args = parser.parse_args(argv)
    if sum((args.stubs, bool(args.dest), bool(args.autograder), bool(args.diff))) != 1:
        parser.error("give one of DEST (a new folder), --stubs, --autograder OUT.zip or "
                     "--diff OLD NEW")
    if args.recorded and not args.dest:
        parser.error("--recorded goes with DEST (a new folder for the student copy)")
    try:
        if args.diff:
            print("\n".join(release_diff(*args.diff)))
            return
        if args.autograder:
            count = make_autograder(args.autograder)
            print(f"wrote {args.autograder} ({count} files): upload it as the assignment's "
                  f"autograder on Gradescope")
            return
        if args.stubs:
            from lessons.stubs import write_stubs     # (stubs.py imports this module)
            written, kept = write_stubs()
            print("".join(f"wrote {p.relative_to(REPO)}\n" for p in written) +
                  "".join(f"kept  {p.relative_to(REPO)} (yours: never overwritten)\n"
                          for p in kept) + "grade one with:  python -m pytest --exercise 1.1")
            return
        holes = make_release(args.dest)
        if args.recorded:
            print(f"recording every lesson's output ({args.recorded} mode) in "
                  f"{Path(args.dest) / RECORDED}:")
            seconds = record_lessons(args.dest, fast=args.recorded == "fast")
            print(f"  {len(seconds)} lessons in {sum(seconds.values()):.0f} s")
    except (MarkerError, RecordingError, FileExistsError, FileNotFoundError) as e:
        sys.exit(f"release: {e}")
    print(f"wrote a student release to {args.dest}: {len(holes)} exercises cut out")
    for exercise_id, files in sorted(holes.items()):
        print(f"  {exercise_id:5s} {', '.join(sorted(set(files)))}")
    print(f"grade with:  cd {args.dest} && pip install -e '.[test]' && "
          f"python -m pytest --exercise all")


if __name__ == "__main__":
    main()
