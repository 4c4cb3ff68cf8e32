"""Shared fixtures: the array backends; exercise grading (``--exercise ID``) lives in
tests/grading.py."""
import numpy as np
import pytest

import nn

BACKENDS = ["numpy", "strict_cupy", "cupy"]


# The exercise grader (options, the implementation fixture, the report): tests/grading.py.
from tests.grading import (  # noqa: E402,F401
    implementation,
    pytest_addoption,
    pytest_configure,
    pytest_generate_tests,
)


@pytest.fixture(params=BACKENDS)
def xp(request, monkeypatch):
    """The array module under test: NumPy; the strict CuPy stand-in (CuPy's rules on the
    CPU, nn/testing/strict_cupy.py) everywhere; real CuPy when a GPU is present."""
    if request.param == "strict_cupy":
        return use_strict_cupy(monkeypatch)
    if request.param == "cupy":
        return real_cupy()
    return np


def real_cupy():
    """Real CuPy on a GPU, or a skip (the stand-in, even in a child process, is not one)."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:             # not installed, no driver, no device
        pass
    pytest.skip("CuPy backend: no CUDA GPU / CuPy on this machine")


def use_strict_cupy(monkeypatch):
    """Make the stand-in nn.backend's CuPy ("cuda") for this test and its child processes."""
    from nn.testing import strict_cupy
    monkeypatch.setattr(nn.backend, "_cupy", strict_cupy)
    monkeypatch.setenv("NN_STRICT_CUPY", "1")
    strict_cupy.reset_counts()
    return strict_cupy


@pytest.fixture(params=["strict_cupy", "cupy"])
def device_xp(request, monkeypatch):
    """The device module alone (the stand-in; real CuPy on a GPU), for tests of the device
    path that have no NumPy twin."""
    if request.param == "strict_cupy":
        return use_strict_cupy(monkeypatch)
    return real_cupy()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def strict_cupy(monkeypatch):
    """The stand-in alone, for what only it can do on purpose (a GPU that is full)."""
    return use_strict_cupy(monkeypatch)
