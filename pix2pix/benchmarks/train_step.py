"""Time full pix2pix training iterations: ours against PyTorch, side by side.

    python -m pix2pix.benchmarks.train_step                    # paper + cpu preset configs
    python -m pix2pix.benchmarks.train_step --scaling          # sizes 64/128/256, batch 1/4
    python -m pix2pix.benchmarks.train_step --profile          # where our time goes

One iteration = G forward, D on the fake and real pairs, D backward and Adam step, D on
the fake pair again, G backward and Adam step (paper Sec. 3.3), on random images, with
dropout on. Each implementation runs in its own subprocess (so peak memory is its own):
warm-up iterations, then the median of --repeat, alternating ours and PyTorch for
--rounds rounds; the ratio is the median of the per-round ratios. Peak memory on the CPU is
the process's peak resident size minus its size before the networks were built; on a GPU
it is CuPy's memory pool (which keeps the run's peak) and torch.cuda.max_memory_allocated. PyTorch runs the official
port's architecture (pix2pix.benchmarks.torch_peer) with the same thread count.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

CONFIGS = {  # name: (crop size, ngf = ndf)
    "paper": (256, 64),
    "cpu": (128, 32),
    "tiny": (32, 4),     # a smoke test of the benchmark itself (gpu_report's test)
}


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conv_macs(model, size, batch_size):
    """Multiply-adds of one forward pass of every Conv2d / ConvTranspose2d in ``model``."""
    import nn
    counts = []
    originals = nn.Conv2d.forward, nn.ConvTranspose2d.forward

    def count(original):
        def forward(self, x):
            out = original(self, x)
            pixels = out.shape[2] * out.shape[3] if isinstance(self, nn.Conv2d) \
                else x.shape[2] * x.shape[3]
            counts.append(x.shape[0] * pixels * self.in_channels * self.out_channels
                          * self.kernel_size ** 2)
            return out
        return forward

    nn.Conv2d.forward, nn.ConvTranspose2d.forward = count(originals[0]), count(originals[1])
    try:
        zeros = np.zeros((batch_size, model_input_channels(model), size, size), np.float32)
        with nn.no_grad():           # on the model's device: CuPy refuses a host batch
            model(nn.Tensor(nn.to_device(zeros, next(model.parameters()).device)))
    finally:
        nn.Conv2d.forward, nn.ConvTranspose2d.forward = originals
    return sum(counts)


def model_input_channels(model):
    import nn
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def iteration_flops(G_macs, D_macs):
    """G: forward + backward (dx, dW) = 3 passes; D: 3 forwards, the D step's backward
    (dx, dW) on 2 pairs = 4, the G step's backward through D (dx only) = 1: 8 passes."""
    return 2 * (3 * G_macs + 8 * D_macs)


def run_ours(size, width, batch_size, warmup, repeat, device, profile):
    import nn
    from pix2pix.models.pix2pix_model import Pix2Pix
    base = _rss_mb()
    nn.backend.free_device_pool(device)
    netG = f"unet_{size}"
    model = Pix2Pix(netG=netG, ngf=width, ndf=width, device=device)
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (batch_size, 3, size, size)).astype(np.float32)
    b = rng.uniform(-1, 1, (batch_size, 3, size, size)).astype(np.float32)
    a, b = nn.to_device(a, device), nn.to_device(b, device)
    flops = iteration_flops(conv_macs(model.netG, size, batch_size),
                            conv_macs(model.netD, size, batch_size))
    seconds = median_seconds(lambda: model.train_step(a, b), warmup, repeat,
                             lambda: nn.backend.synchronize(device))
    device_mb = nn.backend.device_pool_mb(device)
    result = dict(seconds=seconds, gflop=flops / 1e9,
                  peak_mb=_peak_mb() - base if device_mb is None else device_mb)
    if profile:
        from .profile import profile_iterations
        result["profile"] = profile_iterations(model, a, b, repeat=max(2, repeat // 2))
    return result


def run_torch(size, width, batch_size, warmup, repeat, device):
    import torch

    from .torch_peer import NLayerDiscriminator, UnetGenerator
    torch.manual_seed(0)
    base = _rss_mb()
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    G = UnetGenerator(3, 3, size.bit_length() - 1, ngf=width, use_dropout=True).to(dev)
    D = NLayerDiscriminator(6, ndf=width).to(dev)
    a = torch.rand(batch_size, 3, size, size, device=dev) * 2 - 1
    b = torch.rand(batch_size, 3, size, size, device=dev) * 2 - 1
    seconds = median_seconds(torch_step(G, D, a, b), warmup, repeat,
                             torch.cuda.synchronize if dev.type == "cuda" else lambda: None)
    if dev.type == "cuda":
        return dict(seconds=seconds, peak_mb=torch.cuda.max_memory_allocated() / 2 ** 20)
    return dict(seconds=seconds, peak_mb=_peak_mb() - base)


def median_seconds(step, warmup, repeat, synchronize=lambda: None):
    """The median time of ``repeat`` calls of step() after ``warmup`` untimed ones."""
    times = []
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        step()
        synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def torch_step(G, D, a, b, D_in_G_step=None):
    """One PyTorch pix2pix iteration as a function of no arguments. D_in_G_step: the D the
    G step runs (DDP's underlying module: that pass gives D no gradient to reduce)."""
    import torch
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce, l1 = torch.nn.BCEWithLogitsLoss(), torch.nn.L1Loss()
    D_in_G_step = D if D_in_G_step is None else D_in_G_step

    def step():
        fake = G(a)
        for p in D.parameters():
            p.requires_grad_(True)
        pred_fake = D(torch.cat([a, fake.detach()], 1))
        pred_real = D(torch.cat([a, b], 1))
        loss_D = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake))
                        + bce(pred_real, torch.ones_like(pred_real)))
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        for p in D.parameters():
            p.requires_grad_(False)
        pred = D_in_G_step(torch.cat([a, fake], 1))
        loss_G = bce(pred, torch.ones_like(pred)) + 100 * l1(fake, b)
        opt_G.zero_grad()
        loss_G.backward()
        opt_G.step()

    return step


def worker(args):
    """Run one implementation in this (fresh) process and print its result as JSON."""
    if args.impl == "torch":
        import torch
        torch.set_num_threads(args.threads)
        result = run_torch(args.size, args.width, args.batch_size, args.warmup, args.repeat,
                           args.torch_device)
    else:
        result = run_ours(args.size, args.width, args.batch_size, args.warmup, args.repeat,
                          args.device, args.profile)
    print("RESULT " + json.dumps(result))


def spawn(impl, size, width, batch_size, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, "-m", "pix2pix.benchmarks.train_step", "--worker", impl,
           "--size", str(size), "--width", str(width), "--batch_size", str(batch_size),
           "--warmup", str(args.warmup), "--repeat", str(args.repeat),
           "--device", args.device, "--threads", str(args.threads),
           "--torch_device", args.torch_device]
    if args.profile and impl == "ours":
        cmd.append("--profile")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        if impl == "torch" and "No module named 'torch'" in out.stderr:
            return None
        raise RuntimeError(f"{impl} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def _combine(results):
    """Median seconds and peak memory over rounds (the profile of the first round)."""
    combined = dict(results[0])
    for key in ("seconds", "peak_mb"):
        combined[key] = statistics.median(r[key] for r in results)
    return combined


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def print_table(rows):
    header = (f"{'config':<24}{'ours s/it':>10}{'torch s/it':>11}{'ratio':>7}"
              f"{'GFLOP/it':>9}{'ours GFLOP/s':>13}{'ours MB':>9}{'torch MB':>9}"
              f"{'mem ratio':>10}")
    print(header)
    print("-" * len(header))
    for name, ours, theirs in rows:
        t_sec = theirs["seconds"] if theirs else None
        t_mem = theirs["peak_mb"] if theirs else None
        ratio = ours.get("ratio")
        mem_ratio = ours["peak_mb"] / t_mem if theirs else None
        print(f"{name:<24}{ours['seconds']:>10.3f}{_fmt(t_sec, '.3f'):>11}"
              f"{_fmt(ratio, '.2f'):>7}{ours['gflop']:>9.1f}"
              f"{ours['gflop'] / ours['seconds']:>13.1f}{ours['peak_mb']:>9.0f}"
              f"{_fmt(t_mem, '.0f'):>9}{_fmt(mem_ratio, '.2f'):>10}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", nargs="+", default=["paper", "cpu"], choices=list(CONFIGS))
    p.add_argument("--scaling", action="store_true",
                   help="paper widths at sizes 64, 128, 256 and batch sizes 1, 4")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternate ours and torch this often")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--profile", action="store_true", help="per-phase profile of ours")
    p.add_argument("--no_torch", action="store_true")
    p.add_argument("--torch_device", choices=["cpu", "cuda"],
                   help="where PyTorch runs (default: --device)")
    # internal: one implementation in a subprocess
    p.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=256, help=argparse.SUPPRESS)
    p.add_argument("--width", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--batch_size", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.impl = args.worker
    args.torch_device = args.torch_device or args.device
    if args.worker:
        return worker(args)

    with_torch = not args.no_torch and torch_available()
    runs = ([(f"{s}px ngf64 batch {n}", s, 64, n) for s in (64, 128, 256) for n in (1, 4)]
            if args.scaling else
            [(f"{c} ({CONFIGS[c][0]}px, ngf{CONFIGS[c][1]})", CONFIGS[c][0], CONFIGS[c][1], 1)
             for c in args.config])
    print(f"device {args.device}, {args.threads} threads, median of {args.repeat} iterations "
          f"after {args.warmup} warm-up; PyTorch: "
          f"{f'yes, on {args.torch_device}' if with_torch else 'not run'}\n")
    rows = []
    for name, size, width, n in runs:
        # Alternate ours and torch for several rounds, so that both see the same
        # background load (timings on a shared machine drift by 10-20%); report the
        # medians over the rounds and the median of the per-round ratios.
        rounds = [(spawn("ours", size, width, n, args),
                   spawn("torch", size, width, n, args) if with_torch else None)
                  for _ in range(args.rounds)]
        ours, theirs = _combine([r[0] for r in rounds]), None
        if with_torch:
            theirs = _combine([r[1] for r in rounds])
            ours["ratio"] = statistics.median(o["seconds"] / t["seconds"] for o, t in rounds)
        rows.append((name, ours, theirs))
        if args.profile and "profile" in ours:
            from .profile import print_profile
            print(f"profile of ours, {name}:")
            print_profile(ours["profile"])
            print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
