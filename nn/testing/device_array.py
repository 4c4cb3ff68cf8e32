"""The stand-in's ``ndarray``: a NumPy array behind a wall, with CuPy's manners.

It wraps a NumPy array instead of subclassing one: NumPy's C code accepts subclasses
silently (``np.asarray``, ``np.savez``, ``Image.fromarray``), CuPy's arrays it refuses.
Every rule below is one CuPy enforces; ``nn/testing/strict_cupy.py`` explains the whole.
"""
import os
import sys
from collections import Counter

import numpy as np

from nn.testing.memory import get_default_memory_pool
from nn.testing.names import NDARRAY, UFUNCS, has_function

HOST_TO_DEVICE_MESSAGE = ("Implicit conversion to a NumPy array is not allowed. "
                          "Please use `.get()` to construct a NumPy array explicitly.")
HOST_FUNCTIONS = {"save", "savez", "savez_compressed", "savetxt"}
SCALARS = (bool, int, float, complex, np.generic)


class Counts:
    """What a GPU would pay for: device operations (launches) per kind, host
    synchronisations and host-to-device copies per call site ("file.py:line")."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.launches, self.syncs, self.host_to_device = Counter(), Counter(), Counter()

    def totals(self):
        return {"launches": sum(self.launches.values()), "syncs": sum(self.syncs.values()),
                "host_to_device": sum(self.host_to_device.values())}


counts = Counts()
_fused = [0]                 # > 0 inside a cupy.fuse'd function: its ops are one launch
_HERE = (os.path.dirname(os.path.abspath(__file__)),
         os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "backend.py"))


def call_site():
    """The first caller outside the stand-in and nn/backend.py, as 'path:line'."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_HERE):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"


def launch(kind):
    if not _fused[0]:
        counts.launches[kind] += 1


def unwrap(value, what):
    """The NumPy array behind a device array; scalars pass; host arrays are refused."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, np.ndarray):
        raise TypeError(f"Unsupported type {type(value)} in {what}: a NumPy (host) array "
                        "mixed with a CuPy (device) array; move it with cupy.asarray first")
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v, what) for v in value)
    return value


def unwrap_all(args, kwargs, what):
    return ([unwrap(a, what) for a in args],
            {k: unwrap(v, what) for k, v in kwargs.items()})


def wrap(value):
    """NumPy results as device arrays; a NumPy scalar becomes a 0-d device array."""
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic):
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def is_view(result, inputs):
    """True when ``result`` only looks at an input's memory (reshape, slicing, .T)."""
    return isinstance(result, np.ndarray) and any(
        isinstance(a, np.ndarray) and np.may_share_memory(result, a) for a in inputs)


def run(kind, function, args, kwargs):
    """Run a NumPy function on unwrapped arguments; count a launch unless it made a view."""
    plain_args, plain_kwargs = unwrap_all(args, kwargs, kind)
    result = function(*plain_args, **plain_kwargs)
    inputs = [a for a in plain_args if isinstance(a, np.ndarray)]
    if "out" in kwargs or result is None or not is_view(result, inputs):
        launch(kind)
    return wrap(result)


def sync(value):
    """A device-to-host read: counted at its call site, then the NumPy value."""
    counts.syncs[call_site()] += 1
    return value


def _getitem(array, index):
    """``array[index]``; an integer index gives a 0-d view, as in CuPy, not a scalar."""
    result = array[index]
    if isinstance(result, np.generic):
        result = array[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
    return result


def _operator(ufunc, reflected=False, inplace=False):
    def method(self, other):
        if not isinstance(other, (ndarray,) + SCALARS):
            if isinstance(other, np.ndarray):
                unwrap(other, ufunc.__name__)          # raises CuPy's TypeError
            return NotImplemented
        pair = (other, self) if reflected else (self, other)
        if inplace:
            run(ufunc.__name__, ufunc, pair, {"out": self})
            return self
        return run(ufunc.__name__, ufunc, pair, {})
    return method


class ndarray:
    """A device array: ``_a`` is the NumPy array a GPU would hold."""

    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100

    def __init__(self, array):
        get_default_memory_pool().track(array)
        self._a = array

    # What CuPy refuses: implicit conversion, and being read as a host buffer.
    def __array__(self, *args, **kwargs):
        raise TypeError(HOST_TO_DEVICE_MESSAGE)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__
        if name not in UFUNCS or (method != "__call__" and method not in UFUNCS[name]):
            return NotImplemented
        kind = name if method == "__call__" else f"{name}.{method}"
        return run(kind, getattr(ufunc, method) if method != "__call__" else ufunc,
                   inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        module = func.__module__.replace("numpy", "").strip(".")
        if not has_function(module, func.__name__):
            return NotImplemented
        if func.__name__ in HOST_FUNCTIONS:         # cupy.savez & co. copy to the host
            plain_args, plain_kwargs = unwrap_all(args, kwargs, func.__name__)
            return sync(func(*plain_args, **plain_kwargs))
        return run(func.__name__, func, args, kwargs)

    # Attributes: only CuPy's; metadata is free, anything else is a device operation.
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))

    def __getattr__(self, name):
        if name not in NDARRAY or name.startswith("_"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        attribute = getattr(self._a, name)
        if not callable(attribute):
            return wrap(attribute)
        method = getattr(np.ndarray, name)             # unbound: self is an input (views)
        return lambda *args, **kwargs: run(name, method, (self,) + args, kwargs)

    # Explicit reads back to the host: allowed, counted.
    def get(self, stream=None, order="C", out=None):
        return sync(self._a.copy())

    def item(self, *args):
        return sync(self._a.item(*args))

    def tolist(self):
        return sync(self._a.tolist())

    def __float__(self):
        return sync(float(self._a))

    def __int__(self):
        return sync(int(self._a))

    def __bool__(self):
        return sync(bool(self._a))

    def __index__(self):
        return sync(self._a.__index__())

    def __repr__(self):
        return sync(repr(self._a))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        return run("getitem", _getitem, (self, index), {})

    def __setitem__(self, index, value):
        run("setitem", lambda a, i, v: a.__setitem__(i, v), (self, index, value), {})

    def __reduce__(self):
        """Pickling works, as in CuPy, by copying to the host: a counted sync."""
        return ndarray._from_host, (sync(self._a.copy()),)

    @staticmethod
    def _from_host(array):
        return ndarray(array)

    def __neg__(self):
        return run("negative", np.negative, (self,), {})

    def __abs__(self):
        return run("absolute", np.absolute, (self,), {})

    def __pos__(self):
        return self

    def __invert__(self):
        return run("invert", np.invert, (self,), {})

    def __matmul__(self, other):
        return run("matmul", np.matmul, (self, other), {})

    def __rmatmul__(self, other):
        return run("matmul", np.matmul, (other, self), {})


for _name, _ufunc in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                      ("mod", np.remainder), ("pow", np.power), ("and", np.bitwise_and),
                      ("or", np.bitwise_or), ("xor", np.bitwise_xor)]:
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
    setattr(ndarray, f"__r{_name}__", _operator(_ufunc, reflected=True))
    setattr(ndarray, f"__i{_name}__", _operator(_ufunc, inplace=True))
for _name, _ufunc in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                      ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
ndarray.__hash__ = None
