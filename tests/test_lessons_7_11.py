"""Lessons 7-11 run top to bottom in fast mode and save their pictures.

Each lesson runs as a student would run it (``python lessons/NN_name.py`` from the repo
root) with LESSON_FAST=1 (small widths and sizes, a handful of steps) and LESSON_OUTPUT
pointing at a temporary folder. A lesson whose code or whose use of the library broke
exits non-zero, or fails to produce its pictures.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

LESSONS = {
    "07_unet": ["unet_diagram", "feature_maps", "skips_vs_no_skips"],
    "08_patchgan": ["patch_map", "receptive_field"],
    "09_objective": ["objective_curves"],
    "10_training_on_facades": ["jitter", "samples_over_time", "loss_curves",
                               "checkpoint_roundtrip"],
    "11_evaluation_and_ablations": ["ablation_outputs", "lab_histograms"],
}


@pytest.mark.parametrize("lesson", sorted(LESSONS))
def test_lesson_runs_in_fast_mode(lesson, tmp_path):
    env = dict(os.environ, LESSON_FAST="1", LESSON_OUTPUT=str(tmp_path), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(REPO / "lessons" / f"{lesson}.py")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (f"{lesson} failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    for picture in LESSONS[lesson]:
        path = tmp_path / lesson / f"{picture}.png"
        assert path.is_file() and path.stat().st_size > 1000, f"{lesson}: no {path.name}"
    assert "Pictures from this lesson:" in result.stdout       # list_pictures() ran
