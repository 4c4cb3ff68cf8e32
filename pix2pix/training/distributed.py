"""Data-parallel training on several processes: `mpiexec -n N python train.py ...`.

Horovod's and PyTorch DDP's recipe, on MPI through mpi4py: rank 0's weights are broadcast
once; each rank trains on its share of one seeded global order; before each optimizer step
the gradients are averaged with one all-reduce of a flat buffer per network, so every rank
takes the same step; every decision (NaN guard, stop on a signal) is taken on reduced
values; only rank 0 writes files. In one process (`python train.py`) none of this runs and
mpi4py is never imported. lessons/12_data_parallel.py derives why it trains the same model.
"""
import ctypes
import os
import threading

import numpy as np

import nn
from nn.flat import flatten, unflatten
from pix2pix.options.port import processes_from_environment

INSTALL = 'pip install -e ".[distributed]"'


class OneProcess:
    """The plain run: rank 0 of 1; every collective is the identity."""
    rank, size, local_rank, cuda_aware = 0, 1, 0, False

    def allreduce_sum(self, array):
        return array

    def any(self, flag):
        return bool(flag)

    def allgather(self, value):
        return [value]

    def broadcast(self, value):
        return value

    def broadcast_networks(self, networks):
        pass

    def barrier(self):
        pass

    def abort(self, code):
        pass


class MPIProcesses:
    """The ranks of an MPI communicator (mpi4py's COMM_WORLD by default)."""

    def __init__(self, comm, mpi):
        self.comm, self.mpi = comm, mpi
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        # This rank's number among those on its node: it picks the node's GPU.
        self.local_rank = comm.Split_type(mpi.COMM_TYPE_SHARED).Get_rank()
        self.cuda_aware = cuda_aware(mpi)

    def allreduce_sum(self, array):
        """The element-wise sum of ``array`` over the ranks (NumPy or CuPy, any shape)."""
        def reduce(buffer):
            total = nn.get_array_module(buffer).empty(buffer.shape, dtype=buffer.dtype)
            self.comm.Allreduce(buffer, total, op=self.mpi.SUM)
            return total
        return self._through_mpi(nn.get_array_module(array).ascontiguousarray(array), reduce)

    def _through_mpi(self, array, call):
        """call(buffer) -> an array, on ``array`` as this MPI can read it. A device array
        goes down to host memory and the result back up (one copy each way) unless MPI
        is CUDA-aware: then MPI reads device memory itself, once the kernels writing it
        are done (MPI does not wait on CuPy's stream)."""
        if nn.backend.device_of(array) != "cuda":
            return call(array)
        if not self.cuda_aware:
            return nn.to_device(call(nn.to_numpy(array)), "cuda")
        nn.backend.synchronize("cuda")
        return call(array)

    def any(self, flag):
        """True on every rank when ``flag`` is true on at least one (a stop request)."""
        return bool(self.comm.allreduce(bool(flag), op=self.mpi.LOR))

    def allgather(self, value):
        return self.comm.allgather(value)

    def broadcast(self, value):
        """Rank 0's ``value`` (a Python object) on every rank."""
        return self.comm.bcast(value, root=0)

    def broadcast_networks(self, networks):
        """Rank 0's parameters and buffers, copied in place into every rank's networks
        (one broadcast of a flat buffer per network)."""
        def broadcast(buffer):
            self.comm.Bcast(buffer, root=0)
            return buffer
        for net in networks.values():
            arrays = list(net.state_dict().values())
            flat = self._through_mpi(flatten(arrays), broadcast)
            for array, value in zip(arrays, unflatten(flat, [a.shape for a in arrays])):
                array[...] = value

    def barrier(self):
        self.comm.Barrier()

    def abort(self, code):
        """Stop every rank now (one rank failed; the others would wait for it forever)."""
        self.comm.Abort(code)


class ThreadRanks:
    """N ranks as threads of one process, for lessons and tests without MPI.

    ranks.run(fn) calls fn(rank) on N threads at once, where rank has .rank, .size and
    .allreduce_sum(array) (the same call as MPIProcesses'), and returns the N results.
    """

    def __init__(self, size):
        self.size = size
        self._barrier = threading.Barrier(size)
        self._slots = [None] * size

    def run(self, fn):
        results, errors = [None] * self.size, []

        def work(rank):
            try:
                results[rank] = fn(_ThreadRank(self, rank))
            except BaseException as e:  # noqa: BLE001 -- re-raised below
                errors.append(e)
                self._barrier.abort()  # the other ranks stop waiting for this one

        threads = [threading.Thread(target=work, args=(r,)) for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results

    def _allreduce_sum(self, rank, array):
        self._slots[rank] = array
        self._barrier.wait()  # every rank has put its array
        total = sum(self._slots[1:], self._slots[0].copy())  # one order: equal on all
        self._barrier.wait()  # every rank has read them all
        return total


class _ThreadRank:
    def __init__(self, ranks, rank):
        self.ranks, self.rank, self.size = ranks, rank, ranks.size

    def allreduce_sum(self, array):
        return self.ranks._allreduce_sum(self.rank, array)


def cuda_aware(mpi):
    """Whether the MPI library mpi4py loaded takes GPU memory (MPIX_Query_cuda_support, an
    extension of Open MPI and MPICH). If not, CuPy arrays are staged through host memory."""
    try:
        return bool(ctypes.CDLL(mpi.__file__).MPIX_Query_cuda_support())
    except (OSError, AttributeError):  # not found: assume it does not
        return False


def how_arrays_travel(group, device):
    """The start line's note on how the all-reduces carry device arrays ("" on the CPU or
    in one process): MPI reads GPU memory itself only when it is CUDA-aware."""
    if group.size <= 1 or device != "cuda":
        return ""
    if group.cuda_aware:
        return ", all-reduce: device buffers passed to MPI (CUDA-aware MPI)"
    return ", all-reduce: staged through host memory (MPI not CUDA-aware)"


def processes():
    """OneProcess, or MPIProcesses when started by mpiexec with more than one process."""
    if processes_from_environment() <= 1:
        return OneProcess()
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(f"started by mpiexec with {processes_from_environment()} processes, "
                           f"but mpi4py is not installed: {INSTALL}") from None
    return MPIProcesses(MPI.COMM_WORLD, MPI)


def average_gradients(group, params, losses, net_name):
    """Replace each gradient by its mean over the ranks, and the losses of ``net_name``
    ("D_real", ... for "D") by theirs, so that every rank steps on the same gradient and
    sees the same losses: one all-reduce of one flat buffer, gradients then losses. On a
    GPU the losses (0-d device arrays) never leave it: _read_back reads them later."""
    params = [p for p in params if p.grad is not None]
    grads = [p.grad for p in params]
    names = sorted(k for k in losses if k.startswith(net_name + "_"))
    xp = nn.get_array_module(*grads)
    loss_values = [xp.asarray(losses[k], dtype=grads[0].dtype) for k in names]
    flat = group.allreduce_sum(flatten(grads + loss_values))
    flat /= group.size
    for p, mean in zip(params, unflatten(flat, [g.shape for g in grads])):
        p.grad = mean                                       # a view of flat: no copy
    loss_means = flat[flat.size - len(names):]
    losses.update({k: loss_means[i] for i, k in enumerate(names)})  # on the device, 0-d


def connect(model, group, seed):
    """Wire ``model`` to the ranks: rank 0's weights on all, synchronized batch norm,
    gradient averaging, and rank r's own dropout noise (seed, r)."""
    if group.size == 1:
        return
    for net in model.networks().values():
        for module in net.modules():
            if isinstance(module, nn.SyncBatchNorm2d):
                module.allreduce = group.allreduce_sum
    model.average_gradients = lambda params, losses, net_name: average_gradients(
        group, params, losses, net_name)
    group.broadcast_networks(model.networks())
    if group.rank > 0:  # rank 0 keeps the stream of a single-process run
        model.netG.dropout_generator.bit_generator.state = dropout_stream(seed, group.rank)


def dropout_stream(seed, rank):
    """Rank r's dropout generator state, derived from (seed, rank)."""
    return np.random.default_rng([seed, 1, rank]).bit_generator.state


def use_own_share(opt, group):
    """This rank's share of the machine. --device cuda: GPU --gpu_ids[local rank], or the
    local rank's GPU. CPU: cores / N BLAS threads unless the user chose (OMP_NUM_THREADS,
    ...), since N ranks with all cores each would fight over them. Returns the number of
    threads set, or None."""
    if group.size <= 1:
        return None
    if opt.device == "cuda":
        ids = [int(i) for i in str(opt.gpu_ids or "").split(",") if i.strip()]
        if len(ids) > 1 and group.local_rank >= len(ids):
            raise RuntimeError(f"--gpu_ids {opt.gpu_ids} names {len(ids)} GPUs for more "
                               "processes on this node: list one GPU per process")
        nn.backend.select_gpu(ids[group.local_rank] if len(ids) > 1 else group.local_rank)
        return None
    chosen = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    if any(os.environ.get(v) for v in chosen):
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    threads = max(1, (os.cpu_count() or 1) // group.size)
    threadpool_limits(threads, user_api="blas")
    return threads
