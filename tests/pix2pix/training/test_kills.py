"""Signals and kills: SIGINT / SIGTERM save and exit with 128 + the signal; a SIGKILL at any
moment, even inside a save, leaves latest.npz whole (or absent) and the run resumable.
The training runs in a child process (robustness.CHILD), which can hang inside a save.
"""
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.models.pix2pix_model import Pix2Pix
from tests.paths import REPO
from tests.pix2pix.robustness import (
    TINY,
    child_args,
    log_iters,
    n_log_lines,
    saw_line,
    start_child,
    train,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("no_loss_plots")


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
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    reader = subprocess.Popen([sys.executable, str(REPO / "train.py"), *TINY, "--dataroot",
                               "synthetic", "--checkpoints_dir", str(tmp_path), "--name", "run",
                               "--print_freq", "1"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.readline()
    reader.stdout.close()  # as `| head -1` does after one line
    _, err = reader.communicate(timeout=300)
    assert reader.returncode == 141 and b"Traceback" not in err and b"BrokenPipe" not in err, err
