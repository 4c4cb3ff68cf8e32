"""A strict CuPy stand-in: the GPU path's rules, checked on a CPU.

No GPU is needed to find most GPU bugs: CuPy refuses what NumPy forgives. This module
stands in for ``cupy`` and is *stricter* than NumPy in exactly CuPy's ways:

- its ``ndarray`` wraps a NumPy array (never a subclass) and refuses to become one
  implicitly: ``np.asarray(dev)``, ``np.savez(f, dev)`` raise CuPy's TypeError;
- a host (NumPy) array mixed with a device array is a TypeError; Python and NumPy scalars
  are accepted;
- only names real CuPy has exist (the committed snapshot ``cupy_names.json``, made from
  CuPy 13 by ``snapshot_cupy.py``); NumPy functions CuPy lacks return ``NotImplemented``;
- reductions and indexing give 0-d device arrays, never host scalars;
- it counts what a GPU pays for (``counts``): device operations per kind (each call that
  computes is one launch; views are free), host synchronisations (``float``, ``item``,
  ``get``, ``asnumpy``, ...) and host-to-device copies per call site.

What it cannot prove: speed, memory, cuBLAS's numerics. Those need a GPU.

How it is used: the tests' ``xp`` fixture value ``strict_cupy`` patches it in as
``nn.backend``'s CuPy module, and sets ``NN_STRICT_CUPY=1`` so that child processes (the
training command, the benchmark's workers) load it too. Never set that variable yourself.
"""
import types

import numpy as np

from nn.testing.device_array import (  # noqa: F401 (the cupy namespace)
    HOST_TO_DEVICE_MESSAGE, counts, launch, ndarray, run, sync, _fused, call_site)
from nn.testing.names import FUNCTIONS, SUBMODULES, TYPES, UFUNCS, VERSION, has_function
from nn.testing.memory import OutOfMemoryError, get_default_memory_pool  # noqa: F401

__version__ = VERSION
_ALLOCATION_ONLY = {"empty", "empty_like"}        # no kernel: memory is handed out as is


class ufunc:
    """A CuPy ufunc: callable, with only the methods CuPy's has (reduce, at, ...)."""

    def __init__(self, name):
        self.__name__ = self.name = name
        self._np = getattr(np, name)
        for method in UFUNCS[name]:
            setattr(self, method, self._method(method))

    def __call__(self, *args, **kwargs):
        return run(self.__name__, self._np, args, kwargs)

    def _method(self, method):
        return lambda *args, **kwargs: run(f"{self.__name__}.{method}",
                                           getattr(self._np, method), args, kwargs)


def _function(name, np_function):
    def function(*args, **kwargs):
        if name in _ALLOCATION_ONLY:  # empty_like(device array): shaped like its data
            args = [a._a if isinstance(a, ndarray) else a for a in args]
            return ndarray(np_function(*args, **kwargs))
        return run(name, np_function, args, kwargs)
    function.__name__ = name
    return function


def asarray(a, dtype=None, order=None, blocking=False):
    """Device data stays put (cast if asked); host data is a counted host-to-device copy."""
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    counts.host_to_device[call_site()] += 1
    return ndarray(np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    if isinstance(obj, ndarray):
        return run("copy", np.array, (obj,), {"dtype": dtype, "copy": copy, "ndmin": ndmin})
    counts.host_to_device[call_site()] += 1
    return ndarray(np.array(obj, dtype=dtype, order=order, ndmin=ndmin, copy=True))


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """The one explicit way back to the host: counted as a synchronisation."""
    if isinstance(a, ndarray):
        return sync(a._a.copy())
    return np.asarray(a)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        raise TypeError(f"Unsupported type {type(a)}: cupy.ascontiguousarray needs a "
                        "cupy.ndarray")
    if a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return run("ascontiguousarray", np.ascontiguousarray, (a,), {"dtype": dtype})


def get_array_module(*args):
    import nn.testing.strict_cupy as this
    return this if any(isinstance(a, ndarray) for a in args) else np


def fuse(*args, **kwargs):
    """``cupy.fuse``: the function runs as written and counts as one launch."""
    def decorate(function):
        def fused(*call_args, **call_kwargs):
            launch(f"fuse:{function.__name__}")
            _fused[0] += 1
            try:
                return function(*call_args, **call_kwargs)
            finally:
                _fused[0] -= 1
        return fused
    return decorate(args[0]) if len(args) == 1 and callable(args[0]) else decorate


def _as_strided(x, shape=None, strides=None):
    """A view with chosen strides: no copy, no launch (CuPy's as_strided is metadata)."""
    return ndarray(np.lib.stride_tricks.as_strided(x._a, shape, strides))


class _Stream:
    def synchronize(self):
        sync(None)


class _Device:
    def __init__(self, device=0):
        self.id = device

    def use(self):
        """Make this the current device (one stand-in device: nothing changes)."""

    def synchronize(self):
        sync(None)


cuda = types.SimpleNamespace(
    Stream=types.SimpleNamespace(null=_Stream()),
    Device=_Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError),
    is_available=lambda: True,
)
lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(as_strided=_as_strided))
linalg = types.SimpleNamespace(**{
    name: _function(f"linalg.{name}", getattr(np.linalg, name))
    for name in SUBMODULES["linalg"] if hasattr(np.linalg, name)})


def __getattr__(name):
    """Every other top-level name real CuPy has and NumPy can compute; nothing else."""
    if name in UFUNCS and hasattr(np, name):
        value = ufunc(name)
    elif name in FUNCTIONS and hasattr(np, name):
        value = _function(name, getattr(np, name))
    elif name in TYPES and hasattr(np, name) and name not in ("ndarray", "ufunc"):
        value = getattr(np, name)
    else:
        raise AttributeError(f"module 'cupy' has no attribute '{name}'")
    globals()[name] = value                         # made once, then a plain attribute
    return value


def reset_counts():
    counts.reset()


__all__ = ["ndarray", "asarray", "array", "asnumpy", "counts", "has_function"]
