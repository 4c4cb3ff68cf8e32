"""The one place that knows about devices.

Arrays are NumPy arrays on the CPU and CuPy arrays on an NVIDIA GPU (or, in the tests,
on the strict CuPy stand-in ``nn/testing/strict_cupy.py``, which follows CuPy's rules). Every op asks
``get_array_module(x)`` for ``xp`` and then writes ``xp.matmul``, ``xp.exp``, ... so the
same code runs on both. CuPy is optional: without it (or without a GPU) everything runs
on NumPy, and asking for ``"cuda"`` explicitly raises a clear error.
"""
import ctypes
import ctypes.util
import functools
import os
import sys

import numpy as np

if os.environ.get("NN_STRICT_CUPY") == "1":
    # Set only by the tests (their xp fixture's "strict_cupy"), so that child processes
    # run on the same strict CuPy stand-in as the test itself: nn/testing/strict_cupy.py.
    from nn.testing import strict_cupy as _cupy
else:
    try:  # CuPy is an optional extra: `pip install -e .[gpu]`
        import cupy as _cupy
    except Exception:  # ImportError, or a CUDA library that fails to load
        _cupy = None


def gpu_available():
    """True when CuPy is importable and sees at least one CUDA device."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def check_device(device):
    """Validate a device name ("cpu" or "cuda"); return it."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use 'cpu' or 'cuda'")
    if device == "cuda" and not gpu_available():
        why = "CuPy is not installed" if _cupy is None else "CuPy sees no CUDA GPU"
        raise RuntimeError(
            f"device 'cuda' was requested but {why}. Install the GPU extra "
            "(pip install -e .[gpu], choosing the cupy-cudaXXx wheel for your CUDA) "
            "on a machine with an NVIDIA GPU, or use --device cpu.")
    return device


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def as_strided(x, shape, strides):
    """A view of ``x`` with the given shape and strides (in bytes): no copy, no launch.

    The caller guarantees every element it reaches lies inside ``x``'s buffer.
    """
    return get_array_module(x).lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def fuse(function):
    """An element-wise function ``function(xp, *arrays_and_scalars)`` run as ONE kernel on
    a GPU (``cupy.fuse``), and as written on NumPy.

    Each CuPy operation is a kernel launch that costs the host 5-10 us, more than the
    arithmetic of a small layer: a batch norm written as ten array expressions is ten
    launches, fused it is one. The body may use only element-wise arithmetic, comparisons
    and ufuncs of ``xp`` on its arguments (arrays broadcast, scalars), no reductions, no
    indexing, no in-place updates, and returns one array or a tuple of arrays.
    """
    compiled = {}

    @functools.wraps(function)
    def run(*args):
        xp = get_array_module(*args)
        if xp is np:
            return function(np, *args)
        if xp not in compiled:  # one kernel per module (the tests swap in a stand-in)
            def body(*arrays):
                return function(xp, *arrays)
            body.__name__ = function.__name__
            compiled[xp] = xp.fuse(kernel_name=function.__name__.strip("_"))(body)
        return compiled[xp](*args)
    return run


def device_of(array):
    """"cuda" for a CuPy array, "cpu" otherwise."""
    return "cuda" if get_array_module(array) is not np else "cpu"


def to_device(array, device):
    """Copy ``array`` to ``device`` ("cpu" or "cuda"); no copy if it is already there."""
    check_device(device)
    if device == "cuda":
        return _cupy.asarray(array)
    return to_numpy(array)


def to_numpy(array):
    """A NumPy array holding ``array``'s values (copied from the GPU if needed)."""
    if get_array_module(array) is not np:
        return _cupy.asnumpy(array)
    return np.asarray(array)


def select_gpu(index):
    """Make GPU ``index`` this process's current device (one process per GPU)."""
    check_device("cuda")
    _cupy.cuda.Device(index).use()


def synchronize(device):
    """Wait for the GPU to finish queued work (for honest timings); no-op on the CPU."""
    if device == "cuda":
        _cupy.cuda.Stream.null.synchronize()


def device_pool_mb(device):
    """MB held by CuPy's memory pool, or None on the CPU. The pool keeps freed blocks for
    reuse, so after a run it holds about the run's peak; ``free_all_blocks`` first to
    measure from zero."""
    if device != "cuda":
        return None
    return _cupy.get_default_memory_pool().total_bytes() / 2 ** 20


def free_device_pool(device):
    """Give the GPU pool's unused blocks back (so the next peak is measured from here)."""
    if device == "cuda":
        _cupy.get_default_memory_pool().free_all_blocks()


def _reuse_freed_memory():
    """Let glibc reuse freed arrays instead of returning them to the OS (Linux only).

    NumPy allocates a new array for every op result. Above 128 KB glibc maps fresh pages
    from the OS for each one and gives them back on free, so every 4 KB of a new array
    costs a page fault: on small layers that made an elementwise op ten times slower
    than the arithmetic. Raising the thresholds keeps freed memory in the process for
    the next array, which is what PyTorch's caching allocators achieve too.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 31)
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep the defaults
        pass


_reuse_freed_memory()
