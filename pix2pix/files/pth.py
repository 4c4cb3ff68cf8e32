"""Read and write PyTorch ``.pth`` state dicts with NumPy only, and safely.

The format ``torch.save`` has written since torch 1.6 is an uncompressed zip file with
one top-level folder (torch names it after the file; we write ``archive/``)::

    archive/data.pkl     pickle (protocol 2) of the state dict: an OrderedDict name -> tensor
    archive/data/0, 1..  one raw byte buffer (a "storage") per tensor, little-endian
    archive/byteorder    b"little" (missing in older files, which are little-endian too)
    archive/version      b"3\\n"

In data.pkl every tensor is a call ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, requires_grad, backward_hooks)``. ``storage`` is a *persistent id*, the tuple
``('storage', torch.FloatStorage, '0', 'cpu', numel)``, which names the file ``data/0``
instead of holding its bytes. Sizes, strides and offset count elements, not bytes.

Safety: unpickling calls whatever global the file names, so a ``.pth`` file can run
``os.system``. ``load_pth`` uses an unpickler whose ``find_class`` only knows the few
names a state dict needs, each mapped to our own NumPy code; any other global raises
``UnsafeCheckpointError`` before anything has run. torch is never imported.

Size: a small file must not make large arrays. Before unpickling, the opcodes are
checked (pickle_shape: at most MAX_NESTING deep, string keys) and the zip's members may
not claim much more than the file's size (nn.serialization.check_zip_sizes; torch stores
them uncompressed). Each tensor must be a non-overlapping view inside its storage (no stride
0 broadcasting one number to a 20000x20000 array), and all tensors together at most
MAX_VIEW_RATIO times their storages (views of one storage, such as tied weights, are
each copied).
"""
import io
import itertools
import math
import os
import pickle
import reprlib
import struct
import sys
import zipfile
from collections import OrderedDict, namedtuple
from typing import Mapping, Optional

import numpy as np

from nn.serialization import UnsafeArchiveError, atomic_write, check_zip_sizes
from pix2pix.files.checkpoint import (
    CheckpointError,  # the project's one "unreadable checkpoint" error
)
from pix2pix.files.pickle_shape import MAX_NESTING, PickleShapeError, check_pickle_shape

__all__ = ["load_pth", "save_pth", "CheckpointError", "UnsafeCheckpointError"]


class UnsafeCheckpointError(CheckpointError):
    """The pickle names a global that a plain state dict never needs; nothing was run."""


# torch storage class -> dtype of its elements. numpy has no bfloat16: we read its raw
# 16 bits and widen them to float32 (bfloat16 is the top half of a float32).
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "uint16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
_STORAGE_FOR_DTYPE = {np.dtype(d): n for n, d in _STORAGE_DTYPES.items() if n != "BFloat16Storage"}
_NESTED_KEYS = ("state_dict", "model", "netG")  # where training checkpoints keep the weights
MAX_VIEW_RATIO = 4     # bytes of tensors made per byte of storage read, beyond VIEW_SLACK
VIEW_SLACK = 1 << 20
_short = reprlib.Repr()  # error messages show a few items of what the file holds, not all
_short.maxlevel, _short.maxstring, _short.maxother = 3, 60, 60


# Immutable (a tuple), so the pickle's BUILD opcode cannot change a storage type's dtype.
class _StorageType(namedtuple("_StorageType", "name")):
    __slots__ = ()

    @property
    def dtype(self):
        return np.dtype(_STORAGE_DTYPES[self.name])


def _ints(xs):
    return isinstance(xs, (tuple, list)) and all(type(x) is int and x >= 0 for x in xs)


def _overlaps(size, stride):
    """True if two elements of the view share memory: a stride of 0 (broadcast), or
    strides that do not step over the dimensions below them. Dimensions of size 1 never
    move, so their stride does not matter (torch writes any number there)."""
    span = 1  # elements covered by the dimensions with smaller strides
    for n, s in sorted(((n, s) for n, s in zip(size, stride) if n > 1), key=lambda d: d[1]):
        if s < span:
            return True
        span = s * (n - 1) + span
    return False


def _rebuild_tensor(storage, storage_offset, size, stride):
    """View `storage` (a 1-D array) with torch's geometry and copy it into a fresh array."""
    if not (type(storage_offset) is int and storage_offset >= 0 and _ints(size)
            and _ints(stride) and len(size) == len(stride)) or not isinstance(storage, np.ndarray):
        raise CheckpointError(f"invalid tensor geometry: offset={_short.repr(storage_offset)}, "
                              f"size={_short.repr(size)}, stride={_short.repr(stride)} "
                              "(corrupt file)")
    size, stride = tuple(size), tuple(stride)
    if 0 in size:
        return np.zeros(size, storage.dtype)
    if _overlaps(size, stride):
        raise CheckpointError(f"tensor of size {size} with stride {stride} reuses its elements "
                              f"(stride 0 or overlapping strides), which would make "
                              f"{math.prod(size):,} elements from a storage of {storage.size:,}; "
                              "a saved state dict never does that (crafted or corrupt file)")
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise CheckpointError(f"tensor (offset {storage_offset}, size {size}, stride {stride}) "
                              f"reaches past its storage of {storage.size} elements (corrupt file)")
    view = np.lib.stride_tricks.as_strided(
        storage[storage_offset:], shape=size,
        strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return view.copy()  # contiguous, owns its memory, no longer pins the storage


def _check_no_hooks(backward_hooks):
    if not isinstance(backward_hooks, dict) or backward_hooks:
        raise CheckpointError("tensor carries backward hooks; a plain state dict has none")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    _check_no_hooks(backward_hooks)  # requires_grad and metadata do not matter to NumPy
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks):  # a saved nn.Parameter
    _check_no_hooks(backward_hooks)
    return data


def _empty_ordered_dict(*args):
    """torch writes OrderedDict() and then its items; OrderedDict(pairs) would hash keys
    that the opcode check did not see as dict keys."""
    if args:
        raise CheckpointError("OrderedDict(...) is called with arguments; a state dict never is")
    return OrderedDict()


_ALLOWED = {
    "collections.OrderedDict": _empty_ordered_dict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor": _rebuild_tensor,          # files from old torch versions
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    **{f"torch.{name}": _StorageType(name) for name in _STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, data, zf, prefix, byteorder, path):
        super().__init__(io.BytesIO(data))
        self._zf, self._prefix, self._byteorder, self._path = zf, prefix, byteorder, path
        self._storages = {}  # key -> 1-D array: each data/<key> is read once
        storage_bytes = sum(i.file_size for i in zf.infolist()
                            if i.filename.startswith(f"{prefix}/data/"))
        self._budget = MAX_VIEW_RATIO * storage_bytes + VIEW_SLACK  # bytes of tensors left

    def find_class(self, module, name):
        target = _ALLOWED.get(f"{module}.{name}")
        if target is None:
            raise UnsafeCheckpointError(
                f"{self._path}: refusing to load: the pickle asks for the global "
                f"'{module}.{name}'. The file is not a plain state dict and will not be executed.")
        if callable(target):
            # A fresh wrapper, so a BUILD opcode can't set attributes (__defaults__...) on ours.
            if target in (_rebuild_tensor_v2, _rebuild_tensor):
                return lambda *args: self._count(target(*args))
            return lambda *args: target(*args)
        return target

    def _count(self, result):
        """Charge each new tensor to the budget. Each is at most its storage (no overlaps),
        so the memory made stays within the budget plus one storage."""
        if isinstance(result, np.ndarray):
            self._budget -= result.nbytes
            if self._budget < 0:
                raise CheckpointError(
                    f"the tensors add up to more than {MAX_VIEW_RATIO}x the bytes of their "
                    "storages (many views of one storage); a saved state dict never does that")
        return result

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)
                and type(pid[4]) is int and pid[4] >= 0):
            raise CheckpointError(f"unsupported persistent id {_short.repr(pid)}")
        _, stype, key, _location, numel = pid
        if key not in self._storages:
            info = self._zf.getinfo(f"{self._prefix}/data/{key}")
            nbytes = numel * stype.dtype.itemsize
            if info.file_size != nbytes:  # checked before reading: no zip bombs
                raise CheckpointError(f"data/{key} holds {info.file_size} bytes, expected "
                                      f"{nbytes} ({numel} x {stype.name}) (corrupt file)")
            raw = np.frombuffer(self._zf.read(info), stype.dtype)
            if self._byteorder != sys.byteorder:
                raw = raw.byteswap()
            if stype.name == "BFloat16Storage":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            self._storages[key] = raw
        return self._storages[key]


def _is_state_dict(obj):
    return isinstance(obj, dict) and all(
        isinstance(k, str) and isinstance(v, np.ndarray) and v.dtype.kind in "biuf"
        for k, v in obj.items())


def load_pth(path, key: Optional[str] = None) -> "OrderedDict[str, np.ndarray]":
    """Load a state dict saved by ``torch.save`` as an OrderedDict of NumPy arrays.

    The top-level object must be a dict of tensors, or a training checkpoint (a dict)
    holding exactly one non-empty dict of tensors under 'state_dict', 'model' or 'netG';
    that inner dict is returned. Pass ``key`` to pick a nested dict by name instead.
    Raises UnsafeCheckpointError for pickles that want to call anything else, and
    CheckpointError for files that are corrupt or not in the zip format.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(4)
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            raise CheckpointError(f"{path}: truncated or corrupt zip file")
        if head.startswith(b"\x80"):
            raise CheckpointError(
                f"{path}: this is the legacy torch<1.6 format (a bare pickle); re-save it with "
                f"a newer torch: torch.save(torch.load(p), p, _use_new_zipfile_serialization=True)")
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip file nor a pickle)")
    try:
        with zipfile.ZipFile(path) as zf:
            pkls = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/data.pkl")]
            if len(pkls) != 1:
                raise CheckpointError(f"expected one <folder>/data.pkl in the zip, found {pkls}")
            prefix = pkls[0].split("/")[0]
            check_zip_sizes(zf, path)
            order = b"little"
            if f"{prefix}/byteorder" in zf.namelist():
                order = zf.read(f"{prefix}/byteorder")
            if order not in (b"little", b"big"):
                raise CheckpointError(f"unknown byteorder {_short.repr(order)}")
            data = zf.read(pkls[0])
            check_pickle_shape(data)
            obj = _StateDictUnpickler(data, zf, prefix, order.decode(), path).load()
    except PickleShapeError as e:
        raise CheckpointError(f"{path}: refusing to load: its data.pkl {e}, which a state dict "
                              "never does (crafted or corrupt file); nothing was built") from e
    except UnsafeArchiveError as e:
        raise CheckpointError(str(e)) from e
    except CheckpointError as e:  # says what is wrong; make sure it names the file
        if path in str(e):
            raise
        raise type(e)(f"{path}: {e}") from e
    except Exception as e:  # corrupt zip, bad CRC, missing record, bad geometry, ...
        raise CheckpointError(f"{path}: cannot read state dict: {type(e).__name__}: {e}") from e

    if key is not None:
        if not (isinstance(obj, dict) and _is_state_dict(obj.get(key))):
            raise CheckpointError(f"{path}: no dict of tensors under key {key!r}")
        return OrderedDict(obj[key])
    if _is_state_dict(obj):
        return OrderedDict(obj)
    if isinstance(obj, dict):
        nested = [k for k, v in obj.items() if _is_state_dict(v) and v]
        if len(nested) == 1 and nested[0] in _NESTED_KEYS:
            return OrderedDict(obj[nested[0]])
        raise CheckpointError(f"{path}: top level is a dict but not a state dict; keys "
                              f"{list(obj)[:10]}; pick the one you want with key=...")
    raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")


# --- writing. We emit the pickle opcodes ourselves: the pickle module would have to
# import torch to write a reference to torch._utils._rebuild_tensor_v2.
def _pickle_state_dict(entries):
    """data.pkl for [(key, storage name, shape), ...]; tensor i lives in data/i."""
    def int_(n):
        if 0 <= n < 256:
            return b"K" + bytes([n])                                       # BININT1
        if -2**31 <= n < 2**31:
            return b"J" + struct.pack("<i", n)                             # BININT
        nb = (n.bit_length() + 8) // 8
        return b"\x8a" + bytes([nb]) + n.to_bytes(nb, "little", signed=True)  # LONG1

    def str_(s):
        return b"X" + struct.pack("<I", len(s.encode())) + s.encode()      # BINUNICODE

    def tuple_(items):
        return b"(" + b"".join(items) + b"t"                               # MARK ... TUPLE

    def global_(module, name):
        return b"c" + f"{module}\n{name}\n".encode()                       # GLOBAL

    def strides(shape):  # row-major, in elements, as torch computes them
        out, step = [], 1
        for n in reversed(shape):
            out.insert(0, step)
            step *= max(n, 1)
        return out

    ordered_dict = global_("collections", "OrderedDict") + b")R"          # OrderedDict()
    out = [b"\x80\x02", ordered_dict, b"("]                                # PROTO 2, MARK
    for i, (key, storage, shape) in enumerate(entries):
        pid = tuple_([str_("storage"), global_("torch", storage), str_(str(i)), str_("cpu"),
                      int_(math.prod(shape))]) + b"Q"                      # BINPERSID
        args = tuple_([pid, int_(0), tuple_(map(int_, shape)), tuple_(map(int_, strides(shape))),
                       b"\x89", ordered_dict])                             # NEWFALSE: no grad
        out += [str_(key), global_("torch._utils", "_rebuild_tensor_v2"), args, b"R"]  # REDUCE
    return b"".join(out + [b"u."])                                          # SETITEMS, STOP


def _write_zip(f, records):
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, data in records:
            # Pad the local header with an extra field ("FB", as torch does) so the payload
            # starts on a 64-byte boundary, which lets torch memory-map storages.
            info = zipfile.ZipInfo(name)
            zip64 = 20 if len(data) * 1.05 > zipfile.ZIP64_LIMIT else 0
            pad = -(f.tell() + 30 + len(name.encode()) + 4 + zip64) % 64
            info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            zf.writestr(info, data)


def save_pth(state_dict: Mapping[str, np.ndarray], path) -> None:
    """Write `state_dict` (name -> NumPy array) as a .pth that ``torch.load`` reads,
    including with ``weights_only=True``. Atomic: written to a temporary file in the
    same folder, fsynced, then renamed over `path`."""
    path = os.fspath(path)
    arrays = []
    for key, value in state_dict.items():
        a = np.asarray(value)
        storage = _STORAGE_FOR_DTYPE.get(a.dtype.newbyteorder("="))
        if not isinstance(key, str) or storage is None:
            raise TypeError(f"save_pth: cannot save {key!r} (dtype {a.dtype}); keys must be str "
                            f"and dtypes one of {sorted(str(d) for d in _STORAGE_FOR_DTYPE)}")
        arrays.append((key, storage, a))
    header = [("archive/data.pkl", _pickle_state_dict([(k, s, a.shape) for k, s, a in arrays])),
              ("archive/byteorder", b"little")]
    data = ((f"archive/data/{i}", a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
            for i, (_, _, a) in enumerate(arrays))   # a generator: one byte copy at a time
    atomic_write(path, lambda f: _write_zip(
        f, itertools.chain(header, data, [("archive/version", b"3\n")])))
