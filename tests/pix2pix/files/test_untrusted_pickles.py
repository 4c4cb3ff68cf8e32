"""Crafted .pth files, beyond tests/pix2pix/files/test_untrusted_files.py: the test command's entry
point, the exact nesting bound, keys that are cheap to build but costly to hash (shared
through the pickle's memo), sets and OrderedDict(pairs), values shared the same way, and
tensors that multiply their storage (overlapping strides, many views of one storage).

Every crafted file is written here, small. The memory bombs are sized so that the code
without these checks allocated hundreds of MB; the checks refuse them before that.
"""
import subprocess
import sys
import time
import tracemalloc

import pytest

from pix2pix.files.checkpoint import CheckpointError
from pix2pix.files.pth import MAX_NESTING, load_pth
from tests.paths import REPO
from tests.pix2pix.files.test_pth import tensor_pickle, write_zip

ROOT = REPO  # the repository


def deep_key_pickle(depth):
    """{((((1,),),)...): 1}: a dict key made of `depth` nested 1-tuples (TUPLE1 opcodes)."""
    return b"\x80\x02}K\x01" + b"\x85" * depth + b"K\x01s."


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

def test_deeply_nested_key_is_refused_by_the_test_command_without_a_crash(tmp_path):
    """300,000 nested tuples as a dict key made CPython crash (SIGSEGV, exit 139) while
    hashing it; it is refused from the opcodes, before the tuple is built."""
    evil = write_zip(tmp_path / "latest_net_G.pth", deep_key_pickle(300_000))
    run = subprocess.run([sys.executable, "-m", "pix2pix.evaluation.evaluate", "--checkpoint", str(evil),
                          "--results_dir", str(tmp_path / "results")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
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


# --- 2. memory bombs ----------------------------------------------------------------------

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


