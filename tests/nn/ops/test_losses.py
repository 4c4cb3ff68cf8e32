"""Losses: values checked by hand, numerical stability, targets given as numbers, shapes.

All losses average over every element (PyTorch's reduction="mean"). Gradients are
checked in test_gradcheck_ops.py.
"""
import math

import numpy as np
import pytest

import nn
import nn.functional as F


def tensor(xp, values, dtype=np.float64, requires_grad=False):
    return nn.Tensor(xp.asarray(np.asarray(values, dtype=dtype)), requires_grad=requires_grad)


@pytest.mark.exercise("9.1", "forward values by hand")
def test_bce_with_logits_by_hand(implementation, xp):
    """-t log s(x) - (1 - t) log(1 - s(x)) with s(x) = 1 / (1 + e^-x):
        x = 2,  t = 1:  -log s(2)      = log(1 + e^-2)
        x = -1, t = 0:  -log(1 - s(-1)) = log(1 + e^-1)
        x = 0,  t = 1:  -log(1/2)      = log 2
        x = 3,  t = 0:  -log(1 - s(3))  = 3 + log(1 + e^-3)
    and the gradient is (s(x) - t) / 4."""
    BCE = implementation
    x = tensor(xp, [2.0, -1.0, 0.0, 3.0], requires_grad=True)
    loss = BCE.apply(x, tensor(xp, [1.0, 0.0, 1.0, 0.0]))
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1)) + math.log(2)
                + 3 + math.log(1 + math.exp(-3))) / 4
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    sigmoid = 1 / (1 + np.exp(-np.array([2.0, -1.0, 0.0, 3.0])))
    np.testing.assert_allclose(nn.to_numpy(x.grad), (sigmoid - [1, 0, 1, 0]) / 4, rtol=1e-12)


@pytest.mark.exercise("9.1", "stable for huge logits")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_for_huge_logits(implementation, xp, dtype):
    """A confident discriminator outputs logits like +-100, where exp(100) overflows
    float32 and log(sigmoid(-100)) = log(0). The stable form gives the right limits:
    correct and confident -> loss ~0, gradient ~0;  wrong and confident -> loss = |x|,
    gradient +-1 / count."""
    BCE = implementation
    x = tensor(xp, [100.0, -100.0], dtype, requires_grad=True)
    right = BCE.apply(x, tensor(xp, [1.0, 0.0], dtype))
    assert right.shape == () and right.dtype == dtype
    assert 0 <= right.item() < 1e-30
    x.grad = None
    wrong = BCE.apply(x, tensor(xp, [0.0, 1.0], dtype))
    assert wrong.item() == pytest.approx(100.0, rel=1e-6)
    wrong.backward()
    grad = nn.to_numpy(x.grad)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, [0.5, -0.5], rtol=1e-6)


@pytest.mark.parametrize("loss", [F.binary_cross_entropy_with_logits, F.l1_loss, F.mse_loss])
def test_target_given_as_a_number(xp, rng, loss):
    """The GAN loss writes bce(D(x), 1.0) for "real" and bce(D(x), 0.0) for "fake"; a
    number target means a constant tensor of the input's shape, for every loss alike."""
    x = tensor(xp, rng.standard_normal((2, 1, 3, 3)))
    for value in (1.0, 0.0):
        as_number = loss(x, value)
        as_tensor = loss(x, tensor(xp, np.full(x.shape, value)))
        assert as_number.item() == pytest.approx(as_tensor.item(), rel=1e-12)


def test_bce_of_a_zero_logit_is_log_2():
    """D undecided (logit 0, probability 1/2): the loss is log 2 = 0.693 for either label,
    the reference point for reading GAN loss curves."""
    for label in (1.0, 0.0):
        loss = F.binary_cross_entropy_with_logits(nn.Tensor(np.zeros(3)), label)
        assert loss.item() == pytest.approx(math.log(2))


def test_l1_and_mse_by_hand(xp):
    """a - b = [0.5, -2, -2]:  L1 = (0.5 + 2 + 2) / 3 = 1.5,  MSE = (0.25 + 4 + 4) / 3 = 2.75;
    dL1/da = sign(a - b) / 3,  dMSE/da = 2 (a - b) / 3."""
    a = tensor(xp, [1.0, -2.0, 3.0], requires_grad=True)
    b = tensor(xp, [0.5, 0.0, 5.0])
    l1 = F.l1_loss(a, b)
    assert l1.item() == pytest.approx(1.5)
    l1.backward()
    np.testing.assert_allclose(nn.to_numpy(a.grad), np.array([1, -1, -1]) / 3)
    a.grad = None
    mse = F.mse_loss(a, b)
    assert mse.item() == pytest.approx(2.75)
    mse.backward()
    np.testing.assert_allclose(nn.to_numpy(a.grad), 2 * np.array([0.5, -2.0, -2.0]) / 3)


def test_losses_keep_float32(xp):
    """A float32 network must get a float32 loss (no silent promotion to float64)."""
    a = tensor(xp, [[1.0, -2.0]], np.float32)
    b = tensor(xp, [[0.0, 1.0]], np.float32)
    for loss in (F.l1_loss(a, b), F.mse_loss(a, b), F.binary_cross_entropy_with_logits(a, b),
                 F.binary_cross_entropy_with_logits(a, 1.0)):
        assert loss.dtype == np.float32


@pytest.mark.parametrize("loss", [F.binary_cross_entropy_with_logits, F.l1_loss, F.mse_loss])
def test_shape_mismatch_raises(loss):
    """A (2, 3) prediction against a (3, 2) target is a bug, not something to broadcast:
    the message names the loss and both shapes."""
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)") as error:
        loss(nn.Tensor(np.zeros((2, 3))), nn.Tensor(np.zeros((3, 2))))
    assert loss.__name__ in str(error.value)
