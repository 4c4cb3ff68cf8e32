"""Instance norm (--norm instance): statistics of each (sample, channel) plane, no running
statistics; float64 gradient checks with a random upstream gradient; PyTorch as the oracle."""
import numpy as np
import pytest

import nn
import nn.functional as F
from nn.ops.instancenorm import InstanceNormFunction


def t64(xp, values, requires_grad=True):
    return nn.Tensor(xp.asarray(np.asarray(values, dtype=np.float64)), requires_grad=requires_grad)


def test_each_plane_has_mean_zero_and_unit_std(xp, rng):
    # Two samples with very different scales: batch norm would mix them, instance norm not.
    x = rng.standard_normal((2, 3, 4, 5)) * np.array([1.0, 50.0])[:, None, None, None] + 7
    y = nn.to_numpy(F.instance_norm(t64(xp, x, False)).data)
    np.testing.assert_allclose(y.mean(axis=(2, 3)), 0, atol=1e-12)
    # biased std of each plane is sqrt(var / (var + eps))
    var = x.var(axis=(2, 3))
    np.testing.assert_allclose(y.std(axis=(2, 3)), np.sqrt(var / (var + 1e-5)), rtol=1e-10)


def test_train_and_eval_agree_and_nothing_is_stored():
    layer = nn.InstanceNorm2d(3)
    x = nn.Tensor(np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32))
    train = layer(x).data
    layer.eval()
    np.testing.assert_array_equal(layer(x).data, train)
    assert layer.state_dict() == {} and list(layer.parameters()) == []


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_instance_norm_gradcheck(xp, rng, affine):
    """Every element of d/dx (and d/dgamma, d/dbeta with affine), from a random upstream."""
    gamma = t64(xp, rng.uniform(0.5, 1.5, 3)) if affine else None
    beta = t64(xp, rng.standard_normal(3)) if affine else None
    x = t64(xp, rng.standard_normal((2, 3, 2, 3)) * 2 + 1)
    inputs = [x] + ([gamma, beta] if affine else [])
    nn.gradcheck(lambda x, *gb: InstanceNormFunction.apply(x, *(gb or (None, None))), inputs)
    # A gradient that is ~0 everywhere would prove nothing.
    assert np.abs(nn.to_numpy(x.grad)).max() > 1e-2


def test_a_single_pixel_plane_is_refused():
    with pytest.raises(ValueError, match="more than 1 value per plane"):
        F.instance_norm(nn.Tensor(np.ones((2, 3, 1, 1))))


def test_layer_checks_channels():
    with pytest.raises(ValueError, match=r"expected input \(N, 4, H, W\)"):
        nn.InstanceNorm2d(4)(nn.Tensor(np.ones((1, 3, 2, 2), np.float32)))


@pytest.mark.needs_torch
@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_matches_torch_instancenorm2d(rng, affine):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((2, 4, 5, 3)) * 2 + 1).astype(np.float32)
    upstream = rng.standard_normal(x.shape).astype(np.float32)
    ours = nn.InstanceNorm2d(4, affine=affine)
    theirs = torch.nn.InstanceNorm2d(4, affine=affine)
    if affine:
        ours.weight.data[...] = rng.uniform(0.5, 1.5, 4)
        ours.bias.data[...] = rng.standard_normal(4)
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    xo, xt = nn.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    (yo * nn.Tensor(upstream)).sum().backward()
    (yt * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(yo.data, yt.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), atol=1e-5)
    if affine:
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), atol=1e-4)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), atol=1e-4)


@pytest.mark.parametrize("build", ["G", "D"])
def test_norm_instance_puts_instance_norm_everywhere_batch_norm_was(build):
    """As in the port: InstanceNorm2d (no learned scale) where BatchNorm2d was, and the conv
    before each keeps its bias (no norm shift replaces it)."""
    from pix2pix.models import define_D, define_G
    make = (lambda norm: define_G("unet_32", ngf=4, norm=norm)) if build == "G" else (
        lambda norm: define_D("basic", 6, ndf=4, norm=norm))
    batch, instance = make("batch"), make("instance")
    n_batch = sum(isinstance(m, nn.BatchNorm2d) for m in batch.modules())
    assert n_batch > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in instance.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in instance.modules()) == n_batch
    layers = list(instance.modules())
    for i, m in enumerate(layers):
        if isinstance(m, nn.InstanceNorm2d):
            conv = next(c for c in reversed(layers[:i])
                        if isinstance(c, (nn.Conv2d, nn.ConvTranspose2d)))
            assert conv.bias is not None
    x = nn.Tensor(np.random.default_rng(0).standard_normal((1, 3 if build == "G" else 6, 32, 32))
                  .astype(np.float32))
    assert instance(x).shape[:2] == ((1, 3) if build == "G" else (1, 1))
