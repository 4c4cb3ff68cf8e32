"""Training state that must never be saved or lost, disks and folders, images and numbers
(issue: careless input). Each test failed on the code before the fix."""
import errno
import json
import os
import re
import socket
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

import nn
from pix2pix.data.synthetic import save_synthetic
from pix2pix.evaluation import evaluate as evaluate
from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.files.run_lock import LOCK_NAME
from tests.pix2pix.training.test_faults import saw_line, start_child, train


@pytest.fixture(autouse=True)
def no_loss_plots(monkeypatch):
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def all_finite(path):
    return all(np.isfinite(v).all() for v in nn.load(path).values() if v.dtype.kind == "f")


# ---------------------------------------------------------------- 4. non-finite state
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


# ---------------------------------------------------------------- 5. the epoch snapshot
@pytest.mark.slow
def test_kill_between_snapshot_and_latest_keeps_the_snapshot(tmp_path):
    """np.savez calls: epoch 1 ends with 1, 2; epoch 2 with 3, 4. The child hangs inside
    the 4th and is killed there; the resumed run must still own epoch_2.npz."""
    run_dir = tmp_path / "run"
    proc = start_child(tmp_path, "--max_dataset_size", "2", "--save_epoch_freq", "1",
                       hang_at=4)
    try:
        assert saw_line(proc, "SAVING", timeout=60), "the child never reached its 4th save"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert train(tmp_path, "--max_dataset_size", "2", "--save_epoch_freq", "1",
                 "--continue_train", "--n_epochs", "2", "--n_epochs_decay", "0") == 0
    snapshot = run_dir / "epoch_2.npz"
    assert snapshot.exists(), sorted(p.name for p in run_dir.iterdir())
    assert read_checkpoint(snapshot)[0]["total_iters"] == 4


# ---------------------------------------------------------------- 7. disks and folders
def one_line_error(err, *fragments):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], err


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


def test_unwritable_results_dir(tmp_path, capsys):
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "1") == 0
    (tmp_path / "file").write_text("not a folder")
    code = evaluate.main(["--checkpoints_dir", str(tmp_path), "--name", "run", "--dataroot",
                      "synthetic", "--input_dir", str(write_inputs(tmp_path / "in")),
                      "--results_dir", str(tmp_path / "file" / "results")])
    assert code == 2
    one_line_error(capsys.readouterr().err, "cannot write", "Not a directory", "--results_dir")


# ---------------------------------------------------------------- 8. images
def png_claiming(width, height):
    """A PNG of a few dozen bytes whose header claims width x height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)         # 8-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def write_inputs(folder, bad=()):
    folder.mkdir(parents=True)
    Image.new("RGB", (32, 32), (120, 30, 200)).save(folder / "good.png")
    for name, data in bad:
        (folder / name).write_bytes(data)
    return folder


def test_decompression_bomb_in_a_dataset_is_a_bad_file(tmp_path, capsys):
    root = tmp_path / "data"
    save_synthetic(root / "train", n=2, size=32)
    save_synthetic(root / "val", n=1, size=32)
    (root / "train" / "bomb.png").write_bytes(png_claiming(20000, 10000))
    assert train(tmp_path, "--max_iters", "1", dataroot=root) == 2
    err = capsys.readouterr().err
    assert "bomb.png: too many pixels to decode safely" in err and "Traceback" not in err
    assert train(tmp_path, "--max_iters", "1", "--skip_bad_files", dataroot=root) == 0


def test_bad_files_in_input_dir_are_listed_or_skipped(tmp_path, capsys):
    assert train(tmp_path, "--max_dataset_size", "2", "--max_iters", "1") == 0
    folder = write_inputs(tmp_path / "in", bad=[("bomb.png", png_claiming(20000, 10000)),
                                                ("cut.png", png_claiming(32, 32)[:40])])
    args = ["--checkpoints_dir", str(tmp_path), "--name", "run", "--input_dir", str(folder),
            "--results_dir", str(tmp_path / "results")]
    assert evaluate.main(args) == 2
    err = capsys.readouterr().err
    assert "2 bad file(s)" in err and "bomb.png" in err and "cut.png" in err
    assert evaluate.main(args + ["--skip_bad_files"]) == 0
    images = list((tmp_path / "results").rglob("*_fake.png"))
    assert [p.name for p in images] == ["good_fake.png"]


# ---------------------------------------------------------------- 9. numbers and resumes
@pytest.mark.parametrize("option, value, message", [
    ("--lr", "-1", "--lr must be > 0, got -1"),
    ("--lr", "0", "--lr must be > 0, got 0"),
    ("--beta1", "1.5", "--beta1 must be >= 0 and < 1, got 1.5"),
    ("--lambda_L1", "-1", "--lambda_L1 must be >= 0, got -1"),
    ("--ngf", "0", "--ngf must be >= 1, got 0"),
    ("--seed", "-1", "--seed must be >= 0 and <= 4294967295, got -1"),
    ("--load_size", "0", "--load_size must be >= 1, got 0"),
    ("--n_epochs_decay", "-1", "--n_epochs_decay must be >= 0, got -1"),
    ("--num_samples", "0", "--num_samples must be >= 1, got 0"),  # the grid needs a row
])
def test_out_of_range_options_are_refused_up_front(tmp_path, option, value, message):
    with pytest.raises(SystemExit) as info:
        train(tmp_path, option, value)
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


def test_nothing_to_train_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="nothing to train"):
        train(tmp_path, "--n_epochs", "0", "--n_epochs_decay", "0")


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
