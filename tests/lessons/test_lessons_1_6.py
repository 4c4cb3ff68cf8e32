"""Lessons 1-6b run top to bottom as Jupyter notebooks in fast mode and save the pictures
they promise; each names the grading command of its exercises.

Each lesson is converted with jupytext and executed with nbclient in a fresh kernel
(lessons.notebook.run_lesson), with LESSON_FAST=1 and its pictures sent to a temporary
folder: the way a student opens it in Jupyter. One lesson also runs as a plain script
(``python lessons/01_...py``), the other way the lessons are used.
"""
import os
import re
import subprocess
import sys

import pytest
from PIL import Image
from tests.paths import REPO

# lesson -> the pictures it saves (lessons/output/<lesson>/<name>.png)
LESSONS = {
    "01_tensors_and_autograd": ["computation_graph", "gradient_of_x_sin_x", "mul_backward"],
    "02_gradient_checking": ["error_vs_eps", "batchnorm_all_ones_trap"],
    "03_convolution": ["im2col_matrix", "kernels_and_feature_maps", "first_layer_at_init",
                       "one_strided_view"],
    "04_transposed_convolution": ["conv_matrix_and_transpose", "checkerboard"],
    "05_batch_normalisation": ["histograms_before_after", "running_statistics"],
    "06_activations_and_dropout": ["relu_vs_leaky_relu", "dropout_variance",
                                   "tanh_and_sigmoid"],
    "06b_optimisation": ["trajectories", "bias_correction"],
}
# lesson -> its graded exercises (the full list of exercise ids; lessons/exercises/)
EXERCISES = {
    "01_tensors_and_autograd": ["1.1", "1.2"],
    "02_gradient_checking": ["2.1"],
    "03_convolution": ["3.1", "3.2", "3.3"],
    "04_transposed_convolution": ["4.1"],
    "05_batch_normalisation": ["5.1"],
    "06_activations_and_dropout": ["6.1", "6.2", "6.3", "6.4"],
    "06b_optimisation": ["6b.1"],
    "07_unet": ["7.1"],
    "08_patchgan": ["8.1"],
    "09_objective": ["9.1", "9.2"],
    "10_training_on_facades": ["10.1", "10.2"],
    "12_data_parallel": ["12.1"],
}
ALL_IDS = {i for ids in EXERCISES.values() for i in ids}
GRADING = re.compile(r"python -m pytest --exercise (\d+b?\.\d+)")


def lesson_path(lesson):
    return REPO / "lessons" / f"{lesson}.py"


def check_pictures(lesson, folder, printed, names):
    """Exactly the promised pictures were saved, are not tiny, and the closing
    list_pictures() named each one."""
    written = sorted(p.stem for p in (folder / lesson).glob("*.png"))
    assert written == sorted(names), f"{lesson} saved {written}, promised {sorted(names)}"
    for name in names:
        path = folder / lesson / f"{name}.png"
        with Image.open(path) as img:
            assert min(img.size) > 100, f"{path} is only {img.size}"
        assert str(path) in printed, f"the closing list_pictures() should name {path}"


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_runs_as_a_notebook_in_fast_mode(lesson, tmp_path):
    pytest.importorskip("nbclient", reason="pip install -e '.[lessons]' (jupytext, nbclient)")
    from lessons.notebook import run_lesson
    printed = run_lesson(lesson, tmp_path)
    check_pictures(lesson, tmp_path, printed, LESSONS[lesson])


def test_a_lesson_runs_as_a_plain_script(tmp_path):
    lesson = "01_tensors_and_autograd"
    env = dict(os.environ, LESSON_FAST="1", LESSON_OUTPUT=str(tmp_path), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, str(lesson_path(lesson))], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{lesson} failed:\n{result.stderr[-3000:]}"
    check_pictures(lesson, tmp_path, result.stdout, LESSONS[lesson])


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_has_the_house_structure(lesson):
    """Cells, a Summary, Exercises and the pointer to the next lesson (STYLE.md, Lessons)."""
    text = lesson_path(lesson).read_text()
    assert text.count("# %%") >= 5
    for part in ("## Summary", "## Exercises", "Next: python lessons/", "list_pictures()",
                 "save_figure("):
        assert part in text, f"{lesson} lacks {part!r}"


@pytest.mark.parametrize("lesson", list(EXERCISES))
def test_lesson_names_the_grading_command_of_each_of_its_exercises(lesson):
    text = lesson_path(lesson).read_text()
    named = set(GRADING.findall(text))
    assert named <= ALL_IDS, f"unknown exercise ids in {lesson}: {sorted(named - ALL_IDS)}"
    missing = set(EXERCISES[lesson]) - named
    assert not missing, f"{lesson} never says how to grade exercise(s) {sorted(missing)}"


@pytest.mark.parametrize("lesson", list(EXERCISES))
def test_lesson_gives_tiered_hints_for_each_of_its_exercises(lesson):
    """After the derivation: 'If you are stuck on exercise N.M', then hint 1, hint 2."""
    text = lesson_path(lesson).read_text()
    for exercise in EXERCISES[lesson]:
        at = text.find(f"If you are stuck on exercise {exercise}")
        assert at >= 0, f"{lesson}: no hints for exercise {exercise}"
        assert "Hint 1" in text[at:at + 3000] and "Hint 2" in text[at:at + 3000], \
            f"{lesson}: the hints for {exercise} should come in tiers (Hint 1, Hint 2, ...)"


def test_every_stated_run_time_is_a_measured_one():
    """Each lesson's header says how long it took, full and fast, and that it was measured."""
    for lesson in list(LESSONS) + ["07_unet", "08_patchgan", "09_objective",
                                   "10_training_on_facades", "11_evaluation_and_ablations",
                                   "12_data_parallel"]:
        header = lesson_path(lesson).read_text().split('"""')[1]
        assert "Measured run time" in header, f"{lesson}: header lacks 'Measured run time'"
        assert re.search(r"full .*\d+ s", header) and re.search(r"fast .*\d+ s", header), \
            f"{lesson}: state the measured full and fast times in seconds"
