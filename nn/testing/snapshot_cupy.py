"""Write the names real CuPy has, for the strict stand-in (nn/testing/strict_cupy.py).

The stand-in refuses every name this snapshot lacks, as CuPy would with an AttributeError
or a TypeError. CuPy imports without a GPU, so any machine can regenerate it:

    python -m venv /tmp/cupy13 && /tmp/cupy13/bin/pip install "cupy-cuda12x==13.0.0"
    /tmp/cupy13/bin/python nn/testing/snapshot_cupy.py > nn/testing/cupy_names.json

Use the oldest CuPy the project supports (pyproject's gpu extra: >= 13): a name added
later must not pass here and fail on a user's GPU. The script imports only CuPy.
"""
import json
import sys

import cupy

SUBMODULES = ("linalg", "random", "lib.stride_tricks", "cuda", "cuda.runtime", "cuda.memory")


def public(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def submodule(path):
    obj = cupy
    for part in path.split("."):
        obj = getattr(obj, part)
    return public(obj)


def snapshot():
    """{"version", "functions", "ufuncs": {name: methods}, "ndarray", submodule names}."""
    ufunc_type = type(cupy.add)
    ufuncs, functions = {}, []
    for name in public(cupy):
        obj = getattr(cupy, name)
        if isinstance(obj, ufunc_type):
            ufuncs[name] = [m for m in ("reduce", "accumulate", "reduceat", "outer", "at")
                            if hasattr(obj, m)]
        elif callable(obj) and not isinstance(obj, type):
            functions.append(name)
    return {
        "version": cupy.__version__,
        "functions": functions,
        "ufuncs": ufuncs,
        "types": [n for n in public(cupy) if isinstance(getattr(cupy, n), type)],
        "ndarray": sorted(dir(cupy.ndarray)),     # dunders too: no __array_interface__
        "submodules": {path: submodule(path) for path in SUBMODULES},
    }


if __name__ == "__main__":
    json.dump(snapshot(), sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")
