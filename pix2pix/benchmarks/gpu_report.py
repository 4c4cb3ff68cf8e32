"""The prepared GPU run: everything only a GPU can show, in one command, into one folder.

    python -m pix2pix.benchmarks.gpu_report OUT          # on a machine with CuPy and a GPU

Steps (each one's output in its own file under OUT; at most 8 files):

  environment.txt    GPU, driver, CuPy and PyTorch versions
  pytest_cupy.txt    the real-CuPy half of the suite (tests parametrised "cupy")
  layers.txt         every conv / BatchNorm shape of pix2pix, ours against torch.cuda
  train_step.txt     whole training iterations, paper config and CPU preset, against
                     torch.cuda; peak memory from CuPy's pool and torch.cuda
  device_counts.txt  launches and host syncs per unet_256 iteration (strict stand-in)
  facades_train.txt  a timed training run on facades with --device cuda
  summary.json       each step's command, exit code and seconds

A failing step does not stop the others. ``--quick`` shrinks every step to seconds (tiny
networks, the synthetic set): the tests run it under the strict CuPy stand-in, with
PyTorch on the CPU, so that the first GPU run is not this script's first run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL = {
    "pytest_cupy": ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
                    "cupy and not strict_cupy", "tests"],
    "layers": ["-m", "pix2pix.benchmarks.layers", "--device", "cuda"],
    "train_step": ["-m", "pix2pix.benchmarks.train_step", "--device", "cuda",
                   "--config", "paper", "cpu"],
    "device_counts": ["-m", "pix2pix.benchmarks.device_counts"],
    "facades_train": ["train.py", "--device", "cuda", "--dataroot", "datasets/facades",
                      "--max_iters", "400", "--print_freq", "100", "--no_progress"],
}
QUICK = {
    "pytest_cupy": ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cupy",
                    "tests/nn/test_backend.py"],
    "layers": ["-m", "pix2pix.benchmarks.layers", "--device", "cuda", "--size", "32",
               "--only", "bn", "--repeat", "1", "--rounds", "1", "--warmup", "0",
               "--pause", "0"],
    "train_step": ["-m", "pix2pix.benchmarks.train_step", "--device", "cuda", "--config",
                   "tiny", "--repeat", "1", "--warmup", "0", "--rounds", "1",
                   "--torch_device", "cpu"],
    "device_counts": ["-m", "pix2pix.benchmarks.device_counts", "--netG", "unet_32",
                      "--ngf", "4"],
    "facades_train": ["train.py", "--device", "cuda", "--dataroot", "synthetic", "--netG",
                      "unet_32", "--crop_size", "32", "--load_size", "36", "--ngf", "4",
                      "--ndf", "4", "--max_dataset_size", "3", "--max_iters", "3",
                      "--num_samples", "1", "--no_progress"],
}
# Where the real CuPy must run, the tests' stand-in must not: only the counting step
# uses it (it patches it in itself).
REAL_CUPY = ("pytest_cupy", "layers", "train_step", "facades_train")


def environment():
    """Versions and the GPU, as text (what is missing says so)."""
    lines = [f"python {sys.version.split()[0]}"]
    for module in ("numpy", "cupy", "torch"):
        try:
            lines.append(f"{module} {__import__(module).__version__}")
        except Exception as e:   # not installed, or a CUDA library that fails to load
            lines.append(f"{module}: {type(e).__name__}: {e}")
    try:
        smi = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30)
        lines.append(smi.stdout or smi.stderr)
    except (OSError, subprocess.TimeoutExpired) as e:
        lines.append(f"nvidia-smi: {e}")
    return "\n".join(lines) + "\n"


def run_step(name, args, out, env, timeout):
    """Run one step, its stdout and stderr into OUT/<name>.txt; (exit code, seconds)."""
    start = time.perf_counter()
    with open(out / f"{name}.txt", "w") as log:
        log.write(f"$ python {' '.join(args)}\n")
        log.flush()
        try:
            code = subprocess.run([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT,
                                  env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            log.write(f"\n(stopped after {timeout} s)\n")
            code = 124
    return code, round(time.perf_counter() - start, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path, help="folder for the report (made if missing)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, synthetic data: a smoke test of this script")
    p.add_argument("--timeout", type=int, default=900, help="seconds per step at most")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "environment.txt").write_text(environment())
    steps = QUICK if args.quick else FULL
    summary = {}
    with tempfile.TemporaryDirectory() as checkpoints:
        for name, step in steps.items():
            if name == "facades_train":   # its checkpoints stay out of OUT (8 files)
                step = [*step, "--checkpoints_dir", checkpoints, "--name", "gpu_report"]
            env = dict(os.environ)
            if name in REAL_CUPY and not args.quick:
                env.pop("NN_STRICT_CUPY", None)
            code, seconds = run_step(name, step, args.out, env, args.timeout)
            summary[name] = {"command": "python " + " ".join(step), "exit_code": code,
                             "seconds": seconds}
            print(f"{name}: exit {code} in {seconds} s -> {args.out / (name + '.txt')}",
                  flush=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if all(s["exit_code"] == 0 for s in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
