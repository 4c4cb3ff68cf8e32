"""Crafted and hand-edited checkpoint files (.pth, .npz): each is refused with a one-line
error before anything deep or large is built (issue: untrusted files).

Every crafted file is written here, small; none is committed.
"""
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import nn
from pix2pix.files.checkpoint import CheckpointError, read_checkpoint
from pix2pix.files.pth import MAX_NESTING, load_pth
from tests.pix2pix.files.test_pth import tensor_pickle, write_zip

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def deep_tuple_key_pickle(depth):
    """{((((...1...),),): 0}: a dict key that is a tuple nested `depth` deep (TUPLE1 ops)."""
    return b"\x80\x02}K\x01" + b"\x85" * depth + b"K\x00s."


def run_load_pth(path):
    """load_pth in a fresh interpreter: a crash (SIGSEGV) shows as a return code, not as
    a dead test runner."""
    code = ("import sys; from pix2pix.files.pth import load_pth, CheckpointError\n"
            "try:\n    load_pth(sys.argv[1])\nexcept CheckpointError as e:\n"
            "    print('refused:', e)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- 1. nesting
def test_deeply_nested_key_is_refused_without_crashing(tmp_path):
    # 400,000 levels: 400 KB of pickle; CPython crashes hashing it if it is ever built.
    path = write_zip(tmp_path / "deep.pth", deep_tuple_key_pickle(400_000))
    result = run_load_pth(path)
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    assert "refused:" in result.stdout and f"more than {MAX_NESTING} deep" in result.stdout


@pytest.mark.parametrize("pkl", [
    b"\x80\x02(" * 100 + b"K\x00" + b"l" * 100 + b".",                  # lists via MARK
    b"\x80\x02K\x00" + b"\x85q\x00h\x00\x86" * 40 + b".",                # memo GET reuse
    b"\x80\x02]K\x00a.",                                                 # [0]: flat
], ids=["marks", "memo", "flat"])
def test_nesting_is_measured_through_marks_and_memo(tmp_path, pkl):
    path = write_zip(tmp_path / "n.pth", pkl)
    if pkl.count(b"l") >= 100 or pkl.count(b"\x86") >= 40:
        with pytest.raises(CheckpointError, match="nests containers"):
            load_pth(path)
    else:   # a flat list: not nested, refused later only for not being a state dict
        with pytest.raises(CheckpointError, match="not a state dict"):
            load_pth(path)


def test_shallow_non_string_key_is_refused(tmp_path):
    pkl = b"\x80\x02}K\x01K\x00s."                                      # {1: 0}
    path = write_zip(tmp_path / "intkey.pth", pkl)
    with pytest.raises(CheckpointError, match="non-string key of type int"):
        load_pth(path)


# ---------------------------------------------------------------- 2. memory bombs
def test_stride_zero_tensor_is_refused(tmp_path):
    # One float stored, viewed as 20000 x 20000 with stride 0: 1.6 GB if it were copied.
    pkl = tensor_pickle("FloatStorage", 1, 0, [20000, 20000], [0, 0])
    path = write_zip(tmp_path / "stride0.pth", pkl, {"0": b"\0" * 4})
    assert os.path.getsize(path) < 1000
    with pytest.raises(CheckpointError, match="overlapping strides"):
        load_pth(path)


def test_overlapping_strides_are_refused(tmp_path):
    pkl = tensor_pickle("FloatStorage", 8, 0, [4, 4], [1, 1])           # 16 views of 8 floats
    path = write_zip(tmp_path / "overlap.pth", pkl, {"0": b"\0" * 32})
    with pytest.raises(CheckpointError, match="overlapping strides"):
        load_pth(path)


def deflated_zip(path, names_and_data):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in names_and_data:
            zf.writestr(name, data)
    return path


def test_compressed_storage_bomb_is_refused_before_inflating(tmp_path):
    numel = 64 * 2**20                                                 # 256 MiB of zeros
    pkl = tensor_pickle("FloatStorage", numel, 0, [numel], [1])
    path = deflated_zip(tmp_path / "bomb.pth", [("archive/data.pkl", pkl),
                                                ("archive/data/0", bytes(4 * numel))])
    assert os.path.getsize(path) < 2**20
    with pytest.raises(CheckpointError, match=r"claims to expand to 268435\d+ bytes"):
        load_pth(path)


def test_npz_header_claiming_a_huge_array_is_refused(tmp_path):
    # A valid .npy header for a (100000, 100000) float64 array, followed by 8 bytes.
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (100000, 100000)
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("G.w.npy", buf.getvalue() + bytes(8))
    with pytest.raises(ValueError, match=r"claims shape \(100000, 100000\)"):
        nn.load(path)


def test_npz_zip_bomb_is_refused(tmp_path):
    import io
    buf = io.BytesIO()
    np.save(buf, np.zeros(32 * 2**20, np.float32))                     # 128 MiB of zeros
    path = deflated_zip(tmp_path / "bomb.npz", [("G.w.npy", buf.getvalue())])
    assert os.path.getsize(path) < 2**20
    with pytest.raises(ValueError, match="claims to expand"):
        nn.load(path)


def test_entry_whose_bytes_are_not_in_the_file_is_refused(tmp_path):
    path = tmp_path / "ok.npz"
    nn.save({"a": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    # Make the central directory claim a compressed size far past the end of the file.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 20:cd + 24] = struct.pack("<I", 10**8)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not in the file"):
        nn.load(path)


def test_real_checkpoints_are_within_the_bounds(tmp_path):
    """The bounds leave every real file alone: ours (np.savez, stored) and torch's."""
    from tests.pix2pix.files.test_pth import FIXTURES
    load_pth(os.path.join(FIXTURES, "tiny_official_unet.pth"))
    rng = np.random.default_rng(0)
    state = {"w": rng.standard_normal((64, 3, 4, 4)).astype(np.float32), "z": np.zeros(3)}
    nn.save(state, tmp_path / "s.npz")
    assert set(nn.load(tmp_path / "s.npz")) == {"w", "z"}


# ---------------------------------------------------------------- 3. hand-edited meta
def write_checkpoint(path, meta, **arrays):
    arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    nn.save(arrays, path)
    return path


GOOD_META = dict(format="pix2pix-from-scratch", version=1, epoch=0, epoch_iter=0,
                 total_iters=0, options={}, weights_only=False,
                 dropout_rng=np.random.default_rng(0).bit_generator.state)


@pytest.mark.parametrize("meta, message", [
    ('{"format": "pix2pix-from', "meta is not valid JSON"),
    ("[1, 2, 3]", "meta is a list, not a JSON object"),
    ({k: v for k, v in GOOD_META.items() if k != "epoch"}, "meta lacks 'epoch'"),
    ({**GOOD_META, "epoch": "three"}, "meta 'epoch' is 'three'"),
    ({**GOOD_META, "dropout_rng": {"bit_generator": "Evil"}}, "dropout generator state"),
    ({**GOOD_META, "options": [1]}, "meta 'options'"),
    ({**GOOD_META, "version": "1"}, "meta 'version'"),
])
def test_bad_meta_is_a_one_line_error_naming_the_file(tmp_path, meta, message):
    path = write_checkpoint(tmp_path / "latest.npz", meta)
    with pytest.raises(CheckpointError, match=message) as info:
        read_checkpoint(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_string_dtype_weights_are_refused(tmp_path):
    path = write_checkpoint(tmp_path / "latest.npz", GOOD_META,
                            **{"G.w": np.array(["1.5", "2.5"])})
    with pytest.raises(CheckpointError, match="'G.w' has dtype <U3"):
        read_checkpoint(str(path))
