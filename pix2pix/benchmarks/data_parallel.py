"""Images per second of data-parallel training: ours on MPI against PyTorch's DDP (gloo).

    python -m pix2pix.benchmarks.data_parallel            # the CPU preset's networks

Rows, each the same pix2pix iteration (paper Sec. 3.3) on random images, one effective
batch of --processes images: ours in one process with --processes BLAS threads and that
batch; ours on --processes MPI ranks x batch 1 x 1 thread (--norm batch, then syncbatch);
PyTorch's DistributedDataParallel (gloo) with the official port's networks on as many
processes x batch 1 x 1 thread, and PyTorch in one process with the first row's threads
and batch (whether ranks beat threads depends on the machine, for both libraries). Each
run is its own set of processes; the rows alternate for --rounds rounds and report the
medians (timings on a shared machine drift). Needs the distributed extra (mpiexec,
mpi4py) and torch for the peer.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys

import numpy as np

from .train_step import median_seconds, torch_step


def run_ours(args):
    """One rank's timing (all ranks step together: the all-reduces synchronise them)."""
    from pix2pix.models.pix2pix_model import Pix2Pix
    from pix2pix.training.distributed import connect, processes
    group = processes()
    model = Pix2Pix(netG=f"unet_{args.size}", ngf=args.width, ndf=args.width, norm=args.norm)
    connect(model, group, seed=0)
    rng = np.random.default_rng(group.rank)
    a, b = (rng.uniform(-1, 1, (args.batch_size, 3, args.size, args.size)).astype(np.float32)
            for _ in range(2))
    seconds = median_seconds(lambda: model.train_step(a, b), args.warmup, args.repeat)
    return seconds if group.rank == 0 else None


def run_torch_ddp(args):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from .torch_peer import NLayerDiscriminator, UnetGenerator
    rank = int(os.environ["RANK"])
    dist.init_process_group("gloo", rank=rank, world_size=int(os.environ["WORLD_SIZE"]))
    torch.manual_seed(0)
    # broadcast_buffers=False: like ours, each rank keeps its own running statistics.
    G = DDP(UnetGenerator(3, 3, args.size.bit_length() - 1, ngf=args.width, use_dropout=True),
            broadcast_buffers=False)
    D = DDP(NLayerDiscriminator(6, ndf=args.width), broadcast_buffers=False)
    a = torch.rand(args.batch_size, 3, args.size, args.size) * 2 - 1
    b = torch.rand(args.batch_size, 3, args.size, args.size) * 2 - 1
    seconds = median_seconds(torch_step(G, D, a, b, D_in_G_step=D.module), args.warmup,
                             args.repeat)
    dist.destroy_process_group()
    return seconds if rank == 0 else None


def worker(args):
    if args.worker == "torch_ddp":
        import torch
        torch.set_num_threads(args.threads)
        seconds = run_torch_ddp(args)
    else:
        seconds = run_ours(args)
    if seconds is not None:
        print("RESULT " + json.dumps(seconds), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(impl, processes, batch_size, threads, args, norm="batch"):
    """Seconds per iteration of one configuration, run in fresh processes."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(free_port()), WORLD_SIZE=str(processes))
    cmd = [sys.executable, "-m", "pix2pix.benchmarks.data_parallel", "--worker", impl,
           "--size", str(args.size), "--width", str(args.width), "--batch_size",
           str(batch_size), "--warmup", str(args.warmup), "--repeat", str(args.repeat),
           "--threads", str(threads), "--norm", norm]
    if impl == "torch_ddp":  # torch's launcher: one process per rank, RANK in the environment
        procs = [subprocess.Popen(cmd, env=dict(env, RANK=str(r)), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for r in range(processes)]
        outputs = [p.communicate() for p in procs]
        failed = any(p.returncode for p in procs)
        out, err = "".join(o for o, _ in outputs), "".join(e for _, e in outputs)
    else:
        launch = ["mpiexec", "-n", str(processes)] if processes > 1 else []
        done = subprocess.run(launch + cmd, env=env, capture_output=True, text=True)
        failed, out, err = done.returncode, done.stdout, done.stderr
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if failed or not lines:
        raise RuntimeError(f"{impl} on {processes} process(es) failed:\n{err[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--size", type=int, default=128, help="image size (unet_<size>)")
    p.add_argument("--width", type=int, default=32, help="ngf = ndf")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    # internal: one configuration in its own processes
    p.add_argument("--worker", choices=["ours", "torch_ddp"], help=argparse.SUPPRESS)
    p.add_argument("--batch_size", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--norm", default="batch", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    n = args.processes
    one_process = f"ours, 1 process x batch {n}, {n} threads"       # the base of "vs 1 process"
    ddp = f"PyTorch DDP gloo, {n} x batch 1, 1 thread"               # the base of "vs DDP"
    rows = {  # name: (implementation, processes, batch per process, threads, norm)
        one_process: ("ours", 1, n, n, "batch"),
        f"ours, {n} ranks x batch 1, 1 thread each": ("ours", n, 1, 1, "batch"),
        f"ours, {n} ranks, --norm syncbatch": ("ours", n, 1, 1, "syncbatch"),
        ddp: ("torch_ddp", n, 1, 1, "batch"),
        # The peer's own threads-or-ranks question on this machine.
        f"PyTorch, 1 process x batch {n}, {n} threads": ("torch_ddp", 1, n, n, "batch"),
    }
    print(f"unet_{args.size}, ngf = ndf = {args.width}, effective batch {n}; median of "
          f"{args.repeat} iterations after {args.warmup}, {args.rounds} rounds alternating\n")
    times = {name: [] for name in rows}
    for _ in range(args.rounds):
        for name, (impl, procs, batch, threads, norm) in rows.items():
            times[name].append(spawn(impl, procs, batch, threads, args, norm))
    peer, single = statistics.median(times[ddp]), statistics.median(times[one_process])
    print(f"{'configuration':<44}{'s/it':>7}{'images/s':>10}{'vs DDP':>8}{'vs 1 process':>14}")
    for name, seconds in times.items():
        t = statistics.median(seconds)
        print(f"{name:<44}{t:>7.3f}{n / t:>10.2f}{t / peer:>8.2f}{single / t:>14.2f}")
    print("\nvs DDP: time per image / PyTorch DDP's; vs 1 process: speed-up over ours in "
          "one process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
