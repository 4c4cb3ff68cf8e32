"""Synchronized batch norm: N ranks holding slices of one batch compute what batch norm
computes on the whole batch, forward and backward.

The ranks are threads of this process (distributed.ThreadRanks): the same all-reduce
call as under MPI, no MPI needed. The MPI runs are in tests/pix2pix/training/.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
from pix2pix.training.distributed import ThreadRanks


def whole_batch(x, upstream, gamma, beta):
    """Batch norm on the whole batch in one process: output, dx, dgamma, dbeta, running."""
    X, G, B = (nn.Tensor(a.copy(), requires_grad=True) for a in (x, gamma, beta))
    running = (np.zeros(x.shape[1]), np.ones(x.shape[1]))
    y = F.batch_norm(X, G, B, *running)
    (y * nn.Tensor(upstream)).sum().backward()
    return y.data, X.grad, G.grad, B.grad, running


def split_over_ranks(x, upstream, gamma, beta, n_ranks):
    """The same batch split over n_ranks, each rank running sync_batch_norm on its slice.
    dgamma and dbeta are summed over the ranks (the data-parallel gradient all-reduce)."""
    def rank_step(rank):
        sl = slice(rank.rank, None, n_ranks)  # every N-th sample, as the loader shards
        X, G, B = (nn.Tensor(a.copy(), requires_grad=True) for a in (x[sl], gamma, beta))
        running = (np.zeros(x.shape[1]), np.ones(x.shape[1]))
        y = F.sync_batch_norm(X, G, B, *running, rank.allreduce_sum)
        (y * nn.Tensor(upstream[sl])).sum().backward()
        return y.data, X.grad, G.grad, B.grad, running

    results = ThreadRanks(n_ranks).run(rank_step)
    merged_y, merged_dx = np.empty_like(x), np.empty_like(x)
    for r, (y, dx, *_) in enumerate(results):
        merged_y[r::n_ranks], merged_dx[r::n_ranks] = y, dx
    return (merged_y, merged_dx, sum(r[2] for r in results), sum(r[3] for r in results),
            [r[4] for r in results])


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_ranks_together_compute_batch_norm_of_the_whole_batch(n_ranks, rng):
    x = rng.standard_normal((6, 3, 4, 5)) * 2 + 1.5      # float64, away from zero mean
    upstream = rng.standard_normal(x.shape)               # random: never all-ones
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    want = whole_batch(x, upstream, gamma, beta)
    got = split_over_ranks(x, upstream, gamma, beta, n_ranks)
    for name, w, g in zip(("output", "dx", "dgamma", "dbeta"), want, got):
        assert nn.rel_error(g, w).max() < 1e-10, name
    for running in got[4]:  # the same running statistics on every rank
        for w, g in zip(want[4], running):
            assert nn.rel_error(g, w).max() < 1e-10


def test_one_rank_gradients_match_finite_differences(rng):
    """With an identity all-reduce (one rank) the Function's backward is checked by
    centered differences in float64."""
    x = rng.standard_normal((3, 2, 3, 3)) + 0.5
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    inputs = [nn.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]

    def fn(x, g, b):
        return F.sync_batch_norm(x, g, b, None, None, lambda a: a)

    assert nn.gradcheck(fn, inputs)


def test_in_one_process_the_layer_is_exactly_batch_norm(rng):
    """No all-reduce set (a plain run): SyncBatchNorm2d is BatchNorm2d, bit for bit."""
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    upstream = nn.Tensor(rng.standard_normal(x.shape).astype(np.float32))
    outputs = []
    for layer in (nn.BatchNorm2d(4), nn.SyncBatchNorm2d(4)):
        X = nn.Tensor(x.copy(), requires_grad=True)
        (layer(X) * upstream).sum().backward()
        outputs.append((layer(nn.Tensor(x)).data, X.grad, layer.weight.grad,
                        layer.running_var))
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


def test_one_value_per_channel_over_all_ranks_is_refused():
    def rank_step(rank):
        x = nn.Tensor(np.ones((1, 2, 1, 1)))
        F.sync_batch_norm(x, nn.Tensor(np.ones(2)), nn.Tensor(np.zeros(2)), None, None,
                          lambda a: a)

    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ThreadRanks(1).run(rank_step)
