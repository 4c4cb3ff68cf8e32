"""A catalogue of the mistakes students really make, at least three per exercise.

Each is the library's solution with one typical error (a docstring says which). The
grader must reject every one of them and accept the reference:

    python -m pytest --wrong-solutions          (tests/graders/test_graders_reject_wrong_solutions.py
                                                 runs it in CI)

Instructors' material: ``python -m lessons.release`` leaves this folder out.
"""
from . import (autograd, convolution, data_parallel, layers, losses, normalisation,
               optimisation, training)

WRONG = {}
for module in (autograd, convolution, data_parallel, layers, losses, normalisation,
               optimisation, training):
    for exercise_id, solutions in module.WRONG.items():
        WRONG.setdefault(exercise_id, []).extend(solutions)

# For the test that the catalogue check itself can fail: with this variable set to an
# exercise id, the reference joins its wrong solutions, and must be reported as passing.
import os  # noqa: E402

if os.environ.get("WRONG_SOLUTIONS_PLANT_REFERENCE"):
    from lessons import exercises as _exercises
    _planted = os.environ["WRONG_SOLUTIONS_PLANT_REFERENCE"]
    _reference = _exercises.load(_planted)
    WRONG[_planted].append(type("ReferenceInDisguise", (_reference,), {})
                           if isinstance(_reference, type) else _reference)
