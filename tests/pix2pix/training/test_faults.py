"""Bad input and faults: missing or broken data, wrong or broken checkpoints, impossible
options, a loss that becomes NaN, signals, a kill at any moment, a full disk.

Each case must end with a message that names the problem and the fix, and must never cost
the user the last good checkpoint.
"""
import errno
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nn
from pix2pix.data.synthetic import make_ab_image, save_synthetic
from pix2pix.files.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from pix2pix.models.pix2pix_model import Pix2Pix
from pix2pix.training.loop import main
from tests.paths import REPO

ROOT = REPO  # the repository

TINY = ["--netG", "unet_32", "--crop_size", "32", "--load_size", "36", "--ngf", "4",
        "--ndf", "4", "--n_epochs", "2", "--n_epochs_decay", "1", "--num_samples", "1",
        "--save_epoch_freq", "100", "--no_progress"]

# The training command in a child process, with two test hooks: no loss plot (matplotlib
# is slow on a busy CPU), and optionally a save that hangs half-written, announced with
# "SAVING", so that a test can kill the process in the middle of writing a checkpoint.
CHILD = r"""
import sys, time
import numpy as np
import pix2pix.training.loop as train
from tests.paths import REPO

train.plot_losses = lambda *args, **kwargs: None
hang_at, calls, real_savez = int(sys.argv[1]), [0], np.savez

def savez(f, **arrays):
    calls[0] += 1
    if calls[0] == hang_at:
        f.write(b"PK\x03\x04 the first bytes of a checkpoint")
        f.flush()
        print("SAVING", flush=True)
        time.sleep(600)
    return real_savez(f, **arrays)

np.savez = savez
sys.exit(train.main(sys.argv[2:]))
"""


@pytest.fixture(autouse=True)
def no_loss_plots(monkeypatch):
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)


def train(checkpoints, *args, name="run", dataroot="synthetic"):
    return main([*TINY, "--dataroot", str(dataroot), "--checkpoints_dir", str(checkpoints),
                 "--name", name, *args])


def log_iters(run_dir):
    return [json.loads(line)["iter"] for line in (Path(run_dir) / "loss_log.jsonl").open()]


# --- data -----------------------------------------------------------------------------------

def test_missing_dataroot_names_the_folder_and_the_download(tmp_path):
    missing = tmp_path / "facades"
    run = subprocess.run([sys.executable, "train.py", *TINY, "--dataroot", str(missing),
                          "--checkpoints_dir", str(tmp_path / "ck")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert str(missing / "train") in run.stderr
    assert "python -m pix2pix.download facades" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "ck").exists()


def write_bad_files(folder):
    """Next to good pairs: an image 1 pixel wide (no A|B to split) and a JPEG cut in half."""
    Image.fromarray(np.zeros((32, 1, 3), np.uint8)).save(folder / "thin.png")
    make_ab_image(5, size=32).save(folder / "cut.jpg", quality=90)
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[:len(data) // 2])


def test_bad_images_stop_training_before_it_starts(tmp_path, capsys):
    save_synthetic(tmp_path / "data" / "train", n=3, size=32)
    write_bad_files(tmp_path / "data" / "train")
    assert train(tmp_path / "ck", dataroot=tmp_path / "data") == 2
    err = capsys.readouterr().err
    assert "thin.png" in err and "too narrow to split" in err
    assert "cut.jpg" in err and "truncated" in err
    assert "--skip_bad_files" in err
    assert not (tmp_path / "ck").exists()  # nothing was trained or written


def test_skip_bad_files_trains_without_them(tmp_path, capsys):
    save_synthetic(tmp_path / "data" / "train", n=3, size=32)
    write_bad_files(tmp_path / "data" / "train")
    assert train(tmp_path / "ck", "--skip_bad_files", "--max_iters", "4",
                 dataroot=tmp_path / "data") == 0
    err = capsys.readouterr().err
    assert "skipping 2 bad file(s)" in err and "thin.png" in err and "cut.jpg" in err
    assert read_checkpoint(tmp_path / "ck" / "run" / "latest.npz")[0]["total_iters"] == 4
    assert log_iters(tmp_path / "ck" / "run") == [1, 2, 3, 4]  # 3 good images per epoch


# --- checkpoints -----------------------------------------------------------------------

@pytest.fixture
def trained(tmp_path):
    """A run folder with a 2-iteration latest.npz; returns its path."""
    assert train(tmp_path, "--max_iters", "2", "--max_dataset_size", "2") == 0
    return tmp_path / "run" / "latest.npz"


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


def test_truncated_checkpoint_is_named(trained, capsys):
    data = trained.read_bytes()
    trained.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(trained)
    assert train(trained.parent.parent, "--continue_train") == 2
    err = capsys.readouterr().err
    assert str(trained) in err and "truncated" in err
    assert "Traceback" not in err


def test_cut_log_line_from_a_kill_does_not_stop_a_resume(trained):
    """A kill can leave half a line at the end of loss_log.jsonl (the log is buffered);
    --continue_train drops it instead of failing on it."""
    with open(trained.parent / "loss_log.jsonl", "a") as log:
        log.write('{"epoch": 2, "iter": 3, "lr": 0.0')
    assert train(trained.parent.parent, "--continue_train", "--max_iters", "4",
                 "--max_dataset_size", "2") == 0
    assert log_iters(trained.parent) == [1, 2, 3, 4]


# --- impossible options --------------------------------------------------------------------

@pytest.mark.parametrize("args, fix", [
    (["--netG", "unet_64", "--crop_size", "64", "--load_size", "32"],
     "set --load_size >= crop_size"),
    (["--netG", "unet_256", "--crop_size", "64", "--load_size", "72"],
     "Use --netG unet_64 or --crop_size 256"),
    (["--device", "tpu"], "--device 'tpu' is unknown: use cpu or cuda"),
    (["--netG", "unet_33"], "unet_<size> with size a power of two"),
    (["--batch_size", "0"], "--batch_size must be >= 1, got 0"),
], ids=["crop>load", "netG-vs-crop", "device", "netG-name", "batch-size"])
def test_impossible_options_are_refused_before_any_work(tmp_path, args, fix):
    """Refused by option checking alone: the dataset (missing here) is never looked at."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataroot", str(tmp_path / "missing"), "--checkpoints_dir", str(tmp_path / "ck"),
              *args])
    message = str(exit_info.value.code)
    assert message.startswith("error: ")
    assert fix in message
    assert "dataset folder not found" not in message
    assert not (tmp_path / "ck").exists()


# --- a loss that becomes NaN -------------------------------------------------------------

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


# --- a full disk -----------------------------------------------------------------------------

def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


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


# --- signals and kills ------------------------------------------------------------------------

def child_args(tmp_path, *extra):
    return [*TINY, "--dataroot", "synthetic", "--checkpoints_dir", str(tmp_path),
            "--name", "run", "--n_epochs", "1000", *extra]


def start_child(tmp_path, *extra, hang_at=0):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(hang_at),
                             *child_args(tmp_path, *extra)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, proc, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"child exited ({proc.returncode}) before {what}: "
                                 f"{proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def saw_line(proc, text, timeout):
    """Whether the child printed a line ``text`` within ``timeout`` seconds. A reader
    thread, not select(): the child prints log lines too, and lines already in Python's
    buffer are invisible to select() on the pipe."""
    seen = threading.Event()

    def watch():
        for line in proc.stdout:
            if line.strip() == text:
                seen.set()
                return
    threading.Thread(target=watch, daemon=True).start()
    return seen.wait(timeout)


def n_log_lines(run_dir):
    path = run_dir / "loss_log.jsonl"
    return path.read_text().count("\n") if path.exists() else 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_and_resumes(tmp_path, signum):
    run_dir = tmp_path / "run"
    proc = start_child(tmp_path, "--max_dataset_size", "2")
    try:
        wait_for(lambda: n_log_lines(run_dir) >= 3, proc, what="3 log lines")
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signum, err    # 130 / 143: "stopped, not finished"
    assert f"{signal.Signals(signum).name} received" in err
    assert "stopped by signal" in out and "--continue_train" in out
    meta, _ = read_checkpoint(run_dir / "latest.npz")
    done = meta["total_iters"]
    assert log_iters(run_dir) == list(range(1, done + 1))
    assert train(tmp_path, "--max_dataset_size", "2", "--n_epochs", "1000", "--continue_train",
                 "--max_iters", str(done + 2)) == 0
    assert log_iters(run_dir) == list(range(1, done + 3))


STRAY = re.compile(r"^\.tmp-.*\.(npz|png|html|jsonl)$")  # atomic_write's temporary files
# run.lock: a killed run leaves its lock; the next run takes it over (its PID is gone).
RUN_FILES = {"latest.npz", "loss_log.jsonl", "opt.json", "samples", "samples_latest.png",
             "index.html", "run.lock"}


def check_run_folder(run_dir):
    """latest.npz absent or loadable; nothing but run files and temporary files. Returns
    the names of the temporary files a kill left behind."""
    names = {p.name for p in run_dir.iterdir()}
    strays = {n for n in names if STRAY.match(n)}
    others = {n for n in names - strays - RUN_FILES if not re.match(r"^epoch_\d+\.npz$", n)}
    assert not others, others
    if (run_dir / "latest.npz").exists():
        read_checkpoint(run_dir / "latest.npz")
    return strays


@pytest.mark.slow
def test_sigkill_while_saving_leaves_the_previous_checkpoint(tmp_path):
    """Killed while the third checkpoint is half-written: latest.npz is still the second,
    whole. The half-written temporary file stays behind (nothing can clean up after a
    SIGKILL); it is ignored, and --continue_train resumes and removes it."""
    run_dir = tmp_path / "run"
    proc = start_child(tmp_path, "--max_dataset_size", "2", hang_at=3)
    try:
        if not saw_line(proc, "SAVING", timeout=60):
            raise AssertionError("the child never reached its third save")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    strays = check_run_folder(run_dir)
    assert len(strays) == 1 and next(iter(strays)).startswith(".tmp-")
    meta, _ = read_checkpoint(run_dir / "latest.npz")
    assert (meta["epoch"], meta["total_iters"]) == (2, 4)
    assert train(tmp_path, "--max_dataset_size", "2", "--n_epochs", "1000", "--continue_train",
                 "--max_iters", "6") == 0
    assert log_iters(run_dir) == [1, 2, 3, 4, 5, 6]
    assert not strays & {p.name for p in run_dir.iterdir()}  # the resumed run removed it


@pytest.mark.slow
def test_sigkill_at_any_moment_never_corrupts_latest(tmp_path):
    """One image per epoch, so a checkpoint and pictures are written after every
    iteration; kill the run at several moments, resume each time."""
    run_dir = tmp_path / "run"
    rng = np.random.default_rng(0)
    for kill in range(3):
        resume = ["--continue_train"] if (run_dir / "latest.npz").exists() else []
        lines = n_log_lines(run_dir)
        proc = start_child(tmp_path, "--max_dataset_size", "1", *resume)
        try:
            wait_for(lambda: n_log_lines(run_dir) > lines, proc, what="a new iteration")
            time.sleep(rng.uniform(0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        check_run_folder(run_dir)
    done = read_checkpoint(run_dir / "latest.npz")[0]["total_iters"]
    assert train(tmp_path, "--max_dataset_size", "1", "--n_epochs", "1000", "--continue_train",
                 "--max_iters", str(done + 1)) == 0
    assert log_iters(run_dir) == list(range(1, done + 2))


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


# --- arrays and files the run-safety tests do not reach ------------------------------------

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


def test_full_disk_while_writing_results_leaves_no_half_file(trained, tmp_path, monkeypatch,
                                                              capsys):
    from pix2pix.evaluation.evaluate import main as test_main
    inputs = tmp_path / "in"
    save_synthetic(inputs, n=2, size=32)
    real_save, calls = Image.Image.save, [0]

    def save(self, fp, *args, **kwargs):  # the disk fills during the third picture
        calls[0] += 1
        if calls[0] == 3:
            fp.write(b"\x89PNG half")
            disk_full()
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    assert test_main(["--checkpoints_dir", str(trained.parent.parent), "--name", "run",
                      "--input_dir", str(inputs), "--results_dir", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "No space left on device" in err and "--results_dir" in err
    written = list((tmp_path / "res").rglob("*.png"))
    assert len(written) == 2 and all(p.read_bytes().startswith(b"\x89PNG\r\n") for p in written)
    assert not list((tmp_path / "res").rglob(".tmp-*"))


# --- Ctrl-C twice, closed pipes, full disks (issue 24, item 12) -----------------------------
# The first save takes 3 seconds, announced with "SAVING", so that a test can press
# Ctrl-C twice while it is under way.
SLOW_SAVE_CHILD = r"""
import sys, time
import numpy as np
import pix2pix.training.loop as train

train.plot_losses = lambda *args, **kwargs: None
calls, real_savez = [0], np.savez

def savez(f, **arrays):
    calls[0] += 1
    if calls[0] == 1:
        print("SAVING", flush=True)
        time.sleep(3)
    return real_savez(f, **arrays)

np.savez = savez
sys.exit(train.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_second_ctrl_c_during_the_save_waits_for_it_and_exits_130(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE_CHILD,
                             *child_args(tmp_path, "--max_dataset_size", "2")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert saw_line(proc, "SAVING", timeout=60)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "saving, please wait" in err and "Traceback" not in err
    read_checkpoint(tmp_path / "run" / "latest.npz")


def test_a_second_ctrl_c_outside_a_save_exits_130_without_a_traceback(tmp_path, capsys,
                                                                     monkeypatch):
    def interrupted(self, A, B):
        raise KeyboardInterrupt  # what the second SIGINT raises in the middle of a step
    monkeypatch.setattr(Pix2Pix, "train_step", interrupted)
    assert train(tmp_path, "--max_iters", "1") == 130
    assert "interrupted: stopped without saving" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    reader = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *TINY, "--dataroot",
                               "synthetic", "--checkpoints_dir", str(tmp_path), "--name", "run",
                               "--print_freq", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.readline()
    reader.stdout.close()  # as `| head -1` does after one line
    _, err = reader.communicate(timeout=300)
    assert reader.returncode == 141 and b"Traceback" not in err and b"BrokenPipe" not in err, err


def test_combine_onto_a_full_disk_names_the_path_and_leaves_no_file(tmp_path, capsys,
                                                                    monkeypatch):
    from pix2pix import combine
    for side in "AB":
        (tmp_path / side / "train").mkdir(parents=True)
        make_ab_image(0, size=16).save(tmp_path / side / "train" / "1.png")

    def full(self, fp, format=None, **params):
        fp.write(b"\x89PNG")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", full)
    assert combine.main(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"),
                         "--fold_AB", str(tmp_path / "AB"), "--no_multiprocessing"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'AB' / 'train' / '1.png'}: No space left" in err
    assert [p for p in (tmp_path / "AB").rglob("*") if p.is_file()] == []


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
