"""Training faults: a loss or a running statistic that becomes NaN, a full disk, a folder
that cannot be written, a resume that does not fit the run. Each case must end with a
message that names the problem and the fix, and must never cost the user the last good
checkpoint. (Signals and kills: test_kills.py.)
"""
import errno
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import nn
from pix2pix.data.synthetic import save_synthetic
from pix2pix.files.checkpoint import CheckpointError, read_checkpoint, save_checkpoint
from pix2pix.files.run_lock import LOCK_NAME
from pix2pix.training.loop import main
from pix2pix.models.pix2pix_model import Pix2Pix
from tests.pix2pix.robustness import (
    disk_full,
    log_iters,
    one_line_error,
    train,
)

pytestmark = pytest.mark.usefixtures("no_loss_plots")


# --- a loss or a statistic that becomes NaN -----------------------------------------------

def nan_on_call(monkeypatch, k, on_nan=lambda: None):
    """Make the k-th L1 loss NaN (k-th iteration: train_step computes it once)."""
    real, calls = nn.functional.l1_loss, [0]

    def l1_loss(a, b):
        calls[0] += 1
        out = real(a, b)
        if calls[0] == k:
            on_nan()
            return out * float("nan")
        return out

    monkeypatch.setattr(nn.functional, "l1_loss", l1_loss)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    latest = tmp_path / "run" / "latest.npz"
    seen = {}

    def remember_latest():
        seen["bytes"], seen["mtime"] = latest.read_bytes(), latest.stat().st_mtime_ns

    nan_on_call(monkeypatch, 4, remember_latest)  # epochs of 2: saved after iteration 2
    with pytest.raises(SystemExit) as exit_info:
        train(tmp_path, "--max_dataset_size", "2")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "diverged at epoch 2, iteration 4" in err
    assert "loss G_L1 is nan" in err
    assert str(latest) in err
    assert "--continue_train" in err and "--lr" in err and "--seed" in err
    assert latest.read_bytes() == seen["bytes"]
    assert latest.stat().st_mtime_ns == seen["mtime"]
    assert read_checkpoint(latest)[0]["total_iters"] == 2

    monkeypatch.undo()
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)
    assert train(tmp_path, "--max_dataset_size", "2", "--continue_train", "--lr", "1e-4",
                 "--max_iters", "4") == 0
    assert log_iters(tmp_path / "run") == [1, 2, 3, 4]


def test_nan_before_the_first_checkpoint_then_start_again(tmp_path, monkeypatch, capsys):
    """The message says no checkpoint exists yet; starting again (another seed, same name)
    gives a clean log, without the failed run's lines."""
    nan_on_call(monkeypatch, 2)
    with pytest.raises(SystemExit):
        train(tmp_path, "--max_dataset_size", "3")
    assert "(none saved yet)" in capsys.readouterr().err
    assert not (tmp_path / "run" / "latest.npz").exists()
    monkeypatch.undo()
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)
    assert train(tmp_path, "--max_dataset_size", "3", "--seed", "1", "--max_iters", "2") == 0
    assert log_iters(tmp_path / "run") == [1, 2]


def all_finite(path):
    return all(np.isfinite(v).all() for v in nn.load(path).values() if v.dtype.kind == "f")


def test_diverged_running_statistics_are_never_saved(tmp_path, capsys):
    """--lr 1e6 keeps the losses finite but makes BatchNorm's running_var NaN."""
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "2") == 0
    latest = tmp_path / "run" / "latest.npz"
    with pytest.raises(SystemExit) as exit_info:
        train(tmp_path, "--max_dataset_size", "2", "--continue_train", "--lr", "1e6")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "running_var holds NaN or Inf" in err and str(latest) in err
    diverged_at = int(re.search(r"diverged after iteration (\d+)", err).group(1))
    # The last good checkpoint stays: finite, from before the divergence.
    assert all_finite(latest) and read_checkpoint(latest)[0]["total_iters"] < diverged_at


# --- a full disk, a folder that is a file -------------------------------------------------

@pytest.mark.parametrize("target", ["numpy.savez", "os.replace"])
def test_full_disk_keeps_the_previous_checkpoint(trained, monkeypatch, target):
    before = trained.read_bytes()
    model = Pix2Pix(netG="unet_32", ngf=4, ndf=4)
    monkeypatch.setattr(target, disk_full)
    with pytest.raises(CheckpointError) as info:
        save_checkpoint(trained, model, 1, 0, 3, {})
    message = str(info.value)
    assert str(trained) in message and "No space left on device" in message
    assert "previous checkpoint (if any) is intact" in message
    monkeypatch.undo()
    assert trained.read_bytes() == before
    assert read_checkpoint(trained)[0]["total_iters"] == 2
    assert sorted(p.name for p in trained.parent.iterdir() if p.name.startswith(".")) == []


def test_full_disk_during_training_exits_cleanly(trained, monkeypatch, capsys):
    before = trained.read_bytes()
    monkeypatch.setattr("numpy.savez", disk_full)
    assert train(trained.parent.parent, "--continue_train", "--max_iters", "3",
                 "--max_dataset_size", "2") == 2
    err = capsys.readouterr().err
    assert "could not write checkpoint" in err and "intact" in err
    assert trained.read_bytes() == before


def test_checkpoints_folder_below_a_regular_file(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert train(tmp_path / "file" / "sub", "--max_iters", "1") == 2
    one_line_error(capsys.readouterr().err, "cannot write", str(tmp_path / "file"),
                   "Not a directory")


def test_resume_on_a_full_disk_keeps_log_and_checkpoint(tmp_path, monkeypatch, capsys):
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "2") == 0
    run_dir = tmp_path / "run"
    log, latest = (run_dir / "loss_log.jsonl").read_bytes(), (run_dir / "latest.npz").read_bytes()
    monkeypatch.setattr("os.replace", disk_full)
    assert train(tmp_path, "--max_dataset_size", "2", "--continue_train") == 2
    one_line_error(capsys.readouterr().err, "loss_log.jsonl", "No space left on device")
    assert (run_dir / "loss_log.jsonl").read_bytes() == log
    assert (run_dir / "latest.npz").read_bytes() == latest
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".tmp-")]


def test_disk_full_while_saving_pictures(tmp_path, monkeypatch, capsys):
    real_save = Image.Image.save

    def half_then_full(self, f, *args, **kwargs):
        f.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    assert train(tmp_path, "--max_dataset_size", "2") == 2
    one_line_error(capsys.readouterr().err, "samples", "No space left on device")
    run_dir = tmp_path / "run"
    assert read_checkpoint(run_dir / "latest.npz")[0]["epoch"] == 1   # saved before pictures
    leftovers = [p for p in run_dir.rglob("*") if p.name.startswith(".tmp-") or
                 (p.suffix == ".png" and p.stat().st_size < 20)]
    assert not leftovers
    monkeypatch.setattr(Image.Image, "save", real_save)


# --- resumes that do not fit the run ------------------------------------------------------

def test_cut_log_line_from_a_kill_does_not_stop_a_resume(trained):
    """A kill can leave half a line at the end of loss_log.jsonl (the log is buffered);
    --continue_train drops it instead of failing on it."""
    with open(trained.parent / "loss_log.jsonl", "a") as log:
        log.write('{"epoch": 2, "iter": 3, "lr": 0.0')
    assert train(trained.parent.parent, "--continue_train", "--max_iters", "4",
                 "--max_dataset_size", "2") == 0
    assert log_iters(trained.parent) == [1, 2, 3, 4]


def test_resume_inside_an_epoch_with_another_batch_size_is_refused(tmp_path):
    """The position inside an epoch counts batches: another --batch_size would resume at
    the wrong images, so it is refused with the fix."""
    from pix2pix.files.checkpoint import CheckpointError
    from pix2pix.options.common import resolve_preset, train_parser, validate
    from pix2pix.training.loop import Trainer
    args = ["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
            "--load_size", "36", "--ngf", "4", "--ndf", "4", "--checkpoints_dir",
            str(tmp_path), "--name", "bs", "--no_progress", "--max_iters", "3"]
    trainer = Trainer(validate(resolve_preset(train_parser(), args)))
    trainer.start()
    assert trainer.run() == 0
    resumed = Trainer(validate(resolve_preset(train_parser(), args[:-2] + [
        "--continue_train", "--batch_size", "2"])))
    with pytest.raises(CheckpointError, match="same --batch_size"):
        resumed.start()


def test_resume_with_another_experiment_is_refused_naming_the_values(tmp_path, capsys):
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "1") == 0
    assert train(tmp_path, "--max_dataset_size", "2", "--continue_train",
                 "--direction", "AtoB", "--lambda_L1", "10") == 2
    err = capsys.readouterr().err
    assert "--direction: saved 'BtoA', given 'AtoB'" in err
    assert "--lambda_L1: saved 100.0, given 10.0" in err
    # The schedule may change: said, and applied.
    assert train(tmp_path, "--max_dataset_size", "2", "--continue_train", "--n_epochs", "1",
                 "--n_epochs_decay", "0") == 0
    out = capsys.readouterr().out
    assert "--n_epochs is now 1 (the run started with 2); the new value applies" in out


def test_a_write_error_without_a_file_name_names_the_run_folder(tmp_path, capsys, monkeypatch):
    def refused(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")  # no filename, as os.write gives
    monkeypatch.setattr("pix2pix.training.loop.Trainer.start", refused)
    assert train(tmp_path, "--max_iters", "1") == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'run'}: Read-only file system" in err and "None" not in err


# --- checkpoint contents beyond the arrays (issue 24, item 10) -------------------------------
@pytest.mark.parametrize("key,value,words", [
    ("optimizer_G.beta2", np.array(1.0), "'beta2' must be in [0, 1), got 1.0"),
    ("optimizer_D.eps", np.array(0.0), "'eps' must be > 0, got 0.0"),
    ("optimizer_G.step", np.array([1, 2]), "'step' must be one integer, got int64 (2,)"),
    ("optimizer_G.step", np.array(2.5), "'step' must be one integer, got float64 ()"),
    ("optimizer_G.lr", np.array(np.nan), "'lr' must be > 0, got nan"),
    ("optimizer_D.lr", np.zeros((2, 2)), "'lr' must be one number, got float64 (2, 2)"),
])
def test_bad_adam_hyper_parameters_are_one_line_naming_the_file(trained, capsys, key, value,
                                                                words):
    arrays = nn.load(trained)
    arrays[key] = value
    nn.save(arrays, trained)
    assert train(trained.parent.parent, "--max_iters", "3", "--max_dataset_size", "2",
                 "--continue_train") == 2
    err = capsys.readouterr().err
    assert str(trained) in err and words in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("line,words", [
    ("[1, 2]", "a JSON list, not an object"),
    ('{"epoch": 1, "G_L1": 1.0}', "'iter' is None, expected an integer"),
    ('{"epoch": 1, "iter": 1, "G_GAN": 1, "G_L1": "1.5", "D_real": 1, "D_fake": 1, "lr": 1}',
     "'G_L1' is '1.5', expected a number"),
])
@pytest.mark.parametrize("policy", ["plateau", "linear"])
def test_a_hand_edited_loss_log_is_one_line_naming_the_file_and_line(trained, capsys, line,
                                                                      words, policy):
    log = trained.parent / "loss_log.jsonl"
    log.write_text(log.read_text().splitlines()[0] + "\n" + line + "\n")
    assert train(trained.parent.parent, "--max_iters", "3", "--max_dataset_size", "2",
                 "--continue_train", "--lr_policy", policy) == 2
    err = capsys.readouterr().err
    assert err == f"error: {log} line 2: {words} (hand-edited?); fix or delete that line\n"


# --- resuming as a port user does (issue 24, item 4) --------------------------------------------
@pytest.fixture
def own_folder_run(tmp_path, monkeypatch):
    """A 2-iteration run on ./myds (a folder the direction table does not know), BtoA."""
    monkeypatch.chdir(tmp_path)
    for split in ("train", "val"):
        save_synthetic(tmp_path / "myds" / split, n=2, size=32)
    assert train(tmp_path, "--max_iters", "2", "--direction", "BtoA",
                 dataroot="./myds") == 0
    return tmp_path


def resume(folder, *args):
    """--continue_train with none of the run's options (TINY) given again."""
    return main(["--checkpoints_dir", str(folder), "--name", "run", "--continue_train",
                 "--no_progress", *args])


def test_resume_takes_options_not_given_from_the_checkpoint_and_paths_normalised(
        own_folder_run, capsys):
    capsys.readouterr()
    assert resume(own_folder_run, "--dataroot", f"{own_folder_run}/myds/", "--max_iters",
                  "3") == 0
    out = capsys.readouterr().out
    assert "resuming: from the checkpoint, as they were not given: " in out
    assert "--ngf 4" in out and "--direction BtoA" in out
    assert "direction: BtoA (the checkpoint's)" in out
    assert log_iters(own_folder_run / "run") == [1, 2, 3]


@pytest.mark.parametrize("args,words", [
    (["--epoch_count", "5"], "--epoch_count 5: "),
    (["--phase", "val"], "--phase: saved 'train', given 'val'"),
    (["--preprocess", "crop"], "--preprocess: saved 'resize_and_crop', given 'crop'"),
])
def test_resume_refuses_options_it_cannot_honour(own_folder_run, capsys, args, words):
    assert resume(own_folder_run, "--dataroot", "myds", *args) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("args,words", [
    (["--lr_policy", "step"], "note: --lr_policy is now 'step' (the run started with 'linear')"),
    (["--serial_batches"], "note: --serial_batches is now True (the run started with False)"),
])
def test_resume_says_which_changed_options_apply(own_folder_run, capsys, args, words):
    assert resume(own_folder_run, "--dataroot", "myds", "--max_iters", "3", *args) == 0
    assert words in capsys.readouterr().out


# ---------------------------------------------------------------- one run per folder (issue 24, 11)
def test_a_live_runs_folder_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path, capsys):
    lock = tmp_path / "run" / LOCK_NAME
    lock.parent.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        assert train(tmp_path, "--max_iters", "1") == 2
        err = capsys.readouterr().err
        assert err == (f"error: {tmp_path / 'run'} is in use by a live run (PID {live.pid}); "
                       "wait for it, stop it, or choose another --name\n")
        assert not (tmp_path / "run" / "latest.npz").exists()
    finally:
        live.kill()
        live.wait()
    assert train(tmp_path, "--max_iters", "1") == 0   # the same PID, now dead
    assert f"took over {lock} from a run that is no longer alive (PID {live.pid})" in \
        capsys.readouterr().out
    assert not lock.exists() and (tmp_path / "run" / "latest.npz").exists()


def test_a_lock_from_another_host_is_refused_with_the_file_to_delete(tmp_path, capsys):
    lock = tmp_path / "run" / LOCK_NAME
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    assert train(tmp_path, "--max_iters", "1") == 2
    assert f"in use by PID 1 on host elsewhere ({lock}); if that run is gone, delete" in \
        capsys.readouterr().err
