"""Crafted .pth files (the official weights' format, a pickle in a zip): each is refused
with a one-line error before anything deep or large is built. Nesting through marks and
the memo, keys that are cheap to build but costly to hash, sets and OrderedDict(pairs),
values shared the same way, and tensors that multiply their storage (overlapping strides,
many views of one storage, a compressed storage bomb); the test command's entry point.

Every crafted file is written here, small. The memory bombs are sized so that the code
without these checks allocated hundreds of MB; the checks refuse them before that.
"""
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import nn
from pix2pix.files.checkpoint import CheckpointError
from pix2pix.files.pth import MAX_NESTING, load_pth
from tests.paths import REPO
from tests.pix2pix.files.test_pth import tensor_pickle, write_zip
from tests.pix2pix.robustness import deflated_zip


def deep_tuple_key_pickle(depth):
    """{((((...1...),),): 0}: a dict key that is a tuple nested `depth` deep (TUPLE1 ops)."""
    return b"\x80\x02}K\x01" + b"\x85" * depth + b"K\x00s."


def deep_key_pickle(depth):
    """{((((1,),),)...): 1}: a dict key made of `depth` nested 1-tuples (TUPLE1 opcodes)."""
    return b"\x80\x02}K\x01" + b"\x85" * depth + b"K\x01s."


def run_load_pth(path):
    """load_pth in a fresh interpreter: a crash (SIGSEGV) shows as a return code, not as
    a dead test runner."""
    code = ("import sys; from pix2pix.files.pth import load_pth, CheckpointError\n"
            "try:\n    load_pth(sys.argv[1])\nexcept CheckpointError as e:\n"
            "    print('refused:', e)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def refusal(load, *args):
    """(the CheckpointError that load(*args) raises, the peak memory traced meanwhile:
    NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        load(*args)
    except CheckpointError as e:
        return str(e), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError(f"{args[0]} was loaded without an error")


# --- 1. nesting and keys ------------------------------------------------------------------

def test_deeply_nested_key_is_refused_without_crashing(tmp_path):
    # 400,000 levels: 400 KB of pickle; CPython crashes hashing it if it is ever built.
    path = write_zip(tmp_path / "deep.pth", deep_tuple_key_pickle(400_000))
    result = run_load_pth(path)
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    assert "refused:" in result.stdout and f"more than {MAX_NESTING} deep" in result.stdout


def test_deeply_nested_key_is_refused_by_the_test_command_without_a_crash(tmp_path):
    """300,000 nested tuples as a dict key made CPython crash (SIGSEGV, exit 139) while
    hashing it; it is refused from the opcodes, before the tuple is built."""
    evil = write_zip(tmp_path / "latest_net_G.pth", deep_key_pickle(300_000))
    run = subprocess.run([sys.executable, "-m", "pix2pix.evaluation.evaluate", "--checkpoint", str(evil),
                          "--results_dir", str(tmp_path / "results")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stderr[-500:])
    assert str(evil) in run.stderr and f"more than {MAX_NESTING} deep" in run.stderr
    assert "Traceback" not in run.stderr


def test_nesting_just_within_the_bound_is_read(tmp_path):
    """The bound counts levels exactly: a key at depth MAX_NESTING - 1 is only refused for
    being a tuple, one level more for the depth."""
    with pytest.raises(CheckpointError, match="non-string key of type tuple"):
        load_pth(write_zip(tmp_path / "a.pth", deep_key_pickle(MAX_NESTING - 1)))
    with pytest.raises(CheckpointError, match=f"more than {MAX_NESTING} deep"):
        load_pth(write_zip(tmp_path / "b.pth", deep_key_pickle(MAX_NESTING + 1)))


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


@pytest.mark.parametrize("key, kind", [
    (b"K\x01K\x02\x86", "tuple"), (b"G?\xf0\x00\x00\x00\x00\x00\x00", "float"),
    (b"N", "NoneType"), (b"K\x07", "int"),
], ids=["tuple", "float", "None", "int"])
def test_non_string_keys_are_refused_before_unpickling(tmp_path, key, kind):
    pkl = b"\x80\x02}" + key + b"K\x01s."
    with pytest.raises(CheckpointError, match=f"non-string key of type {kind}") as err:
        load_pth(write_zip(tmp_path / "k.pth", pkl))
    assert str(tmp_path / "k.pth") in str(err.value) and "nothing was built" in str(err.value)


def shared_pickle(levels, as_key):
    """{"k": t} (or {t: 1}) where t = (u, u), u = (v, v), ...: `levels` deep, each level
    one memo entry used twice, so 2**levels leaves from about 8 bytes per level."""
    out = b"\x80\x02}" + (b"" if as_key else b"X\x01\x00\x00\x00k") + b"K\x01q\x000"
    for i in range(1, levels + 1):  # BINGET i-1 twice, TUPLE2, BINPUT i, POP
        out += b"h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"\x86q" + bytes([i]) + b"0"
    return out + b"h" + bytes([levels]) + (b"K\x01" if as_key else b"") + b"s."


@pytest.mark.parametrize("as_key", [True, False], ids=["key", "value"])
def test_shared_structure_within_the_depth_bound_costs_nothing(tmp_path, as_key):
    """30 levels: within the bound, but 2**30 leaves. Hashing the key took 10 s; walking
    the value to check its keys (as main's first version did after unpickling: 2.2 s at
    22 levels, 9.1 s at 24) did not end within 30 s. Here the key is refused unbuilt and
    nothing walks the value."""
    path = write_zip(tmp_path / "shared.pth", shared_pickle(30, as_key))
    started = time.perf_counter()
    with pytest.raises(CheckpointError, match="non-string key of type tuple" if as_key
                       else "not a state dict"):
        load_pth(path)
    assert time.perf_counter() - started < 2


def test_sets_and_ordered_dict_arguments_are_refused(tmp_path):
    """Both hash their items: a set (EMPTY_SET/ADDITEMS) and OrderedDict([(key, value)])."""
    with pytest.raises(CheckpointError, match="EMPTY_SET"):
        load_pth(write_zip(tmp_path / "s.pth", b"\x80\x04\x8f(K\x01\x90."))
    pairs = b"]K\x01K\x02\x86K\x03\x86a\x85"  # ([((1, 2), 3)],)
    pkl = b"\x80\x02ccollections\nOrderedDict\n" + pairs + b"R."
    with pytest.raises(CheckpointError, match="called with arguments"):
        load_pth(write_zip(tmp_path / "o.pth", pkl))


# --- 2. memory bombs ----------------------------------------------------------------------

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


def test_compressed_storage_bomb_is_refused_before_inflating(tmp_path):
    numel = 64 * 2**20                                                 # 256 MiB of zeros
    pkl = tensor_pickle("FloatStorage", numel, 0, [numel], [1])
    path = deflated_zip(tmp_path / "bomb.pth", [("archive/data.pkl", pkl),
                                                ("archive/data/0", bytes(4 * numel))])
    assert os.path.getsize(path) < 2**20
    with pytest.raises(CheckpointError, match=r"claims to expand to 268435\d+ bytes"):
        load_pth(path)


@pytest.mark.parametrize("numel, size, stride", [
    (1, [20000, 20000], [0, 0]),         # one byte broadcast to 400 MB
    (40000, [20000, 20000], [1, 1]),     # overlapping rows: 40 KB -> 400 MB
    (60000, [20000, 20000], [1, 2]),     # strides that do not step over the other dim
], ids=["stride-0", "overlapping", "interleaved"])
def test_overlapping_views_are_refused_before_allocating(tmp_path, numel, size, stride):
    path = write_zip(tmp_path / "bomb.pth", tensor_pickle("ByteStorage", numel, 0, size, stride),
                     {"0": bytes(numel)})
    assert path.stat().st_size < 100_000
    message, peak = refusal(load_pth, path)
    assert "reuses its elements" in message and "400,000,000 elements" in message
    assert str(path) in message and peak < 10_000_000


def test_many_views_of_one_storage_are_refused(tmp_path):
    """200 tensors, each the whole of one 1 MiB storage, would be 200 MiB of copies."""
    # tensor_pickle(...)[4:-2]: one "key: tensor" item, between MARK and SETITEMS
    items = b"".join(tensor_pickle("ByteStorage", 1 << 20, 0, [1 << 20], [1],
                                   key=f"w{i:03d}")[4:-2] for i in range(200))
    path = write_zip(tmp_path / "views.pth", b"\x80\x02}(" + items + b"u.",
                     {"0": bytes(1 << 20)})
    message, peak = refusal(load_pth, path)
    assert "more than 4x the bytes of their storages" in message
    assert peak < 20 << 20  # the budget (4 x 1 MiB + 1 MiB), the storage, its zip read


# --- 3. real files stay within the bounds -------------------------------------------------

def test_real_checkpoints_are_within_the_bounds(tmp_path):
    """The bounds leave every real file alone: ours (np.savez, stored) and torch's."""
    from tests.pix2pix.files.test_pth import FIXTURES
    load_pth(os.path.join(FIXTURES, "tiny_official_unet.pth"))
    rng = np.random.default_rng(0)
    state = {"w": rng.standard_normal((64, 3, 4, 4)).astype(np.float32), "z": np.zeros(3)}
    nn.save(state, tmp_path / "s.npz")
    assert set(nn.load(tmp_path / "s.npz")) == {"w", "z"}


@pytest.mark.needs_torch
def test_torch_training_checkpoint_within_the_bounds(tmp_path):
    """A torch training checkpoint nests deeper than a state dict (nn.Parameter, nested
    dicts, tuples): within the bounds. An optimiser's state_dict has int keys (one per
    parameter index): refused, by the rule that a state dict's keys are strings."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    torch.save({"epoch": 1, "state_dict": model.state_dict(), "params": dict(
        model.named_parameters()), "hparams": {"lr": 1e-3, "betas": (0.9, 0.999)}},
        tmp_path / "ckpt.pth")
    assert list(load_pth(tmp_path / "ckpt.pth", key="state_dict")) == list(model.state_dict())
    adam = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    adam.step()  # now adam.state_dict()["state"] is {0: {...}, 1: {...}, ...}
    torch.save({"state_dict": model.state_dict(), "optimizer": adam.state_dict()},
               tmp_path / "with_adam.pth")
    with pytest.raises(CheckpointError, match="non-string key of type int"):
        load_pth(tmp_path / "with_adam.pth")
