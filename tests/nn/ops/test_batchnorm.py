"""Batch normalisation: batch statistics while training, running statistics in eval.

y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel of an (N, C, H, W) input.
pix2pix trains with batch size 1, where "batch" norm is instance norm: tested below.
"""
import numpy as np
import pytest

import nn

EPS = 1e-5


def device_of(xp):
    return "cpu" if xp is np else "cuda"


def t64(xp, values, requires_grad=False):
    return nn.Tensor(xp.asarray(np.asarray(values, dtype=np.float64)), requires_grad=requires_grad)


def test_training_normalises_with_the_batch_statistics(xp, rng):
    """Whatever the input's scale and shift, each output channel has mean beta and
    (biased) standard deviation gamma * sqrt(var / (var + eps)) ~ gamma."""
    bn = nn.BatchNorm2d(3, dtype=np.float64).to(device_of(xp))
    bn.weight.data[...] = xp.asarray([1.5, 0.5, 2.0])
    bn.bias.data[...] = xp.asarray([0.1, -1.0, 2.0])
    x = t64(xp, rng.standard_normal((4, 3, 5, 5)) * 3 + 7)
    y = nn.to_numpy(bn(x).data)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), [0.1, -1.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), [1.5, 0.5, 2.0], rtol=1e-5)


# Channel 0 holds 1, 2, 3, 4: mean 2.5, unbiased variance 5/3.
# Channel 1 holds 0, 0, 2, 2: mean 1, unbiased variance 4/3.
# Starting from mean 0 and variance 1, with momentum 0.1, after one and two steps:
RUNNING_AFTER = {
    "mean": ([0.25, 0.1], [0.9 * 0.25 + 0.25, 0.9 * 0.1 + 0.1]),
    "variance": ([0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 4 / 3],
                 [0.9 * (0.9 + 0.1 * 5 / 3) + 0.1 * 5 / 3, 0.9 * (0.9 + 0.1 * 4 / 3) + 0.1 * 4 / 3]),
}


@pytest.mark.exercise("5.1", "running {statistic}")
@pytest.mark.parametrize("statistic", ["mean", "variance"])
def test_running_statistics_use_momentum_and_the_unbiased_variance(implementation, xp,
                                                                    statistic):
    """running = (1 - momentum) * running + momentum * batch statistic, with PyTorch's
    UNBIASED batch variance (divide by count - 1) in the running variance, updated in
    place in the caller's arrays (values worked out by hand above RUNNING_AFTER)."""
    BN = implementation
    x = t64(xp, [[[[1, 2]], [[0, 0]]],
                 [[[3, 4]], [[2, 2]]]])                                # (2, 2, 1, 2)
    gamma, beta = t64(xp, [1.0, 1.0]), t64(xp, [0.0, 0.0])
    running = {"mean": xp.zeros(2), "variance": xp.ones(2)}
    for expected in RUNNING_AFTER[statistic]:
        BN.apply(x, gamma, beta, running["mean"], running["variance"], training=True,
                 momentum=0.1, eps=EPS)
        np.testing.assert_allclose(nn.to_numpy(running[statistic]), expected, rtol=1e-12)


def test_eval_uses_the_running_statistics_and_leaves_them_alone(xp, rng):
    """In eval mode the output of each sample depends only on that sample: the stored
    statistics replace the batch's, and they are not updated."""
    bn = nn.BatchNorm2d(2, dtype=np.float64).to(device_of(xp))
    bn.weight.data[...] = xp.asarray([2.0, 0.5])
    bn.bias.data[...] = xp.asarray([1.0, -1.0])
    bn.running_mean[...] = xp.asarray([0.5, -2.0])
    bn.running_var[...] = xp.asarray([4.0, 0.25])
    bn.eval()
    x_np = rng.standard_normal((3, 2, 2, 2))
    y = nn.to_numpy(bn(t64(xp, x_np)).data)
    shape = (1, 2, 1, 1)
    expected = (np.array([2.0, 0.5]).reshape(shape)
                * (x_np - np.array([0.5, -2.0]).reshape(shape))
                / np.sqrt(np.array([4.0, 0.25]).reshape(shape) + EPS)
                + np.array([1.0, -1.0]).reshape(shape))
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_allclose(nn.to_numpy(bn(t64(xp, x_np[:1])).data), expected[:1], rtol=1e-12)
    np.testing.assert_array_equal(nn.to_numpy(bn.running_mean), [0.5, -2.0])
    np.testing.assert_array_equal(nn.to_numpy(bn.running_var), [4.0, 0.25])


@pytest.mark.exercise("5.1", "forward values at batch size 1")
def test_batch_size_one_is_instance_norm(implementation, xp, rng):
    """With N = 1 the statistics are over H and W of the one image, for each channel:
    instance normalisation, computed here by hand."""
    BN = implementation
    x_np = rng.standard_normal((1, 3, 4, 5)) * 2 + 3
    gamma, beta = np.array([1.0, 0.5, 2.0]), np.array([0.0, 1.0, -1.0])
    y = BN.apply(t64(xp, x_np), t64(xp, gamma), t64(xp, beta), xp.zeros(3), xp.ones(3),
                 training=True, momentum=0.1, eps=EPS)
    mean = x_np.mean(axis=(2, 3), keepdims=True)
    var = ((x_np - mean) ** 2).mean(axis=(2, 3), keepdims=True)
    expected = gamma.reshape(1, 3, 1, 1) * (x_np - mean) / np.sqrt(var + EPS) \
        + beta.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(nn.to_numpy(y.data), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.exercise("5.1", "gradients at batch size 1")
def test_batch_size_one_gradcheck(implementation, xp, rng):
    """The pix2pix case, N = 1: gradients w.r.t. x, gamma and beta (random upstream)."""
    BN = implementation
    gamma = t64(xp, rng.uniform(0.5, 1.5, 2), requires_grad=True)
    beta = t64(xp, rng.standard_normal(2), requires_grad=True)
    x = t64(xp, rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
    running_mean, running_var = xp.zeros(2), xp.ones(2)

    def fn(x, gamma, beta):
        return BN.apply(x, gamma, beta, running_mean, running_var, training=True,
                        momentum=0.1, eps=EPS)

    nn.gradcheck(fn, [x, gamma, beta])
    assert np.abs(nn.to_numpy(x.grad)).max() > 1e-2  # a check of ~0 would prove nothing


@pytest.mark.exercise("5.1", "the error for one value per channel")
def test_training_with_one_value_per_channel_raises(implementation, xp):
    """Batch size 1 on a 1x1 map (the U-Net bottleneck with N = 1): the variance of one
    number is 0 and its unbiased estimate is 0/0, so training mode refuses it."""
    BN = implementation
    x = t64(xp, np.ones((1, 3, 1, 1)))
    with pytest.raises(ValueError):
        BN.apply(x, t64(xp, np.ones(3)), t64(xp, np.zeros(3)), xp.zeros(3), xp.ones(3),
                 training=True, momentum=0.1, eps=EPS)


def test_batchnorm2d_layer_with_one_value_per_channel():
    """The layer says why in training mode; in eval mode (running statistics) it is fine."""
    bn = nn.BatchNorm2d(3)
    x = nn.Tensor(np.ones((1, 3, 1, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(x)
    assert bn.eval()(x).shape == (1, 3, 1, 1)


def test_batchnorm2d_layer_checks_the_channel_count():
    bn = nn.BatchNorm2d(4)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4.*\(N, 4, H, W\).*\(2, 3, 5, 5\)"):
        bn(nn.Tensor(np.zeros((2, 3, 5, 5), dtype=np.float32)))
