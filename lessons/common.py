"""What every lesson shares: fast mode, the output folder, saving figures.

Run a lesson in full:   python lessons/03_convolution.py
Fast mode (CI, tests):  LESSON_FAST=1 python lessons/03_convolution.py   (or --fast)
"""
import os
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
