"""Save and load state dicts as ``.npz`` files (never pickled objects)."""
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
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(state_dict, path):
    """Write {name: array or number} to ``path`` (.npz) atomically (see atomic_write)."""
    arrays = {name: to_numpy(value) if hasattr(value, "shape") else np.asarray(value)
              for name, value in state_dict.items()}
    atomic_write(path, lambda f: np.savez(f, **arrays))


# A zip member's header says how large it will be once decompressed. torch.save and
# np.savez store members uncompressed, so their total is below the file's size; float
# weights deflate by ~1.1x at best. A file claiming more than this many times its size
# (plus a little, for tiny files) is a decompression bomb, or overlapping members.
MAX_ZIP_RATIO = 20
ZIP_SLACK_BYTES = 1 << 20


class OversizedFileError(ValueError):
    """A file claims to unpack into far more memory than its size justifies."""


def check_zip_sizes(zf, path):
    """Refuse a zip whose members claim far more bytes than the file holds (raises
    ValueError naming the file, the claimed size and the largest member)."""
    file_size = os.path.getsize(path)
    infos = zf.infolist()
    claimed = sum(info.file_size for info in infos)
    if infos and claimed > MAX_ZIP_RATIO * file_size + ZIP_SLACK_BYTES:
        big = max(infos, key=lambda info: info.file_size)
        raise OversizedFileError(
            f"{path}: refusing to unpack: its members claim {claimed:,} bytes in all from a "
            f"file of {file_size:,} bytes (more than {MAX_ZIP_RATIO}x); the largest, "
            f"{big.filename}, claims {big.file_size:,} bytes from {big.compress_size:,}. "
            "Checkpoints are stored uncompressed; this file is a decompression bomb or corrupt")


def _check_npy_header(zf, info, path):
    """The array a member's .npy header announces must fit in the member's bytes, so that
    reading it never allocates more than the file holds."""
    if not info.filename.endswith(".npy"):
        raise ValueError(f"{path}: member {info.filename} is not an array")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        header_bytes = f.tell()
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size - header_bytes:
        raise OversizedFileError(f"{path}: {info.filename} claims a {shape} {dtype} array "
                         f"({claimed:,} bytes) but holds {info.file_size - header_bytes:,}")


def load(path, names=None):
    """Read a .npz written by ``save``: {name: NumPy array} (only ``names``, if given).
    Refuses pickled objects, and (before allocating anything) members larger than the
    file can hold."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip_sizes(zf, path)
            arrays = {}
            for info in zf.infolist():
                if names is not None and info.filename[:-4] not in names:
                    continue
                _check_npy_header(zf, info, path)
                with zf.open(info) as f:
                    arrays[info.filename[:-4]] = np.lib.format.read_array(f, allow_pickle=False)
            return arrays
    except OversizedFileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npz state dict ({e}); it may be "
                         "truncated or from another program") from e
