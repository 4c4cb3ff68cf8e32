"""Dropout: p is the probability of DROPPING (PyTorch's meaning), kept values scaled by
1 / (1 - p) so that the expected output equals the input ("inverted" dropout).

pix2pix uses dropout as its noise source, in training AND at test time, so the masks
must be reproducible from a seed: they come from a generator passed in, never global state.
"""
import numpy as np
import pytest

import nn
import nn.functional as F


def ones(xp, shape, dtype=np.float32):
    return nn.Tensor(xp.ones(shape, dtype=dtype))


def test_p_zero_and_eval_mode_are_the_identity(xp):
    """No dropping means the very same tensor back, and so does a Dropout in eval mode."""
    x = ones(xp, (4, 5))
    assert F.dropout(x, p=0.0) is x
    assert F.dropout(x, p=0.5, training=False) is x
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x


@pytest.mark.exercise("6.2", "kept fraction and scale of the kept values")
@pytest.mark.parametrize("p", [0.5, 0.2])
def test_kept_fraction_and_scale(implementation, xp, p):
    """Over 100,000 elements the kept fraction is 1 - p within 5 binomial standard
    deviations (sqrt(p (1 - p) / n) = 0.0016 at p = 0.5), and every kept value is
    x / (1 - p), so that E[output] = x."""
    DropoutFunction = implementation
    n = 100_000
    y = nn.to_numpy(DropoutFunction.apply(ones(xp, (n,)), p=p, generator=np.random.default_rng(0)).data)
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32


@pytest.mark.exercise("6.2", "the mask comes from the generator")
def test_same_seed_same_mask_different_seed_different_mask(implementation, xp):
    """Reproducibility comes from the generator: same seed, same mask; another seed, another."""
    DropoutFunction = implementation
    x = ones(xp, (8, 16))

    def mask(seed):
        out = DropoutFunction.apply(x, p=0.5, generator=np.random.default_rng(seed))
        return nn.to_numpy(out.data) != 0

    np.testing.assert_array_equal(mask(1), mask(1))
    assert (mask(1) != mask(2)).any()


@pytest.mark.exercise("6.2", "backward uses the forward's mask")
def test_backward_uses_the_forward_mask(implementation, xp, rng):
    """The gradient flows only through the kept elements, scaled like them:
    dL/dx = g * mask / (1 - p), with the SAME mask the forward drew (not a fresh one)."""
    DropoutFunction = implementation
    p = 0.3
    x = nn.Tensor(xp.asarray(rng.uniform(0.5, 1.5, (4, 50))), requires_grad=True)
    y = DropoutFunction.apply(x, p=p, generator=np.random.default_rng(5))
    g = rng.standard_normal(y.shape)
    y.backward(xp.asarray(g))
    kept = nn.to_numpy(y.data) != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(nn.to_numpy(x.grad), g * kept / (1 - p), rtol=1e-12)


def test_dropout_layer_draws_a_new_mask_each_call_reproducibly(xp):
    """A Dropout layer owns its generator: successive calls differ (fresh noise every
    step), and two layers seeded alike produce the same sequence of masks."""
    x = ones(xp, (8, 16))
    a = nn.Dropout(0.5, generator=np.random.default_rng(3))
    b = nn.Dropout(0.5, generator=np.random.default_rng(3))
    first, second = nn.to_numpy(a(x).data), nn.to_numpy(a(x).data)
    assert (first != second).any()
    np.testing.assert_array_equal(first, nn.to_numpy(b(x).data))
    np.testing.assert_array_equal(second, nn.to_numpy(b(x).data))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_p_out_of_range_raises(p):
    """p = 1 would drop everything and divide by zero; p < 0 is meaningless."""
    with pytest.raises(ValueError, match="probability"):
        F.dropout(nn.Tensor([1.0, 2.0]), p=p)
    with pytest.raises(ValueError, match="probability of dropping"):
        nn.Dropout(p)
