"""Exercises: stubs a student fills in, graded by the same tests that check the library.

Each exercise names the library's implementation (the reference), the student's stub and
the lesson section that derives it. Grade one with

    python -m pytest --exercise 3.2

which runs only the tests marked ``@pytest.mark.exercise("3.2", "<property>")``, with the
student's code in place of the library's, and ends with a short report: which properties
passed, which failed, and what to reread. ``--exercise all`` grades every exercise;
``--results results.json`` also writes Gradescope's results file.

The stubs are generated from the library's own contracts (lessons/stubs.py), never
committed: ``python -m lessons.release --stubs`` writes the files here for you to fill in;
until one exists, grading uses the same stub made in memory (so it grades as unwritten).
In a student release (``python -m lessons.release DIR``) there are no stubs: the holes are
in the library itself, and the same command grades the library.
"""
import importlib
import sys
from pathlib import Path
from typing import NamedTuple


class Exercise(NamedTuple):
    reference: str      # "module:name" in the library
    student: str        # "module:name" of the stub
    lesson: str         # what to reread when it fails


# Points per exercise (Gradescope's max_score), shared among its checks: each check that
# passes earns its share. More for the pieces with more to derive (BatchNorm, the tape,
# the convolutions) than for one-line ops.
POINTS = {"1.1": 2, "1.2": 3, "2.1": 2, "3.1": 2, "3.2": 3, "3.3": 3, "4.1": 3, "5.1": 4,
          "6.1": 1, "6.2": 2, "6.3": 1, "6.4": 1, "6b.1": 2, "7.1": 3, "8.1": 1, "9.1": 2,
          "9.2": 1, "10.1": 1, "10.2": 2, "12.1": 3}


EXERCISES = {
    "1.1": Exercise("nn.ops.arithmetic:MulFunction",
                    "lessons.exercises.ex01_autograd:MulFunction",
                    "lesson 1, section 7 (Mul's backward, with broadcasting)"),
    "1.2": Exercise("nn.tensor:backpropagate", "lessons.exercises.ex01_autograd:backpropagate",
                    "lesson 1, sections 3, 4 and 6 (the tape, accumulation)"),
    "2.1": Exercise("nn.gradcheck:numerical_gradient",
                    "lessons.exercises.ex02_gradcheck:numerical_gradient",
                    "lesson 2, section 1 (centered differences)"),
    "3.1": Exercise("nn.ops.im2col:im2col_reference",
                    "lessons.exercises.ex03_convolution:im2col_reference",
                    "lesson 3, section 3 (im2col)"),
    "3.2": Exercise("nn.ops.conv:Conv2dFunction",
                    "lessons.exercises.ex03_convolution:Conv2dFunction",
                    "lesson 3, sections 3 and 6 (im2col + one matmul)"),
    "3.3": Exercise("nn.ops.conv:conv2d_backward",
                    "lessons.exercises.ex03_convolution:conv2d_backward",
                    "lesson 3, section 6 (deriving the backward)"),
    "4.1": Exercise("nn.ops.conv:ConvTranspose2dFunction",
                    "lessons.exercises.ex04_transposed_convolution:ConvTranspose2dFunction",
                    "lesson 4, sections 4 and 5 (the adjoint)"),
    "5.1": Exercise("nn.ops.batchnorm:BatchNormFunction",
                    "lessons.exercises.ex05_batchnorm:BatchNormFunction",
                    "lesson 5, sections 1, 1b and 2 (statistics, backward, running averages)"),
    "6.1": Exercise("nn.ops.activations:LeakyReLUFunction",
                    "lessons.exercises.ex06_activations:LeakyReLUFunction",
                    "lesson 6, section 1 (leaky ReLU)"),
    "6.2": Exercise("nn.ops.activations:DropoutFunction",
                    "lessons.exercises.ex06_activations:DropoutFunction",
                    "lesson 6, section 2 (dropout)"),
    "6.3": Exercise("nn.ops.activations:TanhFunction",
                    "lessons.exercises.ex06_activations:TanhFunction",
                    "lesson 6, section 2 (tanh)"),
    "6.4": Exercise("nn.ops.activations:SigmoidFunction",
                    "lessons.exercises.ex06_activations:SigmoidFunction",
                    "lesson 6, section 2 (sigmoid)"),
    "6b.1": Exercise("nn.optim:adam_step_reference",
                     "lessons.exercises.ex06b_optimisation:adam_step_reference",
                     "lesson 6b, sections 4 and 5 (bias correction, Adam)"),
    "7.1": Exercise("pix2pix.models.unet:UNetUp", "lessons.exercises.ex07_unet:UNetUp",
                    "lesson 7, section 1 (the two blocks)"),
    "8.1": Exercise("pix2pix.models.patchgan:receptive_field",
                    "lessons.exercises.ex08_patchgan:receptive_field",
                    "lesson 8, section 1 (receptive fields)"),
    "9.1": Exercise("nn.ops.losses:BCEWithLogitsFunction",
                    "lessons.exercises.ex09_objective:BCEWithLogitsFunction",
                    "lesson 9, section 1b (BCE with logits)"),
    "9.2": Exercise("nn.ops.losses:L1LossFunction",
                    "lessons.exercises.ex09_objective:L1LossFunction",
                    "lesson 9, section 1c (the L1 loss)"),
    "10.1": Exercise("pix2pix.training.schedule:linear_factor",
                     "lessons.exercises.ex10_training:linear_factor",
                     "lesson 10, section 2b (the learning-rate schedule)"),
    "10.2": Exercise("pix2pix.models.pix2pix_model:discriminator_loss",
                     "lessons.exercises.ex10_training:discriminator_loss",
                     "lesson 10, section 2c (D's step: halved, G's output detached)"),
    "12.1": Exercise("nn.ops.syncbatchnorm:SyncBatchNormFunction",
                     "lessons.exercises.ex12_data_parallel:SyncBatchNormFunction",
                     "lesson 12, sections 3 and 4 (the all-reduced sums)"),
}

# Present only in a student release: there, the exercises grade the library itself.
RELEASE = (Path(__file__).parent / "RELEASE").exists()


def load(exercise_id, student=False):
    """The reference object for an exercise, or the student's version of it."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    where = EXERCISES[exercise_id].student if student and not RELEASE \
        else EXERCISES[exercise_id].reference
    module_name, name = where.split(":")
    if student and not RELEASE and not (Path(__file__).parent / (
            module_name.rpartition(".")[2] + ".py")).exists():
        from lessons.stubs import student_module  # not written yet: the stub, made in memory
        module = sys.modules.get(module_name) or student_module(module_name)
    else:
        module = importlib.import_module(module_name)
    if not hasattr(module, name):
        raise AttributeError(f"{module.__file__} has no {name} (exercise {exercise_id}): rename "
                             f"yours, or move the file away and run python -m lessons.release "
                             f"--stubs to write a fresh stub")
    return getattr(module, name)
