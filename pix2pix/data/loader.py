"""Minibatches with deterministic order and jitter, optionally prefetched in a thread.

Every random choice is a function of (seed, epoch, position): the order of epoch e is
default_rng([seed, e]).permutation(n) and the jitter of the sample at position i is drawn
from default_rng([seed, e, i]). So batches do not depend on threads, and resuming inside an
epoch (iter_from(k)) gives exactly the batches a full epoch would have given from batch k.
With several processes (rank r of world_size N), rank r takes the positions r, r + N,
r + 2N, ... of that one order (padded with its start to a multiple of N, as PyTorch's
DistributedSampler does): batch k of all ranks together is batch k of one process with
N times the batch size, jitter included.
"""
import functools
import queue
import threading
import time

import numpy as np

_END = object()  # marks the end of an epoch in the prefetch queue


class _Raised:
    """Carries an exception from the prefetch thread to the main thread."""

    def __init__(self, exc):
        self.exc = exc


class DataLoader:
    """Iterate over a dataset with get(index, rng) in batches.

    Each batch: dict(A=(N, 3, H, W) float32, B=(N, 3, H, W) float32, paths=list of N str).
    len(loader) is the number of batches; the last one may be smaller (drop_last=False).
    wait_seconds accumulates the time the consumer spent waiting for data.
    """

    def __init__(self, dataset, batch_size=1, shuffle=True, seed=0, epoch=0, prefetch=True,
                 rank=0, world_size=1):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.rank, self.world_size = rank, world_size
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.prefetch = prefetch
        self.wait_seconds = 0.0

    def __len__(self):
        per_rank = -(-len(self.dataset) // self.world_size)
        return -(-per_rank // self.batch_size)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def order(self, epoch=None):
        """Dataset indices in the order of the given (default: current) epoch."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def shard(self, epoch=None):
        """(dataset indices, their positions in the epoch's order) that this rank takes."""
        order = self.order(epoch)
        per_rank = -(-len(order) // self.world_size)
        positions = np.arange(self.rank, per_rank * self.world_size, self.world_size)
        return order[positions % len(order)], positions

    def _load_batch(self, shard, epoch, batch_index):
        """Decode and jitter one batch; depends only on (seed, epoch, batch_index, rank)."""
        indices, positions = shard
        start = batch_index * self.batch_size
        items = [self.dataset.get(int(indices[i]),
                                  rng=np.random.default_rng([self.seed, epoch, int(positions[i])]))
                 for i in range(start, min(start + self.batch_size, len(indices)))]
        return {"A": np.stack([item["A"] for item in items]),
                "B": np.stack([item["B"] for item in items]),
                "paths": [item["path"] for item in items]}

    def __iter__(self):
        return self.iter_from(0)

    def iter_from(self, start_batch=0):
        """Yield the current epoch's batches from start_batch on; skipped ones are not loaded."""
        epoch = self.epoch  # fixed now, so set_epoch() during iteration cannot mix epochs
        load = functools.partial(self._load_batch, self.shard(epoch), epoch)
        batches = range(start_batch, len(self))
        if self.prefetch:
            return self._iter_prefetch(load, batches)
        return self._iter_plain(load, batches)

    def _iter_plain(self, load, batches):
        for b in batches:
            t0 = time.perf_counter()
            batch = load(b)
            self.wait_seconds += time.perf_counter() - t0
            yield batch

    def _iter_prefetch(self, load, batches):
        # A queue of 2: the thread prepares the next batch while the caller trains on this one.
        q = queue.Queue(maxsize=2)
        stop = threading.Event()

        def put(item):
            # Give up when the consumer has gone, instead of blocking forever on a full queue.
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return
                except queue.Full:
                    pass

        def work():
            try:
                for b in batches:
                    if stop.is_set():
                        return
                    put(load(b))
                put(_END)
            except BaseException as exc:  # noqa: BLE001 -- handed to the main thread
                put(_Raised(exc))

        thread = threading.Thread(target=work, name="DataLoader-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                t0 = time.perf_counter()
                item = q.get()
                self.wait_seconds += time.perf_counter() - t0
                if item is _END:
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
        finally:
            # Runs on normal end, on error, and when the consumer breaks or closes the generator.
            stop.set()
            thread.join()
