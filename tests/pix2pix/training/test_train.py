"""The training command: a smoke run end to end, exact resumption, seeds, the lr schedule,
presets.

Runs are tiny (unet_32, ngf 4, 3 synthetic images per epoch) and mostly in-process through
pix2pix.training.loop.main, which is what `python train.py` calls; the smoke test runs the real
commands in subprocesses.
"""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pix2pix.data.synthetic import save_synthetic
from pix2pix.evaluation.evaluate import main as evaluate_main
from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.options.common import (
    PRESETS,
    parse_train_options,
    resolve_preset,
    train_parser,
)
from pix2pix.training.loop import main
from pix2pix.training.schedule import linear_factor as lr_factor
from tests.paths import REPO

ROOT = REPO  # the repository

# 3 images per epoch at batch size 1; 2 epochs at the initial lr, 1 of decay: 9 iterations.
TINY_OPTIONS = {"dataroot": "synthetic", "netG": "unet_32", "crop_size": 32, "load_size": 36,
                "ngf": 4, "ndf": 4, "n_epochs": 2, "n_epochs_decay": 1, "max_dataset_size": 3,
                "num_samples": 1, "save_epoch_freq": 100}


def tiny(**changes):
    """Command-line arguments of the tiny run, with changes (None drops an option)."""
    options = {**TINY_OPTIONS, **changes}
    args = [a for k, v in options.items() if v is not None for a in (f"--{k}", str(v))]
    return args + ["--no_progress"]


TINY = tiny()


@pytest.fixture(autouse=True)
def no_loss_plots(request, monkeypatch):
    """matplotlib takes seconds per plot on a busy CPU: the in-process runs skip the loss
    plot (the smoke test draws real ones)."""
    if "smoke" not in request.node.name:
        monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)


def train(checkpoints, *args, name="run"):
    """Run the training command in-process; returns its exit code."""
    return main([*TINY, "--checkpoints_dir", str(checkpoints), "--name", name, *args])


def log_records(run_dir, timing=False):
    """loss_log.jsonl as a list of dicts, without the wall-clock fields unless timing."""
    records = [json.loads(line) for line in (Path(run_dir) / "loss_log.jsonl").open()]
    if not timing:
        for r in records:
            r.pop("time"), r.pop("data")
    return records


# --- the real commands, end to end -------------------------------------------------------

@pytest.mark.slow
def test_smoke_train_then_test_commands(tmp_path):
    """python train.py on a folder of A|B images for two short epochs, then python -m
    pix2pix.evaluation.evaluate on its checkpoint: every promised file is there and readable."""
    data = tmp_path / "data"
    save_synthetic(data / "train", n=2, size=32, seed=0)
    save_synthetic(data / "val", n=3, size=32, seed=1)
    common = ["--checkpoints_dir", str(tmp_path / "ck"), "--name", "smoke"]
    args = tiny(dataroot=data, max_dataset_size=None, n_epochs=1, save_epoch_freq=1)
    run = subprocess.run([sys.executable, "train.py", *args, *common], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "training finished: 4 iterations" in run.stdout

    run_dir = tmp_path / "ck" / "smoke"
    for name in ("latest.npz", "loss_log.jsonl", "loss_plot.png", "samples_latest.png",
                 "index.html", "opt.json", "epoch_1.npz", "epoch_2.npz",
                 "samples/epoch_001.png", "samples/epoch_002.png"):
        assert (run_dir / name).is_file(), name
    records = log_records(run_dir)
    assert [r["iter"] for r in records] == [1, 2, 3, 4]
    assert {"G_GAN", "G_L1", "D_real", "D_fake", "lr", "epoch"} <= set(records[0])
    meta, arrays = read_checkpoint(run_dir / "latest.npz")
    assert (meta["epoch"], meta["total_iters"]) == (2, 4)
    assert any(k.startswith("optimizer_D.") for k in arrays)
    assert read_checkpoint(run_dir / "epoch_1.npz")[0]["weights_only"]
    assert "samples_latest.png" in (run_dir / "index.html").read_text()

    results = tmp_path / "results"
    test = subprocess.run([sys.executable, "-m", "pix2pix.evaluation.evaluate", *common, "--dataroot",
                           str(data), "--results_dir", str(results), "--phase", "val"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert test.returncode == 0, test.stderr
    out = results / "smoke" / "val_latest"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 3
    assert {"l1", "psnr", "ssim", "lab_mean"} <= set(metrics)
    page = (out / "index.html").read_text()
    for i in (1, 2, 3):
        for kind in ("real_A", "fake_B", "real_B"):
            assert (out / "images" / f"{i}_{kind}.png").is_file()
        assert f"images/{i}_fake_B.png" in page


# --- resuming ---------------------------------------------------------------------------

@pytest.mark.parametrize("stop, total, extra", [
    (2, 5, []),                          # stop inside epoch 1, resume across a boundary
    (3, 7, []),                          # stop exactly at the end of epoch 1
    (3, None, ["--batch_size", "2"]),    # batches of 2 and 1; resume to the schedule's end
], ids=["mid-epoch", "epoch-boundary", "batch-size-2"])
def test_resume_gives_the_same_run(tmp_path, stop, total, extra):
    """N iterations straight == k iterations, stop, then --continue_train to N: the same
    losses at every iteration (weights, Adam moments, BatchNorm statistics, dropout
    generator, data order and jitter all come back exactly)."""
    until = ["--max_iters", str(total)] if total else []
    assert train(tmp_path, *extra, *until, name="straight") == 0
    assert train(tmp_path, *extra, "--max_iters", str(stop), name="split") == 0
    assert len(log_records(tmp_path / "split")) == stop
    assert train(tmp_path, *extra, *until, "--continue_train", name="split") == 0
    straight, split = log_records(tmp_path / "straight"), log_records(tmp_path / "split")
    assert len(straight) == (total or 6)
    assert split == straight


def test_resnet_generators_train_resume_and_test(tmp_path):
    """--netG resnet_6blocks end to end: train, resume exactly, then the test command."""
    args = tiny(netG="resnet_6blocks", ngf=2)
    common = ["--checkpoints_dir", str(tmp_path / "ck"), "--name", "r"]
    assert main([*args, *common, "--max_iters", "2"]) == 0
    assert main([*args, *common, "--max_iters", "3", "--continue_train"]) == 0
    assert [r["iter"] for r in log_records(tmp_path / "ck" / "r")] == [1, 2, 3]
    save_synthetic(tmp_path / "data" / "test", n=1, size=32)
    assert evaluate_main([*common, "--dataroot", str(tmp_path / "data"), "--results_dir",
                          str(tmp_path / "results")]) == 0
    assert (tmp_path / "results" / "r" / "test_latest" / "images" / "1_fake_B.png").is_file()


def test_lr_in_the_log_follows_the_schedule(tmp_path):
    assert train(tmp_path) == 0
    lrs = {r["epoch"]: r["lr"] for r in log_records(tmp_path / "run")}
    assert lrs == {1: 2e-4, 2: 2e-4, 3: pytest.approx(2e-4 * 0.5)}


def test_same_seed_same_log_other_seed_other_log(tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert train(tmp_path, "--max_iters", "4", "--seed", seed, name=name) == 0
    a, b, c = (log_records(tmp_path / n) for n in "abc")
    assert a == b
    assert all(ra["G_L1"] != rc["G_L1"] for ra, rc in zip(a, c))


def test_refuses_to_overwrite_a_run(tmp_path, capsys):
    assert train(tmp_path, "--max_iters", "1") == 0
    latest = tmp_path / "run" / "latest.npz"
    before = latest.read_bytes()
    capsys.readouterr()
    assert train(tmp_path, "--max_iters", "2") == 2
    err = capsys.readouterr().err
    assert "--continue_train" in err and "already holds a run" in err
    assert latest.read_bytes() == before
    assert len(log_records(tmp_path / "run")) == 1


def test_resume_past_max_iters_does_nothing(tmp_path, capsys):
    assert train(tmp_path, "--max_iters", "2") == 0
    before = (tmp_path / "run" / "latest.npz").read_bytes()
    assert train(tmp_path, "--max_iters", "2", "--continue_train") == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (tmp_path / "run" / "latest.npz").read_bytes() == before


def test_signal_handlers_are_restored_after_training(tmp_path):
    """main() catches SIGINT/SIGTERM only while it trains (it may run in a notebook)."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert train(tmp_path, "--max_iters", "1") == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# --- schedule and options -----------------------------------------------------------------

def test_lr_schedule_values():
    """The official schedule: 100 epochs at the initial lr, then 100 of linear decay; the
    last epoch trains at 1/101 of it."""
    for epoch in (0, 50, 99):
        assert lr_factor(epoch, 100, 100) == 1.0
    assert lr_factor(100, 100, 100) == pytest.approx(1 - 1 / 101)
    assert lr_factor(150, 100, 100) == pytest.approx(1 - 51 / 101)
    assert lr_factor(199, 100, 100) == pytest.approx(1 / 101)
    factors = [lr_factor(e, 100, 100) for e in range(200)]
    assert all(b < a for a, b in zip(factors[99:], factors[100:]))
    assert lr_factor(0, 1, 0) == 1.0


def test_preset_cpu_values_apply_unless_overridden():
    opt = resolve_preset(train_parser(), ["--preset", "cpu", "--ngf", "16"])
    assert opt.ngf == 16
    for key, value in PRESETS["cpu"].items():
        if key != "ngf":
            assert getattr(opt, key) == value, key
    opt = resolve_preset(train_parser(), ["--preset", "cpu", "--crop_size=64", "--load_size",
                                          "72"])
    assert (opt.crop_size, opt.load_size, opt.netG) == (64, 72, "unet_128")


def test_preset_paper_is_the_paper():
    opt, _ = parse_train_options([])  # the default data is facades: labels -> photo, BtoA
    assert (opt.netG, opt.ngf, opt.ndf, opt.load_size, opt.crop_size) == (
        "unet_256", 64, 64, 286, 256)
    assert (opt.lr, opt.beta1, opt.lambda_L1, opt.batch_size) == (2e-4, 0.5, 100.0, 1)
    assert (opt.n_epochs, opt.n_epochs_decay, opt.direction) == (100, 100, "BtoA")


def test_abbreviated_options_are_refused_not_overridden(capsys):
    """argparse would take --crop for --crop_size, and the preset would then silently
    replace it: abbreviations are refused instead."""
    with pytest.raises(SystemExit):
        resolve_preset(train_parser(), ["--preset", "cpu", "--crop", "64"])
    assert "--crop" in capsys.readouterr().err
