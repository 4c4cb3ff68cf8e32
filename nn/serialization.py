"""Save and load state dicts as ``.npz`` files (never pickled objects)."""
import os
import tempfile
import zipfile

import numpy as np

from .backend import to_numpy


def atomic_write(path, write):
    """Write a file so that a crash at any moment leaves the old file or the new one,
    never half of one: ``write(f)`` fills a temporary file (binary, in the same folder,
    named ".tmp-*" with path's suffix), which is flushed to disk and renamed over ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; our files are not secret
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(state_dict, path):
    """Write {name: array or number} to ``path`` (.npz) atomically (see atomic_write)."""
    arrays = {name: to_numpy(value) if hasattr(value, "shape") else np.asarray(value)
              for name, value in state_dict.items()}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load(path):
    """Read a .npz written by ``save``: {name: NumPy array}. Refuses pickled objects."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npz state dict ({e}); it may be "
                         "truncated or from another program") from e
