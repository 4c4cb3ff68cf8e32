"""Our own .npz checkpoints, crafted, hand-edited, cut or from another run: each is refused
with a one-line error naming the file (and the option, when one explains it), before
anything large is built; a checkpoint holding NaN or Inf is never written.
"""
import json
import os
import struct
import zipfile

import numpy as np
import pytest

import nn
from pix2pix.files.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from pix2pix.models.pix2pix_model import Pix2Pix
from tests.pix2pix.robustness import (
    deflated_zip,
    train,
)

pytestmark = pytest.mark.usefixtures("no_loss_plots")


# --- 1. crafted .npz files ----------------------------------------------------------------

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


# --- 2. hand-edited meta ------------------------------------------------------------------

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


def rewrite_meta(path, **changes):
    arrays = nn.load(path)
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))
    nn.save(arrays, path)


def test_checkpoint_from_a_newer_version_is_refused(trained, capsys):
    rewrite_meta(trained, version=99)
    with pytest.raises(CheckpointError, match="version 99, newer than this code"):
        read_checkpoint(trained)
    assert train(trained.parent.parent, "--continue_train") == 2
    assert "update the code" in capsys.readouterr().err


# --- 3. another run's, cut, or holding NaN ------------------------------------------------

def test_checkpoint_of_another_architecture_names_the_option(trained, capsys):
    assert train(trained.parent.parent, "--continue_train", "--ngf", "8") == 2
    err = capsys.readouterr().err
    assert "ngf: checkpoint 4, now 8" in err
    assert "another architecture" in err
    model = Pix2Pix(netG="unet_32", ngf=8, ndf=4)
    with pytest.raises(CheckpointError, match="ngf"):
        load_checkpoint(trained, model, options={"ngf": 8, "ndf": 4, "netG": "unet_32"})
    # Without the options to compare, the shapes still refuse to fit, naming keys.
    with pytest.raises(CheckpointError, match="does not fit this model.*shape"):
        load_checkpoint(trained, model)


def test_truncated_checkpoint_is_named(trained, capsys):
    data = trained.read_bytes()
    trained.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(trained)
    assert train(trained.parent.parent, "--continue_train") == 2
    err = capsys.readouterr().err
    assert str(trained) in err and "truncated" in err
    assert "Traceback" not in err


def test_non_finite_adam_moment_is_not_saved(tmp_path):
    model = Pix2Pix(netG="unet_32", ngf=4, ndf=4)
    adam = model.optimizers()["D"]
    state = adam.state_dict()
    key = next(k for k in state if k.startswith("exp_avg_sq."))
    state[key] = np.full(np.shape(state[key]), np.inf, np.float32)
    adam.load_state_dict(state)
    with pytest.raises(CheckpointError, match=f"optimizer_D.{key} holds NaN or Inf"):
        save_checkpoint(tmp_path / "latest.npz", model, 0, 1, 1, {})
    assert not list(tmp_path.iterdir())
