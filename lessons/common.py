"""What every lesson shares: fast mode, the output folder, saving figures.

Run a lesson in full:   python lessons/03_convolution.py
Fast mode (CI, tests):  LESSON_FAST=1 python lessons/03_convolution.py   (or --fast)

In a student release a lesson that calls an exercise not written yet (its stub raises
NotImplementedError("Exercise N.M")) stops with one line instead of a traceback: which
exercise, where the lesson's recorded output is, how to grade it (unwritten_exercise_line).
"""
import os
import re
import sys
from pathlib import Path

import matplotlib

if "ipykernel" not in sys.modules:  # in Jupyter, keep the inline backend for pictures
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Small sizes and few steps, so every lesson finishes in seconds under test.
FAST = os.environ.get("LESSON_FAST") == "1" or "--fast" in sys.argv

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # lets `python lessons/NN_x.py` import nn and pix2pix
    sys.path.insert(0, str(REPO))

_saved = []


def output_dir(lesson):
    """lessons/output/<lesson>/ (override the root with LESSON_OUTPUT)."""
    root = Path(os.environ.get("LESSON_OUTPUT", REPO / "lessons" / "output"))
    folder = root / lesson
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_figure(fig, lesson, name):
    """Save a matplotlib figure as <output>/<lesson>/<name>.png, show it inline in a
    notebook, and remember it for the closing list."""
    path = output_dir(lesson) / f"{name}.png"
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _saved.append(path)
    if "ipykernel" in sys.modules:
        plt.show()
    plt.close(fig)
    print(f"saved {path}")
    return path


def list_pictures():
    """Print every picture this lesson saved (call at the end)."""
    print("\nPictures from this lesson:")
    for path in _saved:
        print(f"  {path}")


def facades_root():
    """The CMP Facades folder if it is here (../shared/facades or datasets/facades)."""
    for root in (REPO.parent / "shared" / "facades", REPO / "datasets" / "facades"):
        if (root / "val").is_dir() and (root / "train").is_dir():
            return root
    return None


def to_rgb(chw):
    """(3, H, W) in [-1, 1] -> (H, W, 3) in [0, 1] for imshow."""
    import numpy as np
    return np.clip((np.asarray(chw).transpose(1, 2, 0) + 1) / 2, 0, 1)


# ---- shared by the training lessons (7, 10, 11) ------------------------------------------

def facades_or_synthetic(size, n_train=16, n_val=4, real=True):
    """(train_set, val_set, name) at size x size, labels -> photo (BtoA, the paper's way).

    The CMP facades when present and real=True (training pairs resized to the paper's
    286/256 ratio, then randomly cropped), else pix2pix.data.synthetic.SyntheticFacades with
    n_train training and n_val validation facades.
    """
    from pix2pix.data.datasets import AlignedDataset
    from pix2pix.data.synthetic import SyntheticFacades
    load = round(size * 286 / 256)
    root = facades_root() if real else None
    if root is not None:
        train = AlignedDataset(root, "train", direction="BtoA", load_size=load, crop_size=size)
        val = AlignedDataset(root, "val", direction="BtoA", crop_size=size, train=False)
        return train, val, f"CMP facades ({len(train)} training pairs)"
    return (SyntheticFacades(n=n_train, size=size, load_size=load),
            SyntheticFacades(n=n_val, size=size, seed=1, train=False), "synthetic facades")


def train_iterations(model, loader, iters, every=0, on_every=None):
    """Run model.train_step on loader's minibatches, epoch after epoch (each reshuffled
    and re-jittered), for iters iterations; call on_every(iteration) every `every`
    iterations. Returns the list of loss dicts, one per iteration."""
    records, epoch = [], 0
    while len(records) < iters:
        loader.set_epoch(epoch)
        for batch in loader:                            # A, B: (N, 3, S, S) float32
            records.append(model.train_step(batch["A"], batch["B"]))
            if every and on_every is not None and len(records) % every == 0:
                on_every(len(records))
            if len(records) == iters:
                break
        epoch += 1
    return records


def held_out_l1(model, items):
    """Mean |G(A) - B| over held-out items (dicts with A, B: (3, S, S)), G run the
    paper's way (model.generate)."""
    import numpy as np
    return float(np.mean([np.abs(model.generate(it["A"][None])[0] - it["B"]).mean()
                          for it in items]))


def write_numbers(lesson, numbers):
    """Save a lesson's measured numbers as <output>/<lesson>/numbers.json (the tests read
    it: a lesson in fast mode must still show learning)."""
    import json
    path = output_dir(lesson) / "numbers.json"
    path.write_text(json.dumps(numbers, indent=1))
    print(f"saved {path}")
    return path


# ---- timing tables (lessons 3 and 4) ---------------------------------------------------

def pinned_threads(threads=1):
    """A context manager that limits NumPy's BLAS to `threads` threads (threadpoolctl, in
    the `lessons` extra), so that a timing table compares like with like on any machine.
    Without threadpoolctl it changes nothing and says so."""
    import contextlib
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed (pip install -e '.[lessons]'): BLAS threads "
              f"not pinned, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        return contextlib.nullcontext()
    print(f"timings below: BLAS limited to {threads} thread(s); each is the minimum of "
          "several repeats")
    return threadpool_limits(limits=threads)


def time_min(fn, repeats=5):
    """(min, median) wall time in seconds of `repeats` runs of fn(), after one untimed
    warm-up run. The minimum is the run least disturbed by other programs; median / min
    shows how much the others were disturbed."""
    import statistics
    import time
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def noise_warning(spreads, limit=1.3):
    """A sentence when the repeats of a table varied by more than `limit`x (median / min)
    or the machine's load exceeds its cores, else ''."""
    worst = max(spreads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if worst > limit or load > (os.cpu_count() or 1):
        return (f"NOTE: this machine is too busy to time reliably (median / min of the "
                f"repeats up to {worst:.1f}x, load {load:.1f} on {os.cpu_count()} cores): trust the "
                "order of magnitude, not the exact ratios; rerun when it is quiet.")
    return ""


# ---- the numerical check every derivation cell uses (lessons 1, 3-6, 9) ---------------

def numeric_grad(f, a, h=1e-6):
    """d f / d a by centred differences, one element at a time: (f(a + h e_k) -
    f(a - h e_k)) / 2h for each k. f: array -> float; a: float or array (float64).
    Two forward passes per element: for tiny arrays only (lesson 2 says why it works)."""
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    out = np.zeros_like(a)
    for k in range(a.size):
        e = np.zeros_like(a)
        e.flat[k] = h
        out.flat[k] = (f(a + e) - f(a - e)) / (2 * h)
    return out


def image_grid(rows, titles, cell=(2.0, 2.0), fontsize=9):
    """A figure of images: rows is a list of lists of (3, H, W) arrays in [-1, 1], titles
    names the columns (written above the first row). Returns (fig, axes)."""
    fig, axes = plt.subplots(len(rows), len(titles), squeeze=False,
                             figsize=(cell[0] * len(titles), cell[1] * len(rows)))
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            axes[r, c].imshow(to_rgb(img))
            axes[r, c].axis("off")
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=fontsize)
    return fig, axes


# ---- a student release: the lesson reaches an exercise not written yet ------------------

RECORDED = Path("lessons") / "recorded"       # lessons/recorded/<lesson>.txt, in a release
HOLE = re.compile(r"Exercise (\d+b?\.\d+)")    # the stubs' NotImplementedError message


def unwritten_exercise_line(lesson, kind, message):
    """The one line a lesson stops with when it called a stub (kind "NotImplementedError",
    message "Exercise N.M"), or None for any other error. lesson: "03_convolution"."""
    hole = HOLE.fullmatch(message) if kind == "NotImplementedError" else None
    if hole is None:
        return None
    from lessons.exercises import EXERCISES
    exercise_id = hole.group(1)
    exercise = EXERCISES.get(exercise_id)
    name = f" ({exercise.reference.split(':')[1]})" if exercise else ""
    number = re.match(r"0*(\d+b?)", lesson)
    recorded = RECORDED / f"{lesson}.txt"
    where = f"its recorded output is {recorded.as_posix()}; " if (REPO / recorded).is_file() \
        else ""
    return (f"lesson {number.group(1) if number else lesson} needs exercise {exercise_id}{name}, "
            f"not written yet: {where}grade yours with python -m pytest --exercise {exercise_id}")


def _lesson_name():
    """The running lesson's LESSON ("03_convolution"): a script's or a notebook's globals."""
    main = sys.modules.get("__main__")
    return getattr(main, "LESSON", None) or Path(sys.argv[0]).stem


def _stop_at_hole(kind, error, traceback):
    """sys.excepthook of a lesson run as a script: the one line (exit status 1) for a stub."""
    line = unwritten_exercise_line(_lesson_name(), kind.__name__, str(error))
    if line is None:
        return _default_excepthook(kind, error, traceback)
    print(line, file=sys.stderr)


def _stop_at_hole_in_jupyter(shell, kind, error, traceback, tb_offset=None):
    """IPython's handler for NotImplementedError: the cell still fails (Run All stops
    there), showing the one line instead of a traceback."""
    line = unwritten_exercise_line(_lesson_name(), kind.__name__, str(error))
    if line is None:
        shell.showtraceback((kind, error, traceback), tb_offset=tb_offset)
    else:
        print(line, file=sys.stderr)


_default_excepthook = sys.excepthook
sys.excepthook = _stop_at_hole
if "ipykernel" in sys.modules:
    from IPython import get_ipython
    if get_ipython() is not None:
        get_ipython().set_custom_exc((NotImplementedError,), _stop_at_hole_in_jupyter)
