"""Data-parallel training under `mpiexec -n 2`: the equivalence that makes it correct
(2 ranks x batch 1 = 1 process x batch 2), and the faults (a rank dies, a signal, other
data). Small nets (unet_32, a few iterations): the whole file runs in well under a minute.

Needs the distributed extra; without it this file is skipped with the line to install it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nn
from pix2pix.data.synthetic import save_synthetic
from pix2pix.models import define_D, define_G
from pix2pix.training.distributed import ThreadRanks, average_gradients
from tests.paths import REPO

pytest.importorskip("mpi4py", reason='MPI tests need: pip install -e ".[distributed]"')
if shutil.which("mpiexec") is None:
    pytest.skip('no mpiexec: pip install -e ".[distributed]" brings MPICH\'s',
                allow_module_level=True)

TINY = ["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32", "--load_size",
        "36", "--ngf", "8", "--ndf", "8", "--num_samples", "1", "--no_progress",
        "--num_threads", "0", "--save_epoch_freq", "100"]

# The training command with two test hooks: no loss plot (slow), and rank 1 failing at
# its 4th iteration when the first argument says how ("kill": SIGKILL, "raise": an error).
CHILD = r"""
import os, signal, sys
import pix2pix.training.loop as train
from pix2pix.models.pix2pix_model import Pix2Pix

fail, real_step, calls = sys.argv[1], Pix2Pix.train_step, [0]

def train_step(self, real_A, real_B):
    calls[0] += 1
    if fail != "none" and os.environ.get("PMI_RANK") == "1" and calls[0] == 4:
        if fail == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError("rank 1 fails on purpose")
    return real_step(self, real_A, real_B)

Pix2Pix.train_step = train_step
train.plot_losses = lambda *args, **kwargs: None
sys.exit(train.main(sys.argv[2:]))
"""


def env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def command(processes, *args, fail="none"):
    python = [sys.executable, "-c", CHILD, fail, *TINY, *args]
    return ["mpiexec", "-n", str(processes), *python] if processes > 1 else python


def train(processes, *args, fail="none", timeout=120):
    return subprocess.run(command(processes, *args, fail=fail), cwd=REPO, env=env(),
                          capture_output=True, text=True, timeout=timeout)


def weights(run_dir):
    return {k: v for k, v in nn.load(run_dir / "latest.npz").items()
            if k.startswith(("G.", "D."))}


def worst_relative_difference(a, b, skip=()):
    """max over tensors of max|a - b| / max|b|."""
    return max(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max() for k in b if k not in skip)


def trained_pair(tmp_path, norm_2_ranks, norm_1_process, iters=3):
    """(weights of mpiexec -n 2 with --batch_size 1, of one process with --batch_size 2)."""
    common = ["--checkpoints_dir", str(tmp_path), "--no_dropout", "--max_iters", str(iters)]
    two = train(2, *common, "--name", "two", "--norm", norm_2_ranks, "--batch_size", "1")
    one = train(1, *common, "--name", "one", "--norm", norm_1_process, "--batch_size", "2")
    assert two.returncode == 0 and one.returncode == 0, two.stderr + one.stderr
    assert "processes: 2, batch per process: 1, effective batch: 2" in two.stdout
    return weights(tmp_path / "two"), weights(tmp_path / "one")


def biases_before_instance_norm(norm="instance"):
    """State names of the conv biases that feed an InstanceNorm2d: instance norm subtracts
    the mean, so their gradient is 0 in exact arithmetic, and Adam turns the round-off
    that is left into steps of +-lr in either run. Those are not compared."""
    names = []
    for prefix, net in (("G", define_G("unet_32", ngf=8, norm=norm, use_dropout=False)),
                        ("D", define_D("basic", 6, 8, norm=norm))):
        modules = list(net.named_modules())  # depth first: a block's conv, then its norm
        for (name, conv), (_, after) in zip(modules, modules[1:]):
            if isinstance(after, nn.InstanceNorm2d) and getattr(conv, "bias", None):
                names.append(f"{prefix}.{name}.bias")
    return names


def test_two_ranks_with_syncbatch_train_what_one_process_trains_with_twice_the_batch(
        tmp_path):
    """The heart of it: 3 iterations, G and D weights equal to float32 round-off (after
    Adam, which divides small gradients by their own size). Measured: 9.8e-5."""
    two, one = trained_pair(tmp_path, "syncbatch", "batch")
    assert worst_relative_difference(two, one) < 1e-3


def test_two_ranks_without_sync_differ_as_the_ports_users_saw(tmp_path):
    """--norm batch on 2 ranks normalises each image by itself (batch-1 statistics):
    another model. Measured: a worst relative difference of 1.9, vs 1e-4 synchronized."""
    two, one = trained_pair(tmp_path, "batch", "batch")
    assert worst_relative_difference(two, one) > 0.1


def test_gradient_average_alone_with_instance_norm(tmp_path):
    """Instance norm has nothing to synchronise: the all-reduced gradient alone makes
    2 x 1 equal 1 x 2. Measured: 1.5e-4."""
    two, one = trained_pair(tmp_path, "instance", "instance")
    skip = biases_before_instance_norm()
    assert len(skip) > 5 and all(k in one for k in skip)
    assert worst_relative_difference(two, one, skip) < 1e-3


def test_every_rank_holds_the_same_weights_and_rank_0_writes(tmp_path):
    """No rank ever steps on different gradients: after training, rank 1's networks are
    bit-identical to rank 0's checkpoint (compared through MPI)."""
    script = r"""
import sys
import numpy as np
import pix2pix.training.loop as train
from pix2pix.options.common import parse_train_options
from pix2pix.training.distributed import processes
train.plot_losses = lambda *args, **kwargs: None
group = processes()
trainer = train.Trainer(parse_train_options(sys.argv[1:])[0], group)
trainer.start()
trainer.run()
arrays = [a for net in trainer.model.networks().values() for a in net.state_dict().values()]
flat = np.concatenate([a.ravel() for a in arrays])
assert (np.array(group.allgather(flat)) == flat).all(), "ranks differ"
print("IDENTICAL", flush=True)
"""
    run = subprocess.run(["mpiexec", "-n", "2", sys.executable, "-c", script, *TINY,
                          "--checkpoints_dir", str(tmp_path), "--name", "same",
                          "--max_iters", "4", "--norm", "syncbatch"],
                         cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("IDENTICAL") == 2
    assert sorted(p.name for p in (tmp_path / "same").glob("*.npz")) == ["latest.npz"]


def test_a_plain_run_never_imports_mpi4py(tmp_path):
    """One process (no mpiexec): nothing changes, even with the extra installed."""
    script = ("import sys, pix2pix.training.loop as t; t.plot_losses = lambda *a, **k: None; "
              "code = t.main(sys.argv[1:]); assert 'mpi4py' not in sys.modules, 'imported'; "
              "sys.exit(code)")
    run = subprocess.run([sys.executable, "-c", script, *TINY, "--checkpoints_dir",
                          str(tmp_path), "--max_iters", "1"],
                         cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "processes: 1, batch per process: 1, effective batch: 1" in run.stdout


def test_average_gradients_sends_one_flat_buffer_and_averages_this_nets_losses():
    """One all-reduce for all of a network's gradients and its losses together; the other
    net's losses are left alone (they were averaged at its own step)."""
    def rank_step(rank):
        calls = []

        class Counting:
            size = rank.size

            def allreduce_sum(self, array):
                calls.append(array.size)
                return rank.allreduce_sum(array)

        params = [nn.Parameter(np.full((2, 3), rank.rank + 1.0)), nn.Parameter(np.zeros(4))]
        for p in params:
            p.grad = p.data * 2
        losses = {"D_real": float(rank.rank), "G_L1": float(rank.rank)}
        average_gradients(Counting(), params, losses, "D")
        return calls, params[0].grad, losses

    for calls, grad, losses in ThreadRanks(2).run(rank_step):
        assert calls == [10 + 1]
        np.testing.assert_array_equal(grad, np.full((2, 3), 3.0))  # (2 + 4) / 2
        assert losses["D_real"] == 0.5 and losses["G_L1"] in (0.0, 1.0)


@pytest.mark.parametrize("fail", ["kill", "raise"])
def test_a_failing_rank_stops_the_others_and_the_checkpoint_loads(tmp_path, fail):
    started = time.monotonic()
    run = train(2, "--checkpoints_dir", str(tmp_path), "--name", "f", "--max_iters", "50",
                "--save_latest_freq", "2", fail=fail, timeout=60)
    assert run.returncode != 0
    assert time.monotonic() - started < 30
    meta = nn.load(tmp_path / "f" / "latest.npz")
    assert "meta" in meta and "G.final.conv.weight" in meta


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_mpiexec_saves_once_and_exits_as_one_process_does(tmp_path, signum):
    proc = subprocess.Popen(command(2, "--checkpoints_dir", str(tmp_path), "--name", "s",
                                    "--max_iters", "100000", "--save_latest_freq", "100000"),
                            cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    log = tmp_path / "s" / "loss_log.jsonl"
    deadline = time.monotonic() + 60
    while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert out.count("stopped by signal: saved") == 1
    resumed = train(2, "--checkpoints_dir", str(tmp_path), "--name", "s", "--continue_train",
                    "--max_iters", str(int(out.split("iteration ")[-1].split(".")[0]) + 1))
    assert resumed.returncode == 0, resumed.stderr


def test_a_rank_with_other_data_is_refused_before_training(tmp_path):
    """MPMD launch: rank 1 reads a folder with another number of images."""
    for name, count in (("a", 4), ("b", 3)):
        save_synthetic(tmp_path / name / "train", count, size=40)
    rank = [sys.executable, "-c", CHILD, "none", *TINY, "--checkpoints_dir", str(tmp_path),
            "--name", "d", "--max_iters", "2"]
    run = subprocess.run(["mpiexec", "-n", "1", *rank, "--dataroot", str(tmp_path / "a"), ":",
                          "-n", "1", *rank, "--dataroot", str(tmp_path / "b")],
                         cwd=REPO, env=env(), capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "the processes see different data" in run.stderr
    assert not (tmp_path / "d" / "latest.npz").exists()


def test_resume_with_other_processes_inside_an_epoch_is_refused_at_its_end_allowed(tmp_path):
    common = ["--checkpoints_dir", str(tmp_path), "--name", "r", "--n_epochs", "2",
              "--n_epochs_decay", "0"]
    assert train(2, *common, "--max_iters", "1").returncode == 0   # inside epoch 1
    meta = json.loads(str(nn.load(tmp_path / "r" / "latest.npz")["meta"]))
    streams = meta["dropout_rngs"]                                  # every rank's own
    assert meta["options"]["processes"] == 2 and len(streams) == 2
    assert streams[0] != streams[1] and streams[0] == meta["dropout_rng"]
    refused = train(1, *common, "--continue_train")
    assert refused.returncode == 2 and "2 process(es)" in refused.stderr
    assert train(2, *common, "--continue_train").returncode == 0    # to the end
    assert train(1, *common, "--n_epochs", "3", "--continue_train").returncode == 0


def test_a_resumed_rank_gets_its_own_saved_dropout_stream(tmp_path):
    """Rank 1 of 2 (a stand-in group: the collectives of a rank whose peer agrees) takes
    its own saved stream from the checkpoint; rank 0's is the single-process one."""
    from pix2pix.options.common import parse_train_options
    from pix2pix.training.distributed import OneProcess
    from pix2pix.training.loop import Trainer

    class RankOneOfTwo(OneProcess):
        rank, size = 1, 2

        def allgather(self, value):
            return [value, value]

    opt = parse_train_options([*TINY, "--checkpoints_dir", str(tmp_path)])[0]
    trainer = Trainer(opt, RankOneOfTwo())
    saved = [np.random.default_rng([7, r]).bit_generator.state for r in range(2)]
    trainer._restore_dropout_stream({"dropout_rngs": saved})
    assert trainer.model.netG.dropout_generator.bit_generator.state == saved[1]


@pytest.mark.needs_torch
def test_the_benchmark_prints_every_row_with_a_time(capsys):
    """The README's data-parallel table comes from this command: tiny nets, one round."""
    pytest.importorskip("torch")
    from pix2pix.benchmarks.data_parallel import main
    assert main(["--size", "32", "--width", "4", "--repeat", "1", "--warmup", "0",
                 "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("ours", "PyTorch"))]
    assert [row.split(",")[0] for row in rows] == ["ours"] * 3 + ["PyTorch DDP gloo", "PyTorch"]
    numbers = [[float(v) for v in row.split()[-4:]] for row in rows]  # s/it, images/s, ratios
    assert all(seconds > 0 and images > 0 for seconds, images, _, _ in numbers)
    assert numbers[3][2] == 1.0 and numbers[0][3] == 1.0  # DDP and our 1 process: the bases
