"""Files a user downloads and loads: crafted .pth and .npz files must be refused with a
CheckpointError naming the file, before they crash the process or allocate much memory;
hand-edited checkpoints must give one-line errors.

Every crafted file is written here, small. The memory bombs are sized so that the code
before these checks allocated hundreds of MB; the checks refuse them from the headers.
"""
import json
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import nn
from pix2pix.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from pix2pix.pickle_shape import MAX_DEPTH
from pix2pix.pix2pix_model import Pix2Pix
from pix2pix.pth import load_pth, save_pth
from pix2pix.train import main as train_main
from test_pth import tensor_pickle, write_zip

ROOT = Path(__file__).resolve().parent.parent


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
    run = subprocess.run([sys.executable, "-m", "pix2pix.test", "--checkpoint", str(evil),
                          "--results_dir", str(tmp_path / "results")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stderr[-500:])
    assert str(evil) in run.stderr and f"deeper than {MAX_DEPTH} levels" in run.stderr
    assert "Traceback" not in run.stderr


def test_nesting_just_within_the_bound_is_read(tmp_path):
    """The bound counts levels exactly: a key at depth MAX_DEPTH - 1 is only refused for
    being a tuple, one level more for the depth."""
    with pytest.raises(CheckpointError, match="not a string or an int"):
        load_pth(write_zip(tmp_path / "a.pth", deep_key_pickle(MAX_DEPTH - 1)))
    with pytest.raises(CheckpointError, match="deeper than"):
        load_pth(write_zip(tmp_path / "b.pth", deep_key_pickle(MAX_DEPTH + 1)))


@pytest.mark.parametrize("key", [b"K\x01K\x02\x86", b"G?\xf0\x00\x00\x00\x00\x00\x00", b"N"],
                         ids=["tuple", "float", "None"])
def test_keys_other_than_str_or_int_are_refused(tmp_path, key):
    pkl = b"\x80\x02}" + key + b"K\x01s."
    with pytest.raises(CheckpointError, match="dict key that is not a string") as err:
        load_pth(write_zip(tmp_path / "k.pth", pkl))
    assert str(tmp_path / "k.pth") in str(err.value)


def test_sets_and_ordered_dict_arguments_are_refused(tmp_path):
    """Both hash their items: a set (EMPTY_SET/ADDITEMS) and OrderedDict([(key, value)])."""
    with pytest.raises(CheckpointError, match="EMPTY_SET"):
        load_pth(write_zip(tmp_path / "s.pth", b"\x80\x04\x8f(K\x01\x90."))
    pairs = b"]K\x01K\x02\x86K\x03\x86a\x85"  # ([((1, 2), 3)],)
    pkl = b"\x80\x02ccollections\nOrderedDict\n" + pairs + b"R."
    with pytest.raises(CheckpointError, match="called with arguments"):
        load_pth(write_zip(tmp_path / "o.pth", pkl))


@pytest.mark.needs_torch
def test_torch_training_checkpoint_with_optimizer_state_still_loads(tmp_path):
    """A real torch checkpoint nests deeper than a state dict and has int keys (Adam's
    state per parameter index): the bounds must not refuse it."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    adam = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3, 5, 5)).sum().backward()
    adam.step()
    torch.save({"epoch": 1, "state_dict": model.state_dict(), "optimizer": adam.state_dict(),
                "hparams": {"lr": 1e-3, "betas": (0.9, 0.999)}}, tmp_path / "ckpt.pth")
    got = load_pth(tmp_path / "ckpt.pth", key="state_dict")
    assert list(got) == list(model.state_dict())


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


def write_deflated(zf, name, nbytes, head=b""):
    """A member of `nbytes` (zeros after `head`), deflated: ~1000x smaller."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(info, "w") as f:
        f.write(head)
        for _ in range((nbytes - len(head)) >> 20):
            f.write(bytes(1 << 20))
        f.write(bytes((nbytes - len(head)) & ((1 << 20) - 1)))


def test_compressed_storage_above_the_ratio_is_refused_saying_its_claimed_size(tmp_path):
    numel = 16 << 20  # 64 MiB of float32 zeros, deflated to ~65 KB
    path = tmp_path / "zipbomb.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", tensor_pickle("FloatStorage", numel, 0, [numel], [1]))
        write_deflated(zf, "archive/data/0", 4 * numel)
    assert path.stat().st_size < 200_000
    message, peak = refusal(load_pth, path)
    assert "decompression bomb" in message and "more than 20x" in message
    assert "archive/data/0, claims 67,108,864 bytes" in message and str(path) in message
    assert peak < 10_000_000


def test_stored_pth_written_by_save_pth_is_far_below_the_ratio(tmp_path):
    """What torch.save and save_pth write: members stored, so they claim < the file."""
    path = tmp_path / "w.pth"
    save_pth({"w": np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)},
             path)
    with zipfile.ZipFile(path) as zf:
        assert sum(i.file_size for i in zf.infolist()) < path.stat().st_size
    assert load_pth(path)["w"].shape == (256, 256)


def npy_header(shape, descr="<f4"):
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_npz_member_claiming_more_than_it_holds_is_refused(tmp_path):
    """A .npy header can claim a 10^12-element array in 8 bytes: np.load allocated it
    (MemoryError) before finding the data short."""
    path = tmp_path / "latest.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.npy", npy_header(()) + bytes(4))
        zf.writestr("G.w.npy", npy_header((10**6, 10**6)) + bytes(8))
    with pytest.raises(CheckpointError, match=r"claims a \(1000000, 1000000\) float32 array "
                                              r"\(4,000,000,000,000 bytes\) but holds 8"):
        read_checkpoint(path)


def test_npz_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "latest.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        head = npy_header((16 << 20,))
        write_deflated(zf, "G.w.npy", len(head) + (64 << 20), head=head)
    assert path.stat().st_size < 200_000
    message, peak = refusal(read_checkpoint, path)
    assert "decompression bomb" in message
    assert f"G.w.npy, claims {128 + (64 << 20):,} bytes" in message  # a 128-byte .npy header
    assert peak < 10_000_000


# --- 3. hand-edited checkpoints -------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("ck")
    assert train_main(["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
                       "--load_size", "36", "--ngf", "4", "--ndf", "4", "--max_iters", "1",
                       "--checkpoints_dir", str(root), "--name", "run", "--no_progress"]) == 0
    return root / "run" / "latest.npz"


def edited(checkpoint, tmp_path, meta=None, **arrays):
    """A copy of `checkpoint` with its meta replaced by the string `meta` and/or arrays."""
    state = nn.load(checkpoint)
    if meta is not None:
        state["meta"] = np.array(meta)
    state.update(arrays)
    nn.save(state, tmp_path / "latest.npz")
    return tmp_path / "latest.npz"


def meta_with(checkpoint, **changes):
    meta = json.loads(str(nn.load(checkpoint)["meta"]))
    meta.update(changes)
    return json.dumps({k: v for k, v in meta.items() if v is not None})


@pytest.mark.parametrize("make_meta, problem", [
    (lambda ck: '{"format": "pix2pix-from-scratch", "epoch', "not valid JSON"),
    (lambda ck: "[1, 2, 3]", "is a JSON list, not an object"),
    (lambda ck: meta_with(ck, epoch=None), "no valid 'epoch'"),
    (lambda ck: meta_with(ck, total_iters=-3), "no valid 'total_iters'"),
    (lambda ck: meta_with(ck, options=[1]), "no valid 'options'"),
    (lambda ck: meta_with(ck, dropout_rng=None), "no valid 'dropout_rng'"),
], ids=["truncated-json", "list", "no-epoch", "negative", "options-list", "no-rng"])
def test_edited_meta_is_one_line_naming_the_file(checkpoint, tmp_path, make_meta, problem):
    path = edited(checkpoint, tmp_path, make_meta(checkpoint))
    with pytest.raises(CheckpointError, match=problem) as err:
        read_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_bad_generator_state_is_one_line(checkpoint, tmp_path):
    path = edited(checkpoint, tmp_path,
                  meta_with(checkpoint, dropout_rng={"bit_generator": "MT19937", "state": 1}))
    model = Pix2Pix(netG="unet_32", ngf=4, ndf=4)
    with pytest.raises(CheckpointError, match="invalid dropout generator state") as err:
        load_checkpoint(path, model)
    assert str(path) in str(err.value)


def test_string_weights_are_refused_not_parsed(checkpoint, tmp_path, capsys):
    weights = nn.load(checkpoint)
    key = next(k for k in weights if k.startswith("G.") and k.endswith("weight"))
    path = edited(checkpoint, tmp_path, **{key: weights[key].astype(str)})
    with pytest.raises(CheckpointError, match=f"{key} holds <U.* values, not numbers"):
        read_checkpoint(path)
    import pix2pix.test as evaluate
    assert evaluate.main(["--checkpoint", str(path), "--input_dir", str(tmp_path)]) == 2
    assert str(path) in capsys.readouterr().err
