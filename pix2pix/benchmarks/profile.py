"""Where our training iteration spends its time: forward and backward per op type,
the optimiser steps, and data loading."""
import time
from collections import defaultdict

import numpy as np

import nn
from nn.tensor import Function
from pix2pix.data.datasets import AlignedDataset
from pix2pix.data.images import DataError
from pix2pix.data.synthetic import SyntheticFacades


def profile_iterations(model, a, b, repeat=3):
    """Seconds per iteration in each phase, averaged over ``repeat`` train_steps.

    Every Function's forward and backward is wrapped with a timer (keyed by op name:
    "forward Conv2dFunction", "backward BatchNormFunction", ...), and so are the two Adam
    steps. On a GPU the timings include a synchronisation after each op.
    """
    totals = defaultdict(float)
    device = model.device
    ops = {cls for cls in _all_subclasses(Function)}
    originals = {}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            nn.backend.synchronize(device)
            totals[name] += time.perf_counter() - t0
            return out
        return staticmethod(wrapper)

    for cls in ops:
        if "forward" in cls.__dict__:
            originals[(cls, "forward")] = cls.__dict__["forward"]
            setattr(cls, "forward", timed(f"forward  {cls.__name__}", cls.forward))
        if "backward" in cls.__dict__:
            originals[(cls, "backward")] = cls.__dict__["backward"]
            setattr(cls, "backward", timed(f"backward {cls.__name__}", cls.backward))
    adam_step = nn.Adam.step
    nn.Adam.step = lambda self: _time_call(totals, "optimiser Adam.step", adam_step, self)
    try:
        t0 = time.perf_counter()
        for _ in range(repeat):
            model.train_step(a, b)
        nn.backend.synchronize(device)
        wall = time.perf_counter() - t0
    finally:
        for (cls, name), fn in originals.items():
            setattr(cls, name, fn)
        nn.Adam.step = adam_step
    phases = {name: seconds / repeat for name, seconds in totals.items()}
    phases["other (Python, graph, losses)"] = wall / repeat - sum(phases.values())
    phases["data loading (one batch, not overlapped)"] = _data_seconds(a.shape[-1])
    return phases


def _time_call(totals, name, fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    totals[name] += time.perf_counter() - t0
    return out


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _data_seconds(size, n=5):
    """Decode + jitter of one facades pair (synthetic if the data is absent)."""
    try:
        dataset = AlignedDataset("datasets/facades", "train", load_size=size * 286 // 256,
                                 crop_size=size)
    except DataError:
        dataset = SyntheticFacades(n=n, size=size)
    t0 = time.perf_counter()
    for i in range(n):
        dataset.get(i, np.random.default_rng(i))
    return (time.perf_counter() - t0) / n


def print_profile(phases):
    total = sum(phases[k] for k in phases if not k.startswith("data"))
    for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        share = f"{100 * seconds / total:5.1f}%" if not name.startswith("data") else "  (overlapped by the prefetch thread)"
        print(f"  {name:<42}{seconds * 1000:9.1f} ms  {share}")
    print(f"  {'total per iteration':<42}{total * 1000:9.1f} ms")
