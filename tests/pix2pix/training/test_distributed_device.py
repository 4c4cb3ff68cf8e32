"""Data parallel with device (CuPy) arrays: the collectives of distributed.py on the GPU
path, under the strict CuPy stand-in (nn/testing/strict_cupy.py: CuPy's rules and
counters on the CPU). A run on real GPUs is still to be made.

- ranks as threads (no MPI): synchronized batch norm and the gradient average on device
  arrays give what they give on NumPy;
- MPIProcesses with a stand-in communicator: staged through host memory (one copy down,
  one up per call, counted) when MPI is not CUDA-aware, device buffers passed as they are
  when it is;
- a real `mpiexec -n 2` run with --device cuda trains the weights the CPU run trains.
"""
import types

import numpy as np
import pytest

import nn
from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.training.distributed import MPIProcesses, ThreadRanks, average_gradients


def on(device, array):
    return nn.to_device(np.asarray(array, dtype=np.float32), device)


# --- ranks as threads -----------------------------------------------------------------
def sync_batch_norm_on_ranks(device, x, upstream, n_ranks=2):
    """Each rank runs SyncBatchNorm2d on every n-th sample of x (forward and backward);
    returns per rank (y, dx, dgamma, dbeta, running mean, running var) as NumPy arrays."""
    def rank_step(rank):
        norm = nn.SyncBatchNorm2d(x.shape[1], allreduce=rank.allreduce_sum).to(device)
        norm.weight.data[...] = on(device, np.linspace(0.5, 2, x.shape[1]))
        X = nn.Tensor(on(device, x[rank.rank::n_ranks]), requires_grad=True)
        y = norm(X)
        (y * nn.Tensor(on(device, upstream[rank.rank::n_ranks]))).sum().backward()
        return [nn.to_numpy(a) for a in (y.data, X.grad, norm.weight.grad, norm.bias.grad,
                                         norm.running_mean, norm.running_var)]

    return ThreadRanks(n_ranks).run(rank_step)


def test_sync_batch_norm_on_device_arrays_equals_numpy(device_xp, rng):
    x = rng.standard_normal((4, 3, 4, 5)) * 2 + rng.standard_normal((4, 3, 1, 1)) * 3
    upstream = rng.standard_normal(x.shape)
    on_device = sync_batch_norm_on_ranks("cuda", x, upstream)
    on_host = sync_batch_norm_on_ranks("cpu", x, upstream)
    for rank_device, rank_host in zip(on_device, on_host):
        for got, want in zip(rank_device, rank_host):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def average_on_ranks(device, n_ranks=2):
    """Every rank's (gradients, D losses, G loss) after average_gradients(..., "D"), on
    host copies; rank r's gradients are (r + 1) * base, its D losses r and 10 r."""
    base = np.arange(10, dtype=np.float32).reshape(2, 5)

    def rank_step(rank):
        params = [nn.Parameter(on(device, base)), nn.Parameter(on(device, np.ones(3)))]
        for p in params:
            p.grad = p.data * (rank.rank + 1)
        losses = {"D_real": on(device, rank.rank), "D_fake": on(device, 10 * rank.rank),
                  "G_L1": on(device, rank.rank)}
        average_gradients(rank, params, losses, "D")
        return ([nn.to_numpy(p.grad) for p in params],
                {k: float(nn.to_numpy(v)) for k, v in losses.items()})

    return ThreadRanks(n_ranks).run(rank_step)


def test_average_gradients_on_device_arrays_equals_numpy(device_xp):
    """The gradients and D's losses become their means (on the device), G's loss is left
    alone: the same numbers as on NumPy."""
    on_device, on_host = average_on_ranks("cuda"), average_on_ranks("cpu")
    for r, ((grads, losses), (host_grads, host_losses)) in enumerate(zip(on_device, on_host)):
        np.testing.assert_array_equal(grads[0], np.arange(10).reshape(2, 5) * 1.5)
        for got, want in zip(grads, host_grads):
            np.testing.assert_array_equal(got, want)
        assert losses == host_losses == {"D_real": 0.5, "D_fake": 5.0, "G_L1": r}


# --- MPIProcesses with a stand-in communicator ----------------------------------------
class TwoRankComm:
    """What MPIProcesses asks of an mpi4py communicator, for a rank of 2 whose peer holds
    the same values (Allreduce doubles) and whose rank 0's values are ours + 1 (Bcast).
    Records the type of every buffer MPI is given."""

    def __init__(self):
        self.buffers = []

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 2

    def Split_type(self, kind):
        return self

    def Allreduce(self, send, receive, op):
        self.buffers.append(type(send))
        receive[...] = send * 2

    def Bcast(self, buffer, root):
        self.buffers.append(type(buffer))
        buffer += 1


def group_with(cuda_aware):
    comm = TwoRankComm()
    group = MPIProcesses(comm, types.SimpleNamespace(COMM_TYPE_SHARED=0, SUM="sum"))
    group.cuda_aware = cuda_aware   # the stand-in's MPI library has no MPIX_Query_...
    return group, comm


@pytest.mark.parametrize("cuda_aware", [False, True], ids=["staged", "cuda-aware"])
def test_allreduce_of_a_device_array_copies_through_the_host_unless_cuda_aware(
        strict_cupy, cuda_aware):
    """Staged: one copy down (a sync) and one up per call, MPI sees a NumPy array.
    CUDA-aware: MPI gets the device buffer, after one wait for the kernels that wrote it
    (the stand-in counts a stream synchronisation as a sync), and nothing is copied."""
    group, comm = group_with(cuda_aware)
    array = on("cuda", np.arange(6).reshape(2, 3))
    strict_cupy.reset_counts()
    total = group.allreduce_sum(array)
    totals = strict_cupy.counts.totals()
    assert (totals["syncs"], totals["host_to_device"]) == ((1, 0) if cuda_aware else (1, 1))
    assert comm.buffers == [strict_cupy.ndarray if cuda_aware else np.ndarray]
    assert isinstance(total, strict_cupy.ndarray)
    np.testing.assert_array_equal(total.get(), np.arange(6).reshape(2, 3) * 2)


@pytest.mark.parametrize("cuda_aware", [False, True], ids=["staged", "cuda-aware"])
def test_sync_batch_norm_reads_the_host_only_through_its_two_all_reduces(strict_cupy,
                                                                         cuda_aware):
    """Forward and backward of a SyncBatchNorm2d layer on the device: one all-reduce each
    and no other host read (the count stays on the device); staged, each is one copy down
    and one up."""
    group, comm = group_with(cuda_aware)
    norm = nn.SyncBatchNorm2d(3, allreduce=group.allreduce_sum).to("cuda")
    x = nn.Tensor(on("cuda", np.random.default_rng(0).standard_normal((2, 3, 4, 4))),
                  requires_grad=True)
    strict_cupy.reset_counts()
    norm(x).sum().backward()
    totals = strict_cupy.counts.totals()
    assert len(comm.buffers) == 2
    assert (totals["syncs"], totals["host_to_device"]) == ((2, 0) if cuda_aware else (2, 2))


@pytest.mark.parametrize("cuda_aware", [False, True], ids=["staged", "cuda-aware"])
def test_broadcast_networks_sends_one_buffer_per_network(strict_cupy, cuda_aware):
    """Rank 0's parameters and buffers land in place in every array of both networks."""
    group, comm = group_with(cuda_aware)
    nets = {"a": nn.SyncBatchNorm2d(3).to("cuda"), "b": nn.Conv2d(2, 3, 3).to("cuda")}
    before = {(net, k): nn.to_numpy(a) for net in nets for k, a in nets[net].state_dict().items()}
    strict_cupy.reset_counts()
    group.broadcast_networks(nets)
    totals = strict_cupy.counts.totals()
    assert comm.buffers == [strict_cupy.ndarray if cuda_aware else np.ndarray] * 2
    assert (totals["syncs"], totals["host_to_device"]) == ((2, 0) if cuda_aware else (2, 2))
    for (net, k), value in before.items():
        assert isinstance(nets[net].state_dict()[k], strict_cupy.ndarray)
        np.testing.assert_array_equal(nets[net].state_dict()[k].get(), value + 1)


# --- a real mpiexec run ---------------------------------------------------------------
def test_two_ranks_on_the_device_train_what_two_ranks_on_the_cpu_train(strict_cupy, tmp_path):
    """mpiexec -n 2 with --device cuda under the stand-in (NN_STRICT_CUPY=1, set by the
    fixture, reaches the ranks): synchronized batch norm, the gradient average, the
    broadcast and the NaN guard on device arrays, staged through host memory (MPICH's
    wheel is not CUDA-aware). G and D equal the CPU run's; measured worst relative
    difference: 0 (the stand-in computes with NumPy)."""
    from tests.pix2pix.training import test_distributed as mpi  # skips without MPI
    common = ["--checkpoints_dir", str(tmp_path), "--norm", "syncbatch", "--max_iters", "3"]
    device = mpi.train(2, *common, "--name", "cuda", "--device", "cuda")
    cpu = mpi.train(2, *common, "--name", "cpu", "--device", "cpu")
    assert device.returncode == 0 and cpu.returncode == 0, device.stderr + cpu.stderr
    assert ("processes: 2, batch per process: 1, effective batch: 2, all-reduce: staged "
            "through host memory (MPI not CUDA-aware)") in device.stdout
    assert "all-reduce" not in cpu.stdout
    on_device, on_cpu = mpi.weights(tmp_path / "cuda"), mpi.weights(tmp_path / "cpu")
    assert on_device.keys() == on_cpu.keys() and len(on_cpu) > 20
    assert mpi.worst_relative_difference(on_device, on_cpu) < 1e-5
    meta, arrays = read_checkpoint(tmp_path / "cuda" / "latest.npz")
    assert meta["total_iters"] == 3 and meta["options"]["processes"] == 2
    assert meta["options"]["device"] == "cuda"
