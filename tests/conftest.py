"""Shared fixtures: the array backends, and exercise grading (``--exercise ID``)."""
import numpy as np
import pytest

import nn
from lessons import exercises

BACKENDS = ["numpy", "cupy"]


def pytest_addoption(parser):
    parser.addoption("--exercise", action="append", default=[], metavar="ID",
                     help="grade your solution of exercise ID (e.g. 3.2) in lessons/exercises/: "
                          "runs only that exercise's tests, with your code; 'all' for every one")


def pytest_collection_modifyitems(config, items):
    chosen = config.getoption("--exercise")
    if not chosen:
        return
    unknown = [c for c in chosen if c != "all" and c not in exercises.EXERCISES]
    if unknown:
        raise pytest.UsageError(f"unknown exercise {unknown}; known: {', '.join(exercises.EXERCISES)}")
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("exercise")
        graded = marker is not None and ("all" in chosen or marker.args[0] in chosen)
        (keep if graded else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


@pytest.fixture
def implementation(request):
    """The object a test marked ``@pytest.mark.exercise("N.M")`` checks: the library's, or
    the student's stub when pytest runs with ``--exercise``."""
    marker = request.node.get_closest_marker("exercise")
    if marker is None:
        raise RuntimeError("the implementation fixture needs @pytest.mark.exercise(\"N.M\")")
    student = bool(request.config.getoption("--exercise"))
    return exercises.load(marker.args[0], student=student)


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module under test: NumPy always, CuPy when a GPU is present."""
    if request.param == "cupy":
        if not nn.gpu_available():
            pytest.skip("CuPy backend: no CUDA GPU / CuPy on this machine")
        import cupy
        return cupy
    return np


@pytest.fixture
def rng():
    return np.random.default_rng(0)
