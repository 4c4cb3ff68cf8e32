"""Synchronized batch norm: N ranks holding slices of one batch compute what batch norm
computes on the whole batch, forward and backward. These tests grade exercise 12.1.

The ranks are threads of this process (distributed.ThreadRanks): the same all-reduce
call as under MPI, no MPI needed. The MPI runs are in tests/pix2pix/training/.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
from pix2pix.training.distributed import ThreadRanks

QUANTITIES = ("output", "dx", "dgamma", "dbeta", "running mean", "running variance")


def whole_batch(x, upstream, gamma, beta):
    """Batch norm on the whole batch in one process, by quantity."""
    X, G, B = (nn.Tensor(a.copy(), requires_grad=True) for a in (x, gamma, beta))
    running = (np.zeros(x.shape[1]), np.ones(x.shape[1]))
    y = F.batch_norm(X, G, B, *running)
    (y * nn.Tensor(upstream)).sum().backward()
    return dict(zip(QUANTITIES, (y.data, X.grad, G.grad, B.grad, *running)))


def split_over_ranks(SyncBN, x, upstream, gamma, beta, n_ranks):
    """The same batch split over n_ranks, each rank running SyncBN on every N-th sample
    (as the loader shards). Returns, by quantity, what the ranks give together: outputs
    and dx reassembled, dgamma and dbeta summed over the ranks (the gradient all-reduce),
    and the list of every rank's running statistics."""
    def rank_step(rank):
        sl = slice(rank.rank, None, n_ranks)
        X, G, B = (nn.Tensor(a.copy(), requires_grad=True) for a in (x[sl], gamma, beta))
        running = (np.zeros(x.shape[1]), np.ones(x.shape[1]))
        y = SyncBN.apply(X, G, B, *running, rank.allreduce_sum, momentum=0.1, eps=1e-5)
        (y * nn.Tensor(upstream[sl])).sum().backward()
        return y.data, X.grad, G.grad, B.grad, running

    results = ThreadRanks(n_ranks).run(rank_step)
    merged = {"output": np.empty_like(x), "dx": np.empty_like(x)}
    for r, (y, dx, *_) in enumerate(results):
        merged["output"][r::n_ranks], merged["dx"][r::n_ranks] = y, dx
    merged["dgamma"] = sum(r[2] for r in results)
    merged["dbeta"] = sum(r[3] for r in results)
    merged["running mean"] = [r[4][0] for r in results]
    merged["running variance"] = [r[4][1] for r in results]
    return merged


@pytest.mark.exercise("12.1", "{quantity} over {n_ranks} ranks = batch norm of the whole "
                              "batch")
@pytest.mark.parametrize("n_ranks", [2, 3])
@pytest.mark.parametrize("quantity", QUANTITIES)
def test_ranks_together_compute_batch_norm_of_the_whole_batch(implementation, n_ranks,
                                                              quantity, rng):
    """float64, a random upstream gradient (never all-ones), channels whose samples
    differ in mean (so that averaging per-rank statistics would show). The running
    statistics must be the whole batch's on every rank."""
    x = rng.standard_normal((6, 3, 4, 5)) * 2 + rng.standard_normal((6, 3, 1, 1)) * 3
    upstream = rng.standard_normal(x.shape)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    want = whole_batch(x, upstream, gamma, beta)[quantity]
    got = split_over_ranks(implementation, x, upstream, gamma, beta, n_ranks)[quantity]
    for value in got if isinstance(got, list) else [got]:
        assert nn.rel_error(value, want).max() < 1e-10


@pytest.mark.exercise("12.1", "gradients with one rank (gradient check)")
def test_one_rank_gradients_match_finite_differences(implementation, rng):
    """With an identity all-reduce (one rank) the Function's backward is checked by
    centered differences in float64."""
    x = rng.standard_normal((3, 2, 3, 3)) + 0.5
    gamma, beta = rng.standard_normal(2), rng.standard_normal(2)
    inputs = [nn.Tensor(a, requires_grad=True) for a in (x, gamma, beta)]

    def fn(x, g, b):
        return implementation.apply(x, g, b, None, None, lambda a: a, momentum=0.1, eps=1e-5)

    assert nn.gradcheck(fn, inputs)


@pytest.mark.exercise("12.1", "the error for one value per channel over all ranks")
def test_one_value_per_channel_over_all_ranks_is_refused(implementation):
    x = nn.Tensor(np.ones((1, 2, 1, 1)))
    with pytest.raises(ValueError):
        implementation.apply(x, nn.Tensor(np.ones(2)), nn.Tensor(np.zeros(2)), None, None,
                             lambda a: a, momentum=0.1, eps=1e-5)


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


def test_the_layer_uses_its_allreduce_in_training_only(rng):
    """With an all-reduce set, training mode goes through it (a doubling all-reduce, as
    if a second rank held the same images, leaves the statistics unchanged but doubles
    the count); eval mode uses the running statistics and calls nothing."""
    calls = []

    def doubling(a):
        calls.append(a.shape)
        return 2 * a

    layer = nn.SyncBatchNorm2d(3, dtype=np.float64, allreduce=doubling)
    x = nn.Tensor(rng.standard_normal((2, 3, 4, 4)))
    np.testing.assert_allclose(layer(x).data, nn.BatchNorm2d(3, dtype=np.float64)(x).data,
                               rtol=1e-10, atol=1e-12)
    assert calls == [(7,)]
    layer.eval()
    layer(x)
    assert calls == [(7,)]
