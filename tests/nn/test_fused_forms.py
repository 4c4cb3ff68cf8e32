"""The fused forms the library runs beside the textbook Functions they stand for (exercises
5.1, 6.1 and 9.1): the same numbers, in fewer device operations (``nn.backend.fuse``: one
kernel on a GPU, the body as written on NumPy). A student release routes each back to the
student's textbook Function (``### BEGIN FAST``)."""
import numpy as np
import pytest

import nn
from nn.backend import fuse
from nn.ops.activations import FusedLeakyReLUFunction, LeakyReLUFunction
from nn.ops.batchnorm import BatchNormFunction, FusedBatchNormFunction
from nn.ops.losses import BCEWithLogitsFunction, FusedBCEWithLogitsFunction
from nn.testing import strict_cupy


def run(function, arrays, upstream, **options):
    """(output, [gradient of each array]) of function.apply, with upstream dL/dout."""
    tensors = [nn.Tensor(a, requires_grad=True) for a in arrays]
    out = function.apply(*tensors, **options)
    out.backward(upstream)
    return nn.to_numpy(out.data), [nn.to_numpy(t.grad) for t in tensors]


def on(xp, *arrays):
    return [nn.to_device(a, "cuda" if xp is not np else "cpu") for a in arrays]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_fused_batch_norm_equals_the_textbook(xp, rng, training, dtype, tolerance):
    x = (rng.standard_normal((3, 4, 5, 2)) * 2 + 1).astype(dtype)
    gamma, beta = rng.uniform(0.5, 1.5, 4).astype(dtype), rng.standard_normal(4).astype(dtype)
    upstream = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for function in (BatchNormFunction, FusedBatchNormFunction):
        running = on(xp, np.full(4, 0.3, dtype), np.full(4, 2.0, dtype))
        tensors = [nn.Tensor(a, requires_grad=True) for a in on(xp, x, gamma, beta)]
        y = function.apply(*tensors, *running, training=training, momentum=0.3, eps=1e-3)
        y.backward(on(xp, upstream)[0])
        assert y.data.dtype == dtype
        results.append([nn.to_numpy(y.data)] + [nn.to_numpy(t.grad) for t in tensors] +
                       [nn.to_numpy(r) for r in running])
    names = ["output", "grad x", "grad gamma", "grad beta", "running mean", "running var"]
    for name, textbook, fused in zip(names, *results):
        np.testing.assert_allclose(fused, textbook, rtol=tolerance, atol=tolerance,
                                   err_msg=name)


def test_fused_batch_norm_refuses_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        FusedBatchNormFunction.apply(nn.Tensor(np.ones((1, 2, 1, 1))),
                                     nn.Tensor(np.ones(2)), nn.Tensor(np.zeros(2)))


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_leaky_relu_equals_the_textbook_bit_for_bit(xp, rng, slope, dtype):
    x = rng.standard_normal((2, 3, 4, 4)).astype(dtype)
    x[0, 0, 0, :2] = 0.0, np.nan                       # the kink and a NaN behave the same
    upstream = rng.standard_normal(x.shape).astype(dtype)
    textbook = run(LeakyReLUFunction, on(xp, x), *on(xp, upstream), negative_slope=slope)
    fused = run(FusedLeakyReLUFunction, on(xp, x), *on(xp, upstream), negative_slope=slope)
    np.testing.assert_array_equal(fused[0], textbook[0])
    np.testing.assert_array_equal(fused[1][0], textbook[1][0])
    assert fused[0].dtype == dtype


@pytest.mark.parametrize("scale", [1.0, 100.0])       # 100: exp(-x) overflows float32
def test_fused_bce_with_logits_equals_the_textbook(xp, rng, scale):
    x = (rng.standard_normal((2, 1, 5, 5)) * scale).astype(np.float32)
    target = rng.uniform(0, 1, x.shape).astype(np.float32)        # soft targets too
    textbook = run(BCEWithLogitsFunction, on(xp, x, target), *on(xp, np.float32(0.7)))
    fused = run(FusedBCEWithLogitsFunction, on(xp, x, target), *on(xp, np.float32(0.7)))
    assert np.isfinite(fused[0]) and fused[0].dtype == np.float32
    np.testing.assert_allclose(fused[0], textbook[0], rtol=1e-6)
    for mine, theirs in zip(fused[1], textbook[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)


def test_fuse_is_one_launch_on_the_device_and_plain_numpy_on_the_host(strict_cupy):
    @fuse
    def affine(xp, x, a, b):
        return xp.maximum(x * a + b, 0)

    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(affine(x, 2.0, 1.0), [0.0, 2.0, 7.0])
    assert strict_cupy.counts.totals()["launches"] == 0
    device = affine(nn.to_device(x, "cuda"), 2.0, 1.0)
    np.testing.assert_array_equal(nn.to_numpy(device), [0.0, 2.0, 7.0])
    assert dict(strict_cupy.counts.launches) == {"fuse:affine": 1}


def test_unet_256_iteration_asks_for_at_most_800_device_operations(monkeypatch):
    """The count the README quotes: one training iteration, unet_256, batch 1, after one
    warm-up (the launch count depends on the layers, not on their widths: ngf 4 here)."""
    from pix2pix.benchmarks.device_counts import count_iteration
    monkeypatch.setattr(nn.backend, "_cupy", nn.backend._cupy)   # it swaps in the stand-in
    totals = count_iteration("unet_256", ngf=4)["totals"]
    assert totals["launches"] <= 800, totals
    assert totals["syncs"] == 1 and totals["host_to_device"] == 3, totals
