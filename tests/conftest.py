"""Shared fixtures: the array backends; exercise grading (``--exercise ID``) lives in
tests/grading.py."""
import numpy as np
import pytest

import nn

BACKENDS = ["numpy", "cupy"]


# The exercise grader (options, the implementation fixture, the report): tests/grading.py.
from tests.grading import (  # noqa: E402,F401
    implementation,
    pytest_addoption,
    pytest_configure,
    pytest_generate_tests,
)


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
