"""Graded tests for exercises 7.1 (UNetUp), 8.1 (receptive_field) and 9.1 (BCEWithLogits).

Each test gets the object under test from the ``implementation`` fixture: the library's
reference, or with ``python -m pytest --exercise 7.1`` the student's version in
lessons/exercises/. (tests/pix2pix/models/test_networks.py, test_losses.py and test_gradcheck_ops.py grade
8.1 and 9.1 as well.)
"""
import math

import numpy as np
import pytest

import nn
import nn.functional as F
from pix2pix.models import conv_layers, define_D


def f32(rng, shape, away_from_zero=False):
    """float32 tensor; away_from_zero keeps |values| >= 0.1 (no ReLU kink nearby)."""
    values = rng.standard_normal(shape)
    if away_from_zero:
        values = np.sign(values) * (0.1 + np.abs(values))
    return nn.Tensor(values.astype(np.float32))


def as_float64(module):
    """Turn a module's parameters into float64 in place (the layers are built float32)."""
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


# ---------------------------------------------------------------- 7.1: UNetUp

@pytest.mark.exercise("7.1", "output shapes with and without a skip")
def test_unet_up_shapes(implementation):
    """(N, C_in, H, W) -> (N, C_out, 2H, 2W), plus the skip's channels when there is one."""
    rng = np.random.default_rng(0)
    block = implementation(8, 4)
    x = f32(rng, (2, 8, 3, 3))
    assert block(x).shape == (2, 4, 6, 6)
    assert block(x, f32(rng, (2, 5, 6, 6))).shape == (2, 9, 6, 6)


@pytest.mark.exercise("7.1", "parameter names and shapes")
def test_unet_up_layer_names_and_parameters(implementation):
    """Checkpoints and the official weights find the parameters by name: conv.weight,
    norm.weight, ... (a conv bias only with bias=True or kind "instance", whose norm has no
    parameters of its own; no norm for kind "none")."""
    batch_norm = ["norm.weight", "norm.bias", "norm.running_mean", "norm.running_var"]
    for kwargs, keys, norm in [
            ({}, ["conv.weight", *batch_norm], nn.BatchNorm2d),
            (dict(kind="none", bias=True), ["conv.weight", "conv.bias"], type(None)),
            (dict(kind="none"), ["conv.weight"], type(None)),
            (dict(kind="instance"), ["conv.weight", "conv.bias"], nn.InstanceNorm2d),
            (dict(dropout=True), ["conv.weight", *batch_norm], nn.BatchNorm2d)]:
        block = implementation(6, 3, **kwargs)
        assert sorted(block.state_dict()) == sorted(keys), kwargs
        assert type(block.norm) is norm, f"{kwargs}: norm should be {norm.__name__}"
        assert isinstance(block.conv, nn.ConvTranspose2d)
        assert block.conv.weight.shape == (6, 3, 4, 4)
        assert (block.conv.kernel_size, block.conv.stride, block.conv.padding) == (4, 2, 1)


@pytest.mark.exercise("7.1", "forward values (layer order, skip first)")
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_unet_up_equals_hand_composition(implementation, training):
    """cat([skip, batch_norm(conv_transpose2d(relu(x)))]) with the block's own parameters."""
    rng = np.random.default_rng(1)
    block = implementation(6, 4)
    block.norm.weight.data[...] = rng.uniform(0.5, 1.5, 4)   # not the trivial 1 and 0
    block.norm.bias.data[...] = rng.uniform(-0.5, 0.5, 4)
    block.train(training)
    x, skip = f32(rng, (2, 6, 3, 3)), f32(rng, (2, 5, 6, 6))
    with nn.no_grad():
        out = block(x, skip)
        y = F.conv_transpose2d(F.relu(x), block.conv.weight, None, stride=2, padding=1)
        y = F.batch_norm(y, block.norm.weight, block.norm.bias,
                         np.zeros(4, np.float32), np.ones(4, np.float32), training=training)
        expected = F.cat([skip, y], dim=1)
    assert out.shape == (2, 9, 6, 6)
    np.testing.assert_allclose(out.numpy()[:, :5], skip.numpy(), err_msg="the skip comes first")
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.exercise("7.1", "the final block: no norm, a bias")
def test_unet_up_without_norm_has_a_bias(implementation):
    """The U-Net's final block: no BatchNorm, a bias, no skip."""
    rng = np.random.default_rng(2)
    block = implementation(4, 3, kind="none", bias=True)
    block.conv.bias.data[...] = [0.5, -1.0, 2.0]
    x = f32(rng, (1, 4, 2, 2))
    with nn.no_grad():
        expected = F.conv_transpose2d(F.relu(x), block.conv.weight, block.conv.bias, 2, 1)
        np.testing.assert_allclose(block(x).numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.exercise("7.1", "--norm instance: an InstanceNorm after a conv with a bias")
def test_unet_up_instance_norm(implementation):
    """kind="instance": instance_norm(conv_transpose2d(relu(x)) + bias), the same in train
    and eval mode (no running statistics), then the skip."""
    rng = np.random.default_rng(6)
    block = implementation(6, 4, kind="instance")
    block.conv.bias.data[...] = rng.uniform(-1.0, 1.0, 4)
    x, skip = f32(rng, (2, 6, 3, 3)), f32(rng, (2, 5, 6, 6))
    with nn.no_grad():
        y = F.conv_transpose2d(F.relu(x), block.conv.weight, block.conv.bias, 2, 1)
        expected = F.cat([skip, F.instance_norm(y, None, None)], dim=1).numpy()
        for training in (True, False):
            block.train(training)
            np.testing.assert_allclose(block(x, skip).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.exercise("7.1", "dropout drawn from the generator")
def test_unet_up_dropout_matches_the_library(implementation):
    """Dropout(0.5) drawn from the generator passed in, on the up-path before the skip is
    concatenated: the same output as the composition by hand with a generator of the same
    seed; in eval mode dropout is off."""
    rng = np.random.default_rng(3)
    block = implementation(6, 4, dropout=True, generator=np.random.default_rng(7))
    x, skip = f32(rng, (2, 6, 4, 4)), f32(rng, (2, 2, 8, 8))
    with nn.no_grad():
        out = block(x, skip).numpy()
        # by hand, not with the library's UNetUp: in a release that is the student's own
        y = F.conv_transpose2d(F.relu(x), block.conv.weight, None, stride=2, padding=1)
        y = F.batch_norm(y, block.norm.weight, block.norm.bias, training=True)
        y = F.dropout(y, 0.5, training=True, generator=np.random.default_rng(7))
        np.testing.assert_allclose(out, F.cat([skip, y], dim=1).numpy(), rtol=1e-5,
                                   atol=1e-5, err_msg="dropout on the up-path only, before "
                                   "the concatenation, drawing from the generator")
        dropped = (out[:, 2:] == 0).mean()
        assert 0.35 < dropped < 0.65, f"{dropped:.0%} of the outputs are zero, expected ~50%"
        no_dropout = implementation(6, 4)
        no_dropout.load_state_dict(block.state_dict())
        block.eval()
        no_dropout.eval()
        np.testing.assert_allclose(block(x, skip).numpy(), no_dropout(x, skip).numpy())


@pytest.mark.exercise("7.1", "gradients w.r.t. x, the skip and every parameter")
# (Not kind="instance": the instance norm removes the conv bias's constant shift, so that
# bias's true gradient is exactly 0 and finite differences see only rounding noise.)
@pytest.mark.parametrize("kwargs", [{}, dict(kind="none", bias=True)], ids=["bn", "bias"])
def test_unet_up_gradcheck(implementation, kwargs):
    """Every element of x, the skip and every parameter, in float64 (BatchNorm in training
    mode, so its batch statistics are differentiated too)."""
    rng = np.random.default_rng(4)
    block = as_float64(implementation(3, 2, **kwargs))
    x = np.sign(rng.standard_normal((2, 3, 2, 2))) * rng.uniform(0.2, 1.0, (2, 3, 2, 2))
    x = nn.Tensor(x, requires_grad=True)
    skip = nn.Tensor(rng.standard_normal((2, 1, 4, 4)), requires_grad=True)
    params = list(block.parameters())
    nn.gradcheck(lambda x, s, *ps: block(x, s), [x, skip, *params])


@pytest.mark.exercise("7.1", "gradients of a wider block")
def test_unet_up_gradcheck_direction_bigger_block(implementation):
    """A random-direction check on a wider block (two forward passes)."""
    rng = np.random.default_rng(5)
    block = as_float64(implementation(16, 8))
    x = np.sign(rng.standard_normal((2, 16, 4, 4))) * rng.uniform(0.2, 1.0, (2, 16, 4, 4))
    x = nn.Tensor(x, requires_grad=True)
    skip = nn.Tensor(rng.standard_normal((2, 8, 8, 8)), requires_grad=True)
    nn.gradcheck_direction(lambda x, s, *ps: block(x, s), [x, skip, *block.parameters()])


# ---------------------------------------------------------------- 8.1: receptive_field

# The n_layers family of the paper's appendix, written out by hand: a 4x4 stride-2 conv
# (C64, no norm), n_layers - 1 more stride-2 convs, one stride-1 conv, and the final
# stride-1 conv to one channel.
FAMILY = {
    1: ([(4, 2)] + [(4, 1)] * 2, 16),
    2: ([(4, 2)] * 2 + [(4, 1)] * 2, 34),
    3: ([(4, 2)] * 3 + [(4, 1)] * 2, 70),
    4: ([(4, 2)] * 4 + [(4, 1)] * 2, 142),
    5: ([(4, 2)] * 5 + [(4, 1)] * 2, 286),
}


def brute_force_field(layers):
    """Independent oracle: the input interval that output 0 depends on, propagated back
    one layer at a time (output [a, b] <- input [a s, b s + k - 1])."""
    a, b = 0, 0
    for k, s in reversed(layers):
        a, b = a * s, b * s + k - 1
    return b - a + 1


@pytest.mark.exercise("8.1", "1x1 convs see 1 pixel")
def test_receptive_field_pixel_gan(implementation):
    assert implementation([(1, 1), (1, 1), (1, 1)]) == 1


@pytest.mark.exercise("8.1", "the n-layer family 16, 34, 70, 142, 286")
@pytest.mark.parametrize("n_layers", sorted(FAMILY))
def test_receptive_field_n_layers_family(implementation, n_layers):
    layers, field = FAMILY[n_layers]
    assert implementation(layers) == field
    D = define_D("n_layers", input_nc=6, ndf=2, n_layers_D=n_layers)
    assert conv_layers(D) == layers, "the library's D differs from the paper's layout"
    assert implementation(conv_layers(D)) == field


@pytest.mark.exercise("8.1", "the library's discriminators")
def test_receptive_field_of_the_library_discriminators(implementation):
    assert implementation(conv_layers(define_D("basic", ndf=2))) == 70
    assert implementation(conv_layers(define_D("pixel", ndf=2))) == 1


@pytest.mark.exercise("8.1", "random chains against a brute-force count")
def test_receptive_field_random_chains(implementation):
    """Random chains of (kernel, stride) against the interval oracle: the order of the
    layers matters (a stride multiplies the fields of the layers after it)."""
    rng = np.random.default_rng(6)
    for _ in range(50):
        layers = [(int(rng.integers(1, 6)), int(rng.integers(1, 4)))
                  for _ in range(int(rng.integers(1, 7)))]
        assert implementation(layers) == brute_force_field(layers), layers


# ---------------------------------------------------------------- 9.1: BCEWithLogits

@pytest.mark.exercise("9.1", "forward values with soft targets")
def test_bce_forward_soft_targets_by_hand(implementation):
    """Targets between 0 and 1 too: mean of -t log s(x) - (1 - t) log(1 - s(x))."""
    x = [[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]
    t = [[1.0, 0.0, 0.25], [0.5, 0.0, 1.0]]
    s = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected = np.mean([-tv * math.log(s(xv)) - (1 - tv) * math.log(1 - s(xv))
                        for xr, tr in zip(x, t) for xv, tv in zip(xr, tr)])
    loss = implementation.apply(nn.Tensor(np.array(x)), nn.Tensor(np.array(t)))
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.exercise("9.1", "float32 stays float32")
def test_bce_keeps_float32(implementation):
    """Training runs in float32: the loss must not silently become float64."""
    x = nn.Tensor(np.array([0.5, -0.5], np.float32))
    t = nn.Tensor(np.array([1.0, 0.0], np.float32))
    assert implementation.apply(x, t).dtype == np.float32


@pytest.mark.exercise("9.1", "no overflow at logits of +-100")
def test_bce_no_overflow_at_plus_minus_100(implementation):
    """No overflow, division by zero or NaN anywhere in forward or backward."""
    x = nn.Tensor(np.array([100.0, -100.0, 100.0, -100.0], np.float32), requires_grad=True)
    t = nn.Tensor(np.array([1.0, 0.0, 0.0, 1.0], np.float32))
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = implementation.apply(x, t)
        loss.backward()
    assert loss.item() == pytest.approx(50.0, rel=1e-6)          # (0 + 0 + 100 + 100) / 4
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 0.25, -0.25], atol=1e-7)


@pytest.mark.exercise("9.1", "gradient w.r.t. the logits")
def test_bce_gradcheck(implementation):
    """float64, a 3-D map of logits like D's, every element."""
    rng = np.random.default_rng(8)
    x = nn.Tensor(rng.standard_normal((2, 3, 3)) * 3, requires_grad=True)
    t = nn.Tensor(rng.uniform(0.0, 1.0, (2, 3, 3)))
    report = nn.gradcheck(lambda x, t: implementation.apply(x, t), [x, t])
    assert report["checked"] == 18
