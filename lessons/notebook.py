"""Turn a lesson into a Jupyter notebook, and optionally run it.

Every lesson is a "percent" script: ``# %%`` starts a code cell, ``# %% [markdown]`` a
text cell. jupytext reads that format as a notebook (pip install -e ".[lessons]").

    python -m lessons.notebook lessons/03_convolution.py           # -> lessons/notebooks/
    python -m lessons.notebook --execute --fast lessons/*.py        # run them, as the tests do

Jupyter and VS Code can also open the .py file directly as a notebook (see the README).
In a student release, a lesson that reaches an exercise not written yet stops with one line
(lessons.common.unwritten_exercise_line; exit status 1); its notebook is still written, run
up to that cell.
"""
import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def to_notebook(path):
    """The lesson at path as a notebook node (jupytext, py:percent)."""
    import jupytext
    return jupytext.read(str(path), fmt="py:percent")


def execute(notebook, fast=True, output=None, timeout=600):
    """Run every cell of notebook in a fresh python3 kernel started in the repo root, with
    LESSON_FAST=1 when fast and LESSON_OUTPUT=output when given. Returns the notebook
    with its outputs; raises nbclient's CellExecutionError naming the failing cell."""
    from nbclient import NotebookClient
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
    if fast:
        env["LESSON_FAST"] = "1"
    if output is not None:
        env["LESSON_OUTPUT"] = str(output)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}})
    return client.execute(env=env)


def printed_text(notebook):
    """Everything the cells printed (stdout streams), joined."""
    return "".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def run_lesson(lesson, output, fast=True, timeout=600):
    """Convert lessons/<lesson>.py and run it as a notebook; returns what it printed."""
    return printed_text(execute(to_notebook(REPO / "lessons" / f"{lesson}.py"), fast=fast,
                                output=output, timeout=timeout))


def main(argv=None):
    import nbformat
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="+", help="lesson scripts, e.g. lessons/01_*.py")
    parser.add_argument("--execute", action="store_true", help="run the notebook as well")
    parser.add_argument("--fast", action="store_true", help="with --execute: LESSON_FAST=1")
    parser.add_argument("--out", default=str(REPO / "lessons" / "notebooks"),
                        help="folder for the .ipynb files (default lessons/notebooks)")
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    stopped = 0
    for lesson in args.lessons:
        notebook = to_notebook(lesson)
        target = Path(args.out) / (Path(lesson).stem + ".ipynb")
        if args.execute:
            line = _execute_until_hole(notebook, Path(lesson).stem, args.fast)
            if line is not None:             # the cells run so far keep their outputs
                nbformat.write(notebook, str(target))
                print(line, file=sys.stderr)
                stopped += 1
                continue
        nbformat.write(notebook, str(target))
        print(f"wrote {target}")
    return 1 if stopped else 0


def _execute_until_hole(notebook, lesson, fast):
    """Run notebook in place; None when every cell ran, the one line when a cell called an
    exercise not written yet (a student release). Any other error is raised."""
    from nbclient.exceptions import CellExecutionError

    from lessons.common import unwritten_exercise_line
    try:
        execute(notebook, fast=fast)
        return None
    except CellExecutionError as error:
        line = unwritten_exercise_line(lesson, error.ename, error.evalue)
        if line is None:
            raise
        return line


if __name__ == "__main__":
    sys.exit(main())
