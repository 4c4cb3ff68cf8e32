"""The names real CuPy has, read from the committed snapshot ``cupy_names.json``.

Regenerate it with the command in ``nn/testing/snapshot_cupy.py``'s docstring.
"""
import json
import os

with open(os.path.join(os.path.dirname(__file__), "cupy_names.json")) as _file:
    SNAPSHOT = json.load(_file)

VERSION = SNAPSHOT["version"]
FUNCTIONS = frozenset(SNAPSHOT["functions"])
UFUNCS = SNAPSHOT["ufuncs"]                      # {name: its methods: reduce, at, ...}
TYPES = frozenset(SNAPSHOT["types"])
NDARRAY = frozenset(SNAPSHOT["ndarray"])
SUBMODULES = {path: frozenset(names) for path, names in SNAPSHOT["submodules"].items()}


def has_function(module, name):
    """Does ``cupy.<module>.<name>`` exist? ``module`` "" is the top level."""
    if module == "":
        return name in FUNCTIONS or name in UFUNCS
    return name in SUBMODULES.get(module, ())
