"""Exercises: stubs a student fills in, graded by the same tests that check the library.

Each exercise names the reference implementation in the library and the student's stub.
Grade one with

    python -m pytest --exercise 3.2

which runs only the tests marked ``@pytest.mark.exercise("3.2")``, with the student's
code in place of the library's. ``--exercise all`` grades every exercise.
"""
import importlib

# id: (reference "module:name", student "module:name")
EXERCISES = {
    "1.1": ("nn.ops.arithmetic:Mul", "lessons.exercises.ex01_autograd:Mul"),
    "3.1": ("nn.ops.im2col:im2col", "lessons.exercises.ex03_convolution:im2col"),
    "3.2": ("nn.ops.conv:Conv2dFunction", "lessons.exercises.ex03_convolution:Conv2dFunction"),
    "4.1": ("nn.ops.conv:ConvTranspose2dFunction",
            "lessons.exercises.ex04_transposed_convolution:ConvTranspose2dFunction"),
    "5.1": ("nn.ops.batchnorm:BatchNormFunction",
            "lessons.exercises.ex05_batchnorm:BatchNormFunction"),
    "6.1": ("nn.ops.activations:LeakyReLU", "lessons.exercises.ex06_activations:LeakyReLU"),
    "6.2": ("nn.ops.activations:Dropout", "lessons.exercises.ex06_activations:Dropout"),
    "7.1": ("pix2pix.models.unet:UNetUp", "lessons.exercises.ex07_unet:UNetUp"),
    "8.1": ("pix2pix.models.patchgan:receptive_field",
            "lessons.exercises.ex08_patchgan:receptive_field"),
    "9.1": ("nn.ops.losses:BCEWithLogits", "lessons.exercises.ex09_objective:BCEWithLogits"),
}


def load(exercise_id, student=False):
    """The reference object for an exercise, or the student's version of it."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    module_name, name = EXERCISES[exercise_id][1 if student else 0].split(":")
    return getattr(importlib.import_module(module_name), name)
