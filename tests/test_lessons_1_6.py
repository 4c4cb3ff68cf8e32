"""Lessons 1-6 run top to bottom in fast mode and save the pictures they promise.

Each lesson runs as a student would run it (``python lessons/0N_x.py``, from the repo
root) in a subprocess, with LESSON_FAST=1 and its pictures sent to a temporary folder.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from lessons import exercises

REPO = Path(__file__).resolve().parents[1]

# lesson -> the pictures it saves (lessons/output/<lesson>/<name>.png)
LESSONS = {
    "01_tensors_and_autograd": ["computation_graph", "gradient_of_x_sin_x"],
    "02_gradient_checking": ["error_vs_eps", "batchnorm_all_ones_trap"],
    "03_convolution": ["im2col_matrix", "kernels_and_feature_maps", "first_layer_at_init"],
    "04_transposed_convolution": ["conv_matrix_and_transpose", "checkerboard"],
    "05_batch_normalisation": ["histograms_before_after", "running_statistics"],
    "06_activations_and_dropout": ["relu_vs_leaky_relu", "dropout_variance"],
}
# lesson -> the exercises it hands out
EXERCISES = {
    "01_tensors_and_autograd": ["1.1"],
    "03_convolution": ["3.1", "3.2"],
    "04_transposed_convolution": ["4.1"],
    "05_batch_normalisation": ["5.1"],
    "06_activations_and_dropout": ["6.1", "6.2"],
}


def lesson_path(lesson):
    return REPO / "lessons" / f"{lesson}.py"


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_runs_in_fast_mode_and_saves_its_pictures(lesson, tmp_path):
    env = dict(os.environ, LESSON_FAST="1", LESSON_OUTPUT=str(tmp_path), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(lesson_path(lesson))], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (f"{lesson} failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    written = sorted(p.stem for p in (tmp_path / lesson).glob("*.png"))
    assert written == sorted(LESSONS[lesson])
    for name in LESSONS[lesson]:
        path = tmp_path / lesson / f"{name}.png"
        with Image.open(path) as img:
            assert min(img.size) > 100, f"{path} is only {img.size}"
        assert str(path) in result.stdout, "the closing list_pictures() should name it"


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_has_the_house_structure(lesson):
    """Cells, a Summary, Exercises and the pointer to the next lesson (STYLE.md, Lessons)."""
    text = lesson_path(lesson).read_text()
    assert text.count("# %%") >= 5
    for part in ("## Summary", "## Exercises", "Next: python lessons/", "list_pictures()",
                 "save_figure("):
        assert part in text, f"{lesson} lacks {part!r}"


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_names_the_grading_command_of_each_of_its_exercises(lesson):
    text = lesson_path(lesson).read_text()
    named = re.findall(r"python -m pytest --exercise (\d+\.\d+)", text)
    assert set(named) <= set(exercises.EXERCISES), f"unknown exercise ids in {lesson}: {named}"
    missing = set(EXERCISES.get(lesson, [])) - set(named)
    assert not missing, f"{lesson} never says how to grade exercise(s) {sorted(missing)}"
