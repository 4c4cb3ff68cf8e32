"""Save and load state dicts as ``.npz`` files (never pickled objects).

A downloaded checkpoint may be crafted. ``load`` (and ``pix2pix.pth``) therefore bound what
a zip archive may make before reading it: ``check_zip_sizes`` refuses entries whose bytes
are not in the file and archives that claim to expand far beyond their size on disk
(``np.savez`` and ``torch.save`` store entries uncompressed, so a real checkpoint claims
about its own size), and every array header is checked against its entry's size before
anything is allocated.
"""
import math
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
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            e.filename = path  # a full disk fails in write(), which names no file
        raise


def save(state_dict, path):
    """Write {name: array or number} to ``path`` (.npz) atomically (see atomic_write)."""
    arrays = {name: to_numpy(value) if hasattr(value, "shape") else np.asarray(value)
              for name, value in state_dict.items()}
    atomic_write(path, lambda f: np.savez(f, **arrays))


# What an archive may claim to hold, in bytes: EXPANSION x its size on disk + SLACK.
# Stored (uncompressed) entries claim their own size; only compression beyond 4:1 on the
# whole archive, which float weights never reach, is refused.
EXPANSION, SLACK = 4, 16 * 2**20


class UnsafeArchiveError(ValueError):
    """The archive claims more data than it can hold (a zip bomb or a corrupt file)."""


def check_zip_sizes(zf, path):
    """Refuse a zip whose entries lie outside the file or expand beyond the bound above."""
    size_on_disk = os.path.getsize(path)
    claimed = 0
    for info in zf.infolist():
        if info.header_offset + info.compress_size > size_on_disk:
            raise UnsafeArchiveError(f"{path}: entry {info.filename!r} claims "
                                     f"{info.compress_size} bytes that are not in the file "
                                     "(truncated or corrupt)")
        claimed += info.file_size
    limit = EXPANSION * size_on_disk + SLACK
    if claimed > limit:
        raise UnsafeArchiveError(
            f"{path}: the {size_on_disk}-byte file claims to expand to {claimed} bytes "
            f"(more than {limit}): refusing a compressed archive (a zip bomb?). Checkpoints "
            "are written uncompressed; re-save it without compression.")


def _read_npy(zf, info, path):
    """One array of an .npz, its header checked against the entry's size first."""
    name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(f)
        if dtype.hasobject:
            raise ValueError(f"{path}: array {name!r} holds Python objects; refusing to unpickle")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise UnsafeArchiveError(f"{path}: array {name!r} claims shape {shape} "
                                     f"({nbytes} bytes) but its entry holds {info.file_size}")
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{path}: array {name!r} is truncated")
    order = "F" if fortran else "C"
    return name, np.frombuffer(data, dtype).reshape(shape, order=order).copy()


def load(path, names=None):
    """Read a .npz written by ``save``: {name: NumPy array} (names: only these entries).
    Refuses pickled objects and archives that claim more data than the file can hold (see
    check_zip_sizes)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip_sizes(zf, path)
            return dict(_read_npy(zf, info, path) for info in zf.infolist()
                        if names is None or info.filename.removesuffix(".npy") in names)
    except UnsafeArchiveError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise ValueError(f"{path} is not a readable .npz state dict ({e}); it may be "
                         "truncated or from another program") from e
