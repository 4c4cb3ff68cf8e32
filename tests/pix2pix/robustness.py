"""Helpers the robustness tests share (data, options, files, training, evaluation): a tiny
training run, its checkpoint, a full disk, a child process to kill, hostile files; and the
trained workspace the test command's and the demo's tests run on.

Not a test module: the test files import what they use from here; the fixtures
(``no_loss_plots``, ``trained``) are in tests/pix2pix/conftest.py.
"""
import errno
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

from PIL import Image

from pix2pix.data.synthetic import save_synthetic
from pix2pix.training.loop import main
from tests.paths import REPO


TINY = ["--netG", "unet_32", "--crop_size", "32", "--load_size", "36", "--ngf", "4",
        "--ndf", "4", "--n_epochs", "2", "--n_epochs_decay", "1", "--num_samples", "1",
        "--save_epoch_freq", "100", "--no_progress"]


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


def train(checkpoints, *args, name="run", dataroot="synthetic"):
    return main([*TINY, "--dataroot", str(dataroot), "--checkpoints_dir", str(checkpoints),
                 "--name", name, *args])


def trained_workspace(root, data_folder):
    """A 3-iteration run (unet_32, the paper's dropout) in root/ck/run and 3 synthetic A|B
    pairs in root/data_folder/val: what the test command and the demo are run on."""
    code = main(["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
                 "--load_size", "36", "--ngf", "4", "--ndf", "4", "--max_iters", "3",
                 "--checkpoints_dir", str(root / "ck"), "--name", "run", "--no_progress"])
    assert code == 0
    save_synthetic(root / data_folder / "val", n=3, size=32, seed=1)
    return root


def log_iters(run_dir):
    return [json.loads(line)["iter"] for line in (Path(run_dir) / "loss_log.jsonl").open()]


# --- a full disk and one-line errors ------------------------------------------------------

def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def one_line_error(err, *fragments):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], err


# --- a training run in a child process, to signal or kill ---------------------------------

def child_args(tmp_path, *extra):
    return [*TINY, "--dataroot", "synthetic", "--checkpoints_dir", str(tmp_path),
            "--name", "run", "--n_epochs", "1000", *extra]


def start_child(tmp_path, *extra, hang_at=0):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(hang_at),
                             *child_args(tmp_path, *extra)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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


# --- hostile files ------------------------------------------------------------------------

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


def deflated_zip(path, names_and_data):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in names_and_data:
            zf.writestr(name, data)
    return path
