"""Whole runs with --device cuda: training, exact resumption, the test command, fine-tuning
from official weights, the benchmark's worker process, an out-of-memory GPU.

They run under the strict CuPy stand-in everywhere (nn/testing/strict_cupy.py: CuPy's rules
on the CPU) and under real CuPy on a GPU (the device_xp fixture). Tiny sizes: unet_32, ngf 4.
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import nn
from pix2pix.benchmarks import train_step as benchmark
from pix2pix.evaluation import evaluate
from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.models.pix2pix_model import Pix2Pix
from pix2pix.training.loop import main as train_main
from tests.paths import FIXTURES

TINY = ["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32", "--load_size", "36",
        "--ngf", "4", "--ndf", "4", "--n_epochs", "2", "--n_epochs_decay", "1",
        "--max_dataset_size", "3", "--num_samples", "1", "--no_progress"]


def train(tmp_path, *args, name="run", device="cuda"):
    return train_main([*TINY, "--device", device, "--checkpoints_dir", str(tmp_path),
                       "--name", name, *args])


def losses(run_dir):
    records = [json.loads(line) for line in (Path(run_dir) / "loss_log.jsonl").open()]
    return [{k: v for k, v in r.items() if k not in ("time", "data")} for r in records]


def test_train_resume_and_test_commands_on_the_device(device_xp, tmp_path, monkeypatch):
    """Checkpoint, sample pictures and page written; stop at 4 and --continue_train to 9
    gives the run straight through; the same losses as the CPU's; the test command runs."""
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *a, **k: None)
    assert train(tmp_path, name="straight") == 0
    run = tmp_path / "straight"
    for name in ("latest.npz", "samples_latest.png", "index.html", "epoch_3.npz"):
        assert (run / name).is_file(), name
    meta, arrays = read_checkpoint(run / "latest.npz")
    assert meta["total_iters"] == 9 and meta["options"]["device"] == "cuda"
    assert all(isinstance(a, np.ndarray) for a in arrays.values())

    assert train(tmp_path, "--max_iters", "4", name="split") == 0
    assert train(tmp_path, "--continue_train", name="split") == 0
    assert losses(tmp_path / "split") == losses(run)

    assert train(tmp_path, name="cpu", device="cpu") == 0
    for ours, cpu in zip(losses(run), losses(tmp_path / "cpu")):
        assert ours == pytest.approx(cpu, rel=1e-3, abs=1e-5)

    results = tmp_path / "results"
    assert evaluate.main(["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
                          "--load_size", "36", "--ngf", "4",
                          "--device", "cuda", "--checkpoints_dir", str(tmp_path),
                          "--name", "straight", "--results_dir", str(results)]) == 0
    out = next(results.glob("straight/*_latest"))
    n = json.loads((out / "metrics.json").read_text())["n"]
    assert n > 0 and len(list((out / "images").glob("*_output.png"))) == n
    assert (out / "index.html").is_file() and (out / "images" / "1_output.png").is_file()


def test_init_G_from_official_weights_on_the_device(device_xp, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *a, **k: None)
    pth = FIXTURES / "tiny_official_unet.pth"   # unet_32, ngf 2
    assert train(tmp_path, "--init_G", str(pth), "--ngf", "2", "--max_iters", "1") == 0
    assert "the official port's weights" in capsys.readouterr().out
    assert read_checkpoint(tmp_path / "run" / "latest.npz")[0]["total_iters"] == 1


def test_benchmark_worker_runs_on_the_device_in_a_child_process(device_xp):
    """The benchmark's worker is a fresh process: it must get the device module too."""
    args = argparse.Namespace(warmup=0, repeat=1, device="cuda", threads=1, profile=False,
                              torch_device="cpu")
    result = benchmark.spawn("ours", 32, 4, 1, args)
    assert result["seconds"] > 0 and result["gflop"] > 0
    assert result["peak_mb"] > 0                # the device pool's peak, not the host's


def test_out_of_memory_on_the_device_is_one_line(strict_cupy, tmp_path, capsys):
    pool = strict_cupy.get_default_memory_pool()
    pool.set_limit(size=pool.used_bytes() + 2 ** 16)
    try:
        assert train(tmp_path, "--max_iters", "1") == 2
    finally:
        pool.set_limit(size=0)
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: out of memory on the GPU (Out of memory allocating")
    assert "--batch_size (now 1), --crop_size (now 32), --ngf (now 4)" in err
    assert len(err.splitlines()) == 1


def test_float64_batches_train_in_float32_on_the_device(device_xp):
    model = Pix2Pix(device="cuda", netG="unet_32", ngf=4, ndf=4, seed=0)
    batch = nn.to_device(np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)), "cuda")
    assert batch.dtype == np.float64
    assert model._as_tensor(batch).dtype == np.float32
    model.train_step(batch, batch)
    assert all(p.dtype == np.float32 for p in model.netG.parameters())


def test_gpu_report_runs_every_step_into_at_most_8_files(strict_cupy, tmp_path):
    """The prepared GPU script, --quick, under the stand-in with PyTorch on the CPU: every
    step exits 0 and writes its file; the counts step reports one sync per iteration."""
    from pix2pix.benchmarks import gpu_report
    out = tmp_path / "report"
    assert gpu_report.main([str(out), "--quick"]) == 0
    files = sorted(f.name for f in out.iterdir())
    assert len(files) <= 8 and "summary.json" in files
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == set(gpu_report.FULL) == set(gpu_report.QUICK)
    for name, step in summary.items():
        assert step["exit_code"] == 0, (out / f"{name}.txt").read_text()[-2000:]
    assert "tiny (32px, ngf4)" in (out / "train_step.txt").read_text()
    assert "syncs 1," in (out / "device_counts.txt").read_text()
    assert "reached --max_iters: saved" in (out / "facades_train.txt").read_text()
