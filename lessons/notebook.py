"""Turn a lesson into a Jupyter notebook, and optionally run it.

Every lesson is a "percent" script: ``# %%`` starts a code cell, ``# %% [markdown]`` a
text cell. jupytext reads that format as a notebook (pip install -e ".[lessons]").

    python -m lessons.notebook lessons/03_convolution.py           # -> lessons/notebooks/
    python -m lessons.notebook --execute --fast lessons/*.py        # run them, as the tests do

Jupyter and VS Code can also open the .py file directly as a notebook (see the README).
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
    for lesson in args.lessons:
        notebook = to_notebook(lesson)
        if args.execute:
            notebook = execute(notebook, fast=args.fast)
        target = Path(args.out) / (Path(lesson).stem + ".ipynb")
        nbformat.write(notebook, str(target))
        print(f"wrote {target}")


if __name__ == "__main__":
    sys.exit(main())
