"""Tests for pix2pix.files.pth: reading/writing torch .pth state dicts without torch, safely.

Malicious pickles are built here (by pickle.dumps of objects whose __reduce__ names a
dangerous function, or by hand from opcodes) and are only ever given to load_pth.
"""
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from pix2pix.files import pth as pth
from pix2pix.files.pth import CheckpointError, UnsafeCheckpointError, load_pth, save_pth

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


# ---------------------------------------------------------------- helpers
def write_zip(path, pkl, storages=(), prefix="archive"):
    """A .pth-shaped zip: <prefix>/data.pkl, <prefix>/data/<key>, <prefix>/version."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl)
        for key, data in dict(storages).items():
            zf.writestr(f"{prefix}/data/{key}", data)
        zf.writestr(f"{prefix}/version", b"3\n")
    return path


def tensor_pickle(storage, numel, offset, size, stride, key="w",
                  hooks=b"ccollections\nOrderedDict\n)R"):
    """Hand-written protocol-2 pickle of {key: _rebuild_tensor_v2(storage '0', ...)}."""
    def ints(xs):
        return b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    return (b"\x80\x02}(X" + struct.pack("<I", len(key)) + key.encode()
            + b"ctorch._utils\n_rebuild_tensor_v2\n("
            + b"(X\x07\x00\x00\x00storagectorch\n" + storage.encode() + b"\nX\x01\x00\x00\x000"
            + b"X\x03\x00\x00\x00cpu" + ints([numel])[1:-1] + b"tQ"
            + ints([offset])[1:-1] + ints(size) + ints(stride)
            + b"\x89" + hooks + b"t" + b"Ru.")


class Evil:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def assert_same(got, expected):
    assert list(got) == list(expected)
    for k in expected:
        assert got[k].dtype == expected[k].dtype, k
        assert got[k].shape == expected[k].shape, k
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)


# ---------------------------------------------------------------- safety (no torch)
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_os_system_pickle_is_refused_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "marker"
    payload = {"w": Evil(os.system, f"touch {marker}")}
    path = write_zip(tmp_path / "evil.pth", pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UnsafeCheckpointError) as err:
        load_pth(path)
    msg = str(err.value)
    assert f"{os.system.__module__}.system" in msg and str(path) in msg
    assert "not a plain state dict" in msg and "will not be executed" in msg
    assert not marker.exists()


@pytest.mark.parametrize("func, args", [
    ("builtins\nexec\n", "open({m!r}, 'w').close()"),
    ("builtins\neval\n", "open({m!r}, 'w').close()"),
    ("subprocess\nPopen\n", "touch {m}"),
    ("posix\nsystem\n", "touch {m}"),
])
def test_hand_written_malicious_globals_are_refused(tmp_path, func, args):
    marker = tmp_path / "marker"
    arg = args.format(m=str(marker)).encode()
    pkl = b"\x80\x02c" + func.encode() + b"X" + struct.pack("<I", len(arg)) + arg + b"\x85R."
    with pytest.raises(UnsafeCheckpointError, match=func.replace("\n", ".", 1).strip()):
        load_pth(write_zip(tmp_path / "evil.pth", pkl))
    assert not marker.exists()


def test_getattr_gadget_is_refused(tmp_path):
    pkl = pickle.dumps(Evil(getattr, "text", "upper"), protocol=2)
    with pytest.raises(UnsafeCheckpointError, match=r"__builtin__\.getattr"):
        load_pth(write_zip(tmp_path / "evil.pth", pkl))


def test_evil_global_after_a_valid_tensor_is_refused(tmp_path):
    marker = tmp_path / "marker"
    good = tensor_pickle("FloatStorage", 2, 0, [2], [1], key="ok")[:-2]  # drop SETITEMS, STOP
    evil = pickle.dumps(Evil(os.system, f"touch {marker}"), protocol=2)[2:-1]  # drop PROTO, STOP
    pkl = good + b"X\x04\x00\x00\x00evil" + evil + b"u."
    path = write_zip(tmp_path / "evil.pth", pkl, {"0": np.ones(2, np.float32).tobytes()})
    with pytest.raises(UnsafeCheckpointError):
        load_pth(path)
    assert not marker.exists()


def test_build_opcode_cannot_modify_allowed_globals(tmp_path):
    defaults = pth._rebuild_tensor_v2.__defaults__
    state = b"(N}X\x0c\x00\x00\x00__defaults__(K\x01K\x02K\x03tstb"  # (None, {..: (1,2,3)}) BUILD
    pkl = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n" + state + b"."
    with pytest.raises(CheckpointError):  # loads a function, not a state dict
        load_pth(write_zip(tmp_path / "a.pth", pkl))
    assert pth._rebuild_tensor_v2.__defaults__ == defaults
    for attr, value in [(b"name", b"LongStorage"), (b"dtype", b"object")]:
        pkl = (b"\x80\x02ctorch\nFloatStorage\n(N}X" + struct.pack("<I", len(attr)) + attr
               + b"X" + struct.pack("<I", len(value)) + value + b"stb.")
        with pytest.raises(CheckpointError):
            load_pth(write_zip(tmp_path / "b.pth", pkl))
        assert pth._ALLOWED["torch.FloatStorage"].dtype == np.float32


def test_backward_hooks_are_refused(tmp_path):
    hooks = b"}X\x01\x00\x00\x00aK\x01s"  # {'a': 1} where an empty OrderedDict belongs
    path = write_zip(tmp_path / "h.pth", tensor_pickle("FloatStorage", 2, 0, [2], [1], hooks=hooks),
                     {"0": np.ones(2, np.float32).tobytes()})
    with pytest.raises(CheckpointError, match="backward hooks"):
        load_pth(path)


# ---------------------------------------------------------------- corrupt files (no torch)
@pytest.mark.parametrize("size, stride, offset", [
    ([3, 3], [3, 1], 0),   # 9 elements from a storage of 8
    ([4], [2], 1),         # last element at 1 + 3*2 = 7: fits; 8 would not
    ([2, 2], [4, 2], 1),   # 1 + 4 + 2 = 7: fits
    ([2], [1], 7),         # 7 + 1 = 8: past the end
    ([2], [-1], 1),        # negative stride
])
def test_tensor_geometry_is_validated(tmp_path, size, stride, offset):
    storage = np.arange(8, dtype=np.float32)
    path = write_zip(tmp_path / "t.pth", tensor_pickle("FloatStorage", 8, offset, size, stride),
                     {"0": storage.tobytes()})
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if min(stride) >= 0 and last < 8:
        got = load_pth(path)["w"]
        expected = np.lib.stride_tricks.as_strided(storage[offset:], size, [4 * s for s in stride])
        np.testing.assert_array_equal(got, expected)
        assert got.flags.c_contiguous and got.flags.owndata and got.flags.writeable
    else:
        with pytest.raises(CheckpointError, match="corrupt file") as err:
            load_pth(path)
        assert str(path) in str(err.value)


def test_storage_size_mismatch_is_an_error(tmp_path):
    path = write_zip(tmp_path / "t.pth", tensor_pickle("FloatStorage", 8, 0, [8], [1]),
                     {"0": np.zeros(7, np.float32).tobytes()})
    with pytest.raises(CheckpointError, match="28 bytes, expected 32"):
        load_pth(path)


def test_truncated_zip_names_the_file(tmp_path):
    path = tmp_path / "model.pth"
    save_pth({"w": np.ones((8, 8), np.float32)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt zip") as err:
        load_pth(path)
    assert str(path) in str(err.value)


def test_corrupt_payload_in_intact_zip_names_the_file(tmp_path):
    path = tmp_path / "model.pth"
    save_pth({"w": np.ones(64, np.float32)}, path)
    data = bytearray(path.read_bytes())
    i = data.index(np.ones(64, np.float32).tobytes())
    data[i] ^= 0xFF  # flip bits in the storage: the zip's CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="CRC") as err:
        load_pth(path)
    assert str(path) in str(err.value)


def test_not_a_zip_nor_pickle_names_the_file(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello, this is text")
    with pytest.raises(CheckpointError, match="neither a zip file nor a pickle") as err:
        load_pth(path)
    assert str(path) in str(err.value)


def test_zip_without_data_pkl_is_an_error(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(CheckpointError, match="data.pkl"):
        load_pth(path)


def test_legacy_pickle_format_says_how_to_resave(tmp_path):
    path = tmp_path / "old.pth"
    # what torch<1.6 wrote first: the pickled magic number 0x1950a86a20f9469cfc6c
    path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + b"\x80\x02K\x03.")
    with pytest.raises(CheckpointError, match="_use_new_zipfile_serialization=True") as err:
        load_pth(path)
    assert str(path) in str(err.value) and "legacy" in str(err.value)


# ---------------------------------------------------------------- round trips (no torch)
def test_round_trip_dtypes_and_shapes(tmp_path):
    rng = np.random.default_rng(0)
    sd = OrderedDict([
        ("conv.weight", rng.standard_normal((4, 3, 4, 4)).astype(np.float32)),
        ("fc.weight", rng.standard_normal((3, 5))),                           # float64
        ("bn.num_batches_tracked", np.array(7, dtype=np.int64)),             # shape ()
        ("transposed", rng.standard_normal((3, 5)).astype(np.float32).T),    # not C-contiguous
        ("fortran", np.asfortranarray(rng.standard_normal((2, 1, 3)))),
        ("strided", np.arange(20, dtype=np.int32)[::3]),
        ("empty", np.zeros((0, 3), np.float32)),
        ("half", np.array([1.5, -2.0, 65504.0], np.float16)),
        ("mask", np.array([True, False, True])),
        ("u8", np.arange(250, 256, dtype=np.uint8)),
        ("i8", np.array([-128, 127], np.int8)),
        ("i16", np.array([-3, 30000], np.int16)),
        ("big_endian", np.arange(6, dtype=">f4").reshape(2, 3)),
        ("big_int", np.array([2**40, -(2**40)], np.int64)),
    ])
    path = tmp_path / "rt.pth"
    save_pth(sd, path)
    got = load_pth(path)
    assert isinstance(got, OrderedDict)
    expected = OrderedDict((k, v.astype(v.dtype.newbyteorder("="))) for k, v in sd.items())
    assert_same(got, expected)
    assert got["bn.num_batches_tracked"].shape == ()
    assert all(v.flags.c_contiguous and v.flags.owndata for v in got.values())
    assert [p.name for p in tmp_path.iterdir()] == ["rt.pth"]  # no temporary file left


def test_saved_file_layout(tmp_path):
    path = tmp_path / "m.pth"
    save_pth({"a": np.ones(3, np.float32), "b": np.ones((2, 2), np.float64)}, path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names == ["archive/data.pkl", "archive/byteorder", "archive/data/0",
                         "archive/data/1", "archive/version"]
        assert zf.read("archive/version") == b"3\n"
        assert zf.read("archive/byteorder") == b"little"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        raw = path.read_bytes()
        for info in zf.infolist():
            n, e = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
            assert (info.header_offset + 30 + n + e) % 64 == 0, info.filename  # aligned payload


def test_save_rejects_unsupported_values(tmp_path):
    with pytest.raises(TypeError, match="complex128"):
        save_pth({"z": np.ones(2, complex)}, tmp_path / "z.pth")
    with pytest.raises(TypeError, match="keys must be str"):
        save_pth({3: np.ones(2, np.float32)}, tmp_path / "z.pth")
    assert not list(tmp_path.iterdir())


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.pth"
    save_pth({"w": np.ones(3, np.float32)}, path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk on fire")
    monkeypatch.setattr(pth.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        save_pth({"w": np.zeros(300, np.float32)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pth"]


def test_bfloat16_storage_is_widened_to_float32(tmp_path):
    bits = np.array([0x3F80, 0xC000, 0x3F00, 0x4049], np.uint16)  # 1, -2, 0.5, 3.140625
    path = write_zip(tmp_path / "bf.pth", tensor_pickle("BFloat16Storage", 4, 0, [2, 2], [1, 2]),
                     {"0": bits.tobytes()})
    got = load_pth(path)["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[1.0, 0.5], [-2.0, 3.140625]])


def test_big_endian_file(tmp_path):
    values = np.array([1.0, 2.5, -3.0], np.float32)
    path = tmp_path / "be.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("be/data.pkl", tensor_pickle("FloatStorage", 3, 0, [3], [1]))
        zf.writestr("be/data/0", values.astype(">f4").tobytes())
        zf.writestr("be/byteorder", b"big")
    np.testing.assert_array_equal(load_pth(path)["w"], values)


# ---------------------------------------------------------------- torch-written fixture
def test_fixture_written_by_torch_loads_exactly():
    got = load_pth(os.path.join(FIXTURES, "tiny_state_dict.pth"))
    with np.load(os.path.join(FIXTURES, "tiny_state_dict_expected.npz")) as npz:
        expected = OrderedDict((k, npz[k]) for k in npz.files)
    assert list(expected) == ["0.weight", "1.weight", "1.bias", "1.running_mean",
                              "1.running_var", "1.num_batches_tracked", "2.weight", "2.bias"]
    assert_same(got, expected)
    assert got["1.num_batches_tracked"].shape == () and got["1.num_batches_tracked"] == 1


# ---------------------------------------------------------------- against real torch
def _torch():
    return pytest.importorskip("torch")


def _small_model(torch):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
                                torch.nn.LeakyReLU(0.2), torch.nn.ConvTranspose2d(8, 2, 4, 2, 1))
    with torch.no_grad():
        model(torch.randn(2, 3, 6, 6))
    return model


@pytest.mark.needs_torch
def test_torch_saved_state_dict_loads(tmp_path):
    torch = _torch()
    state = _small_model(torch).state_dict()
    torch.save(state, tmp_path / "model.pth")
    assert_same(load_pth(tmp_path / "model.pth"), {k: v.numpy() for k, v in state.items()})


@pytest.mark.needs_torch
def test_torch_saved_views_dtypes_and_parameters(tmp_path):
    torch = _torch()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    sd = {
        "transposed": base.t(),             # stride (1, 6)
        "slice": base[1:3, 2:5],            # offset 8 into the shared storage
        "every_other": base[:, ::2],
        "base": base,
        "bf16": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16),
        "half": torch.tensor([0.5, 65504.0], dtype=torch.float16),
        "mask": torch.tensor([True, False]),
        "bytes": torch.tensor([0, 255], dtype=torch.uint8),
        "chars": torch.tensor([-128, 127], dtype=torch.int8),
        "ints": torch.tensor([1, -2], dtype=torch.int32),
        "shorts": torch.tensor([1, -2], dtype=torch.int16),
        "double": torch.randn(2, 2, dtype=torch.float64),
        "param": torch.nn.Parameter(torch.randn(3)),
    }
    torch.save(sd, tmp_path / "views.pth")
    got = load_pth(tmp_path / "views.pth")
    expected = {k: (v.detach().float() if v.dtype == torch.bfloat16 else v.detach()).numpy()
                for k, v in sd.items()}
    assert_same(got, expected)


@pytest.mark.needs_torch
def test_torch_saved_training_checkpoint(tmp_path):
    torch = _torch()
    g, d = _small_model(torch).state_dict(), torch.nn.Linear(2, 1).state_dict()
    torch.save({"state_dict": g, "epoch": 3, "note": "x"}, tmp_path / "ckpt.pth")
    assert_same(load_pth(tmp_path / "ckpt.pth"), {k: v.numpy() for k, v in g.items()})
    torch.save({"netG": g, "netD": d, "epoch": 3}, tmp_path / "gan.pth")
    with pytest.raises(CheckpointError, match="key="):
        load_pth(tmp_path / "gan.pth")
    assert_same(load_pth(tmp_path / "gan.pth", key="netD"), {k: v.numpy() for k, v in d.items()})


@pytest.mark.needs_torch
def test_save_pth_is_read_by_torch_weights_only(tmp_path):
    torch = _torch()
    model = _small_model(torch)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    sd = {k: np.asarray(v * 2 if v.dtype.kind == "f" else v + 5) for k, v in sd.items()}
    sd["extra.transposed"] = np.arange(6, dtype=np.float64).reshape(2, 3).T
    path = tmp_path / "ours.pth"
    save_pth(sd, path)
    for kwargs in ({}, {"mmap": True}):
        loaded = torch.load(path, weights_only=True, **kwargs)
        assert_same({k: v.numpy() for k, v in loaded.items()}, sd)
        assert all(v.is_contiguous() for v in loaded.values())
    fresh = _small_model(torch)
    result = fresh.load_state_dict(loaded, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["extra.transposed"]
    assert torch.equal(fresh[1].running_var, torch.from_numpy(sd["1.running_var"]))
