"""Time our convolutions and BatchNorm against PyTorch on every shape pix2pix uses.

    python -m pix2pix.benchmarks.layers                     # CPU, all cores, 256x256, batch 1
    python -m pix2pix.benchmarks.layers --only conv --repeat 20
    python -m pix2pix.benchmarks.layers --device cuda       # CuPy against torch.cuda

Each row is one forward + backward (input gradient and weight gradient, a random upstream
gradient) of one layer shape, ours and PyTorch's (float32, the same number of threads),
in the same process: ``--rounds`` alternations of (a warm-up run, then ``--repeat`` timed
runs of ours, then the same for torch); the table shows the medians. The shapes
are the unet_256 generator (PAPER.md section 4) and the 70x70 PatchGAN (section 5); a
BatchNorm shape used by several layers is timed once and counted as often as it is used.
PyTorch is optional: without it the torch columns say "n/a".
"""
import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import nn
import nn.functional as F
from nn.backend import synchronize, to_device, to_numpy

try:  # the speed peer; the library itself never imports torch
    import torch
    import torch.nn.functional as tF
except ImportError:
    torch = None

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Layer:
    """One shape to time. kind: "conv", "convT" or "bn"; size: input height = width."""
    name: str
    kind: str
    c_in: int
    c_out: int
    size: int
    stride: int = 2
    bias: bool = False
    users: list = field(default_factory=list)  # bn: the layers that share this shape

    @property
    def count(self):
        return max(1, len(self.users))

    def out_size(self):
        if self.kind == "conv":
            return (self.size + 2 - 4) // self.stride + 1
        if self.kind == "convT":
            return (self.size - 1) * self.stride - 2 + 4
        return self.size

    def flops(self, n):
        """Multiply-adds x 2 of forward + backward: dx and dW each cost one forward."""
        if self.kind == "bn":
            return None
        pixels = self.out_size() ** 2 if self.kind == "conv" else self.size ** 2
        return 3 * 2 * n * pixels * self.c_in * self.c_out * 16


def pix2pix_layers(size):
    """Every conv / transposed conv of G (U-Net) and D (70x70 PatchGAN), all 4x4 pad 1,
    and the BatchNorm shapes, for a size x size input (size = 2**num_downs)."""
    num_downs = size.bit_length() - 1
    if size != 2 ** num_downs or num_downs < 5:
        raise SystemExit(f"--size must be a power of two >= 32, got {size}")
    widths = [64, 128, 256] + [512] * (num_downs - 3)     # encoder outputs, C64 ... C512
    layers, bn = [], {}

    def add_bn(name, channels, s):
        bn.setdefault((channels, s), Layer(f"BN {channels}", "bn", channels, channels, s))
        bn[(channels, s)].users.append(name)

    c_in, s = 3, size
    for i, width in enumerate(widths):                    # encoder: s -> s/2
        name = f"G.down{i + 1}"
        layers.append(Layer(f"{name} conv {c_in}->{width}", "conv", c_in, width, s))
        if 0 < i < num_downs - 1:                          # no norm on the first and innermost
            add_bn(name, width, s // 2)
        c_in, s = width, s // 2
    for j in range(num_downs):                             # decoder: s -> 2s
        name = f"G.up{j + 1}"
        last = j == num_downs - 1
        c_out = 3 if last else widths[num_downs - 2 - j]
        layers.append(Layer(f"{name} convT {c_in}->{c_out}", "convT", c_in, c_out, s, bias=last))
        if not last:
            add_bn(name, c_out, 2 * s)
        c_in, s = 2 * c_out, 2 * s                         # the skip doubles the channels
    d_widths, d_strides = [64, 128, 256, 512, 1], [2, 2, 2, 1, 1]
    c_in, s = 6, size
    for i, (width, stride) in enumerate(zip(d_widths, d_strides)):
        name = f"D.conv{i + 1}"
        bias = i in (0, 4)                                 # the convs without BatchNorm
        layers.append(Layer(f"{name} {c_in}->{width} s{stride}", "conv", c_in, width, s,
                            stride, bias))
        s = (s + 2 - 4) // stride + 1
        if 0 < i < 4:
            add_bn(name, width, s)
        c_in = width
    return layers, list(bn.values())


def time_ms(step, sync, warmup, repeat, clock=time.perf_counter):
    """Times of ``step`` in milliseconds, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeat):
        start = clock()
        step()
        sync()  # on a GPU, wait for the queued kernels: otherwise we time only the launch
        times.append(1000 * (clock() - start))
    return times


def make_arrays(layer, n, rng):
    """Random float32 input, parameters and upstream gradient (NumPy) for one layer."""
    s, o = layer.size, layer.out_size()
    x = rng.standard_normal((n, layer.c_in, s, s), dtype=np.float32)
    if layer.kind == "bn":
        params = [1 + 0.1 * rng.standard_normal(layer.c_in, dtype=np.float32),
                  0.1 * rng.standard_normal(layer.c_in, dtype=np.float32)]
        return x, params, rng.standard_normal(x.shape, dtype=np.float32)
    w_shape = ((layer.c_out, layer.c_in, 4, 4) if layer.kind == "conv"
               else (layer.c_in, layer.c_out, 4, 4))
    params = [0.02 * rng.standard_normal(w_shape, dtype=np.float32)]
    if layer.bias:
        params.append(0.02 * rng.standard_normal(layer.c_out, dtype=np.float32))
    return x, params, rng.standard_normal((n, layer.c_out, o, o), dtype=np.float32)


def backward_step(forward, tensors, grad):
    """A closure for one timed step, ours or PyTorch's (the same calls on both): clear the
    tensors' gradients, run forward, backpropagate grad; returns the output."""
    def step():
        for t in tensors:
            t.grad = None
        out = forward()
        out.backward(grad)
        return out
    return step


def ours_step(layer, x, params, grad, device):
    """A closure running our forward + backward once, and the forward output."""
    x = nn.Tensor(to_device(x, device), requires_grad=True)
    params = [nn.Tensor(to_device(p, device), requires_grad=True) for p in params]
    grad = to_device(grad, device)
    if layer.kind == "bn":
        stats = [to_device(np.zeros(layer.c_in, np.float32), device),
                 to_device(np.ones(layer.c_in, np.float32), device)]
        forward = lambda: F.batch_norm(x, *params, *stats, training=True)  # noqa: E731
    else:
        op = F.conv2d if layer.kind == "conv" else F.conv_transpose2d
        bias = params[1] if layer.bias else None
        forward = lambda: op(x, params[0], bias, layer.stride, 1)  # noqa: E731
    return backward_step(forward, [x, *params], grad), lambda: to_numpy(forward().data)


def torch_step(layer, x, params, grad, device):
    """The same for PyTorch (None when torch is missing or has no CUDA)."""
    if torch is None or (device == "cuda" and not torch.cuda.is_available()):
        return None, None
    dev = torch.device(device)
    x = torch.from_numpy(x).to(dev).requires_grad_()
    params = [torch.from_numpy(p).to(dev).requires_grad_() for p in params]
    grad = torch.from_numpy(grad).to(dev)
    if layer.kind == "bn":
        stats = [torch.zeros(layer.c_in, device=dev), torch.ones(layer.c_in, device=dev)]
        forward = lambda: tF.batch_norm(x, *stats, *params, training=True)  # noqa: E731
    else:
        op = tF.conv2d if layer.kind == "conv" else tF.conv_transpose2d
        bias = params[1] if layer.bias else None
        forward = lambda: op(x, params[0], bias, stride=layer.stride, padding=1)  # noqa: E731
    return (backward_step(forward, [x, *params], grad),
            lambda: forward().detach().cpu().numpy())


def torch_sync(device):
    if device == "cuda" and torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()


def run(layers, args, rng):
    """Time every layer; returns rows (layer, ours ms, torch ms or None)."""
    rows = []
    for layer in layers:
        x, params, grad = make_arrays(layer, args.batch_size, rng)
        ours, ours_forward = ours_step(layer, x, params, grad, args.device)
        theirs, theirs_forward = torch_step(layer, x, params, grad, args.device)
        if theirs is not None:
            a, b = ours_forward(), theirs_forward()
            err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
            if err > 1e-3:
                print(f"WARNING: {layer.name}: outputs differ from torch (rel. error {err:.1e})")
        # Rounds alternate ours and torch, so that both see the same background load.
        ours_times, torch_times = [], []
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        for _ in range(args.rounds):
            ours_times += time_ms(ours, lambda: synchronize(args.device), args.warmup,
                                  args.repeat, clock)
            if theirs is not None:
                # BLAS and OpenMP worker threads spin for a while after a call before they
                # sleep: a pause keeps one library's spinning threads off the other's cores.
                time.sleep(args.pause)
                torch_times += time_ms(theirs, lambda: torch_sync(args.device), args.warmup,
                                       args.repeat, clock)
                time.sleep(args.pause)
        rows.append((layer, statistics.median(ours_times),
                     statistics.median(torch_times) if torch_times else None))
        if args.verbose:
            print(f"  {layer.name}: {rows[-1][1]:.2f} ms, torch {rows[-1][2]}", file=sys.stderr)
    return rows


def print_table(rows, n):
    head = (f"{'layer':<34} {'input shape':>18} {'ours ms':>9} {'torch ms':>9} "
            f"{'ours/torch':>10} {'GFLOP/s':>8}")
    print(head)
    print("-" * len(head))

    def fmt(name, shape, ours, theirs, flops):
        ratio = f"{ours / theirs:10.2f}" if theirs else f"{'n/a':>10}"
        speed = f"{flops / ours / 1e6:8.1f}" if flops and ours else f"{'-':>8}"
        theirs = f"{theirs:9.2f}" if theirs else f"{'n/a':>9}"
        print(f"{name:<34} {shape:>18} {ours:9.2f} {theirs} {ratio} {speed}")

    for kinds, label in ((("conv", "convT"), "convolutions"), (("bn",), "BatchNorm")):
        group = [r for r in rows if r[0].kind in kinds]
        if not group:
            continue
        for layer, ours, theirs in group:
            name = layer.name if layer.kind != "bn" else f"{layer.name} x{layer.count}"
            fmt(name, str((n, layer.c_in, layer.size, layer.size)).replace(" ", ""), ours,
                theirs, layer.flops(n))
        print("-" * len(head))
        # A shared BatchNorm shape counts once per layer that uses it.
        ours = sum(r[1] * r[0].count for r in group)
        theirs = None if any(r[2] is None for r in group) else \
            sum(r[2] * r[0].count for r in group)
        flops = sum(r[0].flops(n) or 0 for r in group)
        fmt(f"total {label} ({sum(r[0].count for r in group)} layers)", "", ours, theirs,
            flops)
        print("-" * len(head))


def pin_threads(threads, argv):
    """Make NumPy's BLAS use ``threads`` threads: it reads the variable at import, so set it
    and restart this process once (threadpoolctl would do it in place, if installed)."""
    if all(os.environ.get(v) == str(threads) for v in _THREAD_VARS):
        return
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
        return
    except ImportError:
        pass
    if os.environ.get("_PIX2PIX_BENCH_REEXEC"):
        print(f"WARNING: could not set BLAS threads to {threads}", file=sys.stderr)
        return
    os.environ.update({v: str(threads) for v in _THREAD_VARS}, _PIX2PIX_BENCH_REEXEC="1")
    os.execv(sys.executable, [sys.executable, "-m", __spec__.name, *argv])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per layer and round")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs before each round")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternations ours / torch per layer; the median is over all rounds")
    p.add_argument("--size", type=int, default=256, help="image size: 256 = unet_256")
    p.add_argument("--batch-size", type=int, default=1)  # pix2pix trains with batch 1
    p.add_argument("--only", choices=["conv", "convT", "bn"], help="time one kind of layer")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="CPU threads for NumPy's BLAS and for torch (default: all cores)")
    p.add_argument("--pause", type=float, default=0.2,
                   help="seconds between our runs and torch's (lets idle BLAS threads sleep)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: this process's CPU time, which other programs on a busy machine "
                        "do not inflate; meaningful with --threads 1 (threads that spin "
                        "while waiting count too)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="print each layer as it is timed")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    try:
        nn.check_device(args.device)
    except RuntimeError as error:  # "cuda" without CuPy or without a GPU
        p.error(str(error))
    if args.device == "cpu":
        pin_threads(args.threads, argv)
    if torch is not None:
        torch.set_num_threads(args.threads)

    convs, bns = pix2pix_layers(args.size)
    layers = [l for l in convs + bns if args.only in (None, l.kind)]  # noqa: E741
    print(f"device {args.device}, {args.threads} threads, batch {args.batch_size}, "
          f"{args.size}x{args.size}, median of {args.rounds}x{args.repeat} runs, "
          f"{args.clock} clock; "
          f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = run(layers, args, np.random.default_rng(args.seed))
    print_table(rows, args.batch_size)
    if load is not None:  # other programs on the same cores distort every number
        print(f"load average (1 min): {load:.2f} before the run, {os.getloadavg()[0]:.2f} "
              f"after, on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
