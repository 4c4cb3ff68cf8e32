"""Count what one training iteration asks of a GPU, on the CPU, with the strict CuPy
stand-in (nn/testing/strict_cupy.py): device operations (launches) per kind, host
synchronisations and host-to-device copies per call site.

    python -m pix2pix.benchmarks.device_counts                  # unet_256, batch 1
    python -m pix2pix.benchmarks.device_counts --netG unet_128 --ngf 32

The numbers are what the code asks for, not what a GPU measures: one counted call may be
one kernel or a few (CuPy's pad, a cuBLAS call); time and memory need a real GPU.
"""
import argparse
import json

import numpy as np


def count_iteration(netG="unet_256", ngf=64, batch_size=1, warmup=1):
    """{"launches": {kind: n}, "syncs": {site: n}, "host_to_device": {site: n}, totals}
    of one training iteration after ``warmup`` ones (the first allocates Adam's state)."""
    import nn
    from nn.testing import strict_cupy
    nn.backend._cupy = strict_cupy            # this process only: a counting run
    from pix2pix.models.pix2pix_model import Pix2Pix
    size = int(netG.split("_")[1])
    model = Pix2Pix(device="cuda", netG=netG, ngf=ngf, ndf=ngf, seed=0)
    rng = np.random.default_rng(0)
    a, b = (nn.to_device(rng.uniform(-1, 1, (batch_size, 3, size, size)).astype(np.float32),
                         "cuda") for _ in range(2))
    for _ in range(warmup):
        model.train_step(a, b)
    strict_cupy.reset_counts()
    model.train_step(a, b)
    counts = strict_cupy.counts
    return dict(totals=counts.totals(), launches=dict(counts.launches.most_common()),
                syncs=dict(counts.syncs), host_to_device=dict(counts.host_to_device))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--netG", default="unet_256")
    p.add_argument("--ngf", type=int, default=64, help="also ndf")
    p.add_argument("--batch_size", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = p.parse_args(argv)
    result = count_iteration(args.netG, args.ngf, args.batch_size)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"one training iteration, {args.netG}, ngf/ndf {args.ngf}, batch {args.batch_size}:")
    print("  totals: " + ", ".join(f"{k} {v}" for k, v in result["totals"].items()))
    print("  launches by kind: " + ", ".join(f"{k} {v}" for k, v in result["launches"].items()))
    for what in ("syncs", "host_to_device"):
        print(f"  {what} by call site: " + (", ".join(f"{k} x{v}" for k, v in
                                                    result[what].items()) or "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
