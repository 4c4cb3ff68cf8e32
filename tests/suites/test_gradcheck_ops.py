"""Gradient checks: every op's backward against centered finite differences.

``nn.gradcheck`` turns the op's output into the scalar <fn(x), u> with a RANDOM upstream
gradient u, then compares backward's gradient with (f(x + eps) - f(x - eps)) / 2 eps for
every element of every input, in float64, and raises ``GradcheckError`` when the relative
error exceeds 1e-5. Shapes are tiny so that the whole file runs in seconds.

Inputs are kept away from kinks (ReLU, leaky ReLU, |x|, L1 at 0), where the finite
difference straddles two slopes and agrees with neither. The last part of the file shows
that the checker can fail, and why the upstream gradient must be random.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
from nn.gradcheck import GradcheckError
from nn.ops.activations import FusedLeakyReLUFunction, TanhFunction
from nn.ops.arithmetic import ExpFunction
from nn.ops.batchnorm import BatchNormFunction, FusedBatchNormFunction
from nn.ops.conv import (
    Conv2dAsTransposeFunction,
    Conv2dFunction,
    ConvTranspose2dFunction,
)
from nn.ops.losses import (
    BCEWithLogitsFunction,
    FusedBCEWithLogitsFunction,
    L1LossFunction,
    MSELossFunction,
)
from nn.ops.padding import Crop2dFunction, ReflectionPad2dFunction
from nn.tensor import Function


def t64(xp, values, requires_grad=True):
    """A float64 tensor on xp's device (gradient checks need float64)."""
    return nn.Tensor(xp.asarray(np.asarray(values, dtype=np.float64)), requires_grad=requires_grad)


def away_from_zero(rng, shape, low=0.1, high=1.5):
    """Random values with low <= |v| <= high: no input sits on a kink at 0."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


# --- elementwise ops, reductions, shapes ------------------------------------------------

UNARY = {
    # name: (fn, input sampler)
    "neg": (lambda a: -a, "normal"),
    "exp": (F.exp, "normal"),
    "log": (F.log, "positive"),
    "abs": (F.abs, "nonzero"),
    "pow2": (lambda a: a ** 2, "normal"),
    "pow3": (lambda a: a ** 3, "normal"),
    "sqrt": (lambda a: a ** 0.5, "positive"),
    "reciprocal": (lambda a: a ** -1, "nonzero"),
    "relu": (F.relu, "nonzero"),
    "tanh": (F.tanh, "normal"),
    "sigmoid": (F.sigmoid, "normal"),
    "sum": (lambda a: a.sum(), "normal"),
    "sum-axis1": (lambda a: a.sum(axis=1), "normal"),
    "sum-axes02-keepdims": (lambda a: a.sum(axis=(0, 2), keepdims=True), "normal"),
    "mean": (lambda a: a.mean(), "normal"),
    "mean-last-axis": (lambda a: a.mean(axis=-1), "normal"),
    "mean-axes02-keepdims": (lambda a: a.mean(axis=(0, 2), keepdims=True), "normal"),
    "reshape": (lambda a: a.reshape(4, 6) * a.reshape(4, 6), "normal"),
}

SAMPLERS = {
    "normal": lambda rng, shape: rng.standard_normal(shape),
    "positive": lambda rng, shape: rng.uniform(0.5, 2.0, shape),
    "nonzero": lambda rng, shape: away_from_zero(rng, shape, 0.5, 2.0),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_gradcheck(xp, rng, name):
    """Elementwise functions and reductions: each element's derivative, one at a time."""
    fn, sampler = UNARY[name]
    a = t64(xp, SAMPLERS[sampler](rng, (2, 3, 4)))
    nn.gradcheck(fn, [a])


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b,
    "rsub-constant": lambda a, b: 2.0 - a * b,
    "rdiv-constant": lambda a, b: a * (2.0 / b),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (2, 3)), ((3,), (2, 3)),
                                              ((2, 3, 1, 1), (2, 3, 2, 2))],
                         ids=["same", "row", "per-channel"])
def test_binary_op_gradcheck(xp, rng, name, shape_a, shape_b):
    """Both inputs, with and without broadcasting (the gradient of the broadcast input is
    a sum). b stays away from 0 so that a / b is smooth."""
    a = t64(xp, rng.standard_normal(shape_a))
    b = t64(xp, away_from_zero(rng, shape_b, 0.5, 2.0))
    nn.gradcheck(BINARY[name], [a, b])


@pytest.mark.exercise("1.1", "gradients with broadcasting")
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (2, 3)), ((3,), (2, 3)),
                                              ((1, 3, 1, 1), (2, 3, 2, 2))],
                         ids=["same", "row", "per-channel"])
def test_mul_gradcheck(implementation, xp, rng, shape_a, shape_b):
    """Mul: d(ab)/da = b, d(ab)/db = a, summed back over broadcast axes."""
    MulFunction = implementation
    a = t64(xp, rng.standard_normal(shape_a))
    b = t64(xp, rng.standard_normal(shape_b))
    out = MulFunction.apply(a, b)
    np.testing.assert_allclose(nn.to_numpy(out.data), nn.to_numpy(a.data) * nn.to_numpy(b.data))
    nn.gradcheck(lambda a, b: MulFunction.apply(a, b), [a, b])


@pytest.mark.parametrize("dim", [1, 0, -1])
def test_cat_gradcheck(xp, rng, dim):
    """Each input gets its own slice of the gradient; a constant input gets none."""
    shapes = {1: [(2, 1, 3), (2, 2, 3), (2, 3, 3)], 0: [(1, 2, 3), (2, 2, 3), (1, 2, 3)],
              -1: [(2, 2, 1), (2, 2, 2), (2, 2, 3)]}[dim]
    a, b = t64(xp, rng.standard_normal(shapes[0])), t64(xp, rng.standard_normal(shapes[1]))
    constant = t64(xp, rng.standard_normal(shapes[2]), requires_grad=False)
    nn.gradcheck(lambda a, b, c: F.cat([a, b, c], dim=dim), [a, b, constant])


# --- activations and dropout ----------------------------------------------------------

@pytest.mark.exercise("6.1", "forward values and the gradient")
@pytest.mark.parametrize("slope", [0.2, 0.01, 0.0, 1.0])
def test_leaky_relu_forward_and_gradcheck(implementation, xp, rng, slope):
    """y = x for x > 0, slope * x otherwise; dy/dx = 1 or slope (inputs away from 0)."""
    LeakyReLUFunction = implementation
    x_np = away_from_zero(rng, (2, 3, 4))
    x = t64(xp, x_np)
    y = LeakyReLUFunction.apply(x, negative_slope=slope)
    np.testing.assert_allclose(nn.to_numpy(y.data), np.where(x_np > 0, x_np, slope * x_np))
    nn.gradcheck(lambda x: LeakyReLUFunction.apply(x, negative_slope=slope), [x])


@pytest.mark.parametrize("slope", [0.2, 0.0, 1.0])
def test_fused_leaky_relu_gradcheck(xp, rng, slope):
    """The form the library runs (tests/nn/test_fused_forms.py: equal to the textbook)."""
    x = t64(xp, away_from_zero(rng, (2, 3, 4)))
    nn.gradcheck(lambda x: FusedLeakyReLUFunction.apply(x, negative_slope=slope), [x])


@pytest.mark.exercise("6.1", "float32 stays float32")
def test_leaky_relu_keeps_float32(implementation, xp):
    """A float32 network stays float32: the slope must not promote it to float64."""
    x = nn.Tensor(xp.asarray([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = implementation.apply(x, negative_slope=0.2)
    assert y.dtype == np.float32
    np.testing.assert_allclose(nn.to_numpy(y.data), [-0.2, 2.0], rtol=1e-7)
    y.backward(xp.ones(2, dtype=np.float32))
    assert x.grad.dtype == np.float32


@pytest.mark.exercise("6.2", "the gradient")
def test_dropout_gradcheck(implementation, xp, rng):
    """A fresh generator with the same seed inside fn: every one of the many forward
    passes of the check draws the same mask, so the function being differentiated is fixed."""
    DropoutFunction = implementation
    x = t64(xp, rng.standard_normal((3, 4, 5)))

    def fn(x):
        return DropoutFunction.apply(x, p=0.4, generator=np.random.default_rng(7))

    assert 0 < np.mean(nn.to_numpy(fn(x).data) == 0) < 1  # some dropped, some kept
    nn.gradcheck(fn, [x])


# --- convolutions ---------------------------------------------------------------------

def conv2d_case(Conv, xp, rng, n=1, c_in=2, c_out=3, size=(5, 5), k=3, stride=1, padding=1,
                bias=True, transposed=False):
    """(fn, inputs) for a gradient check of a conv2d Function: x, weight and maybe bias.
    transposed: the weight in conv_transpose2d's layout (C_in, C_out, k, k)."""
    x = t64(xp, rng.standard_normal((n, c_in) + size))
    w = t64(xp, rng.standard_normal(((c_in, c_out) if transposed else (c_out, c_in)) + (k, k)))
    inputs = [x, w] + ([t64(xp, rng.standard_normal(c_out))] if bias else [])

    def fn(x, w, b=None):
        return Conv.apply(x, w, b, stride=stride, padding=padding)
    return fn, inputs


def conv_transpose2d_case(ConvT, xp, rng, n=1, c_in=3, c_out=2, size=(3, 3), k=4, stride=2,
                          padding=1, bias=True):
    """(fn, inputs) for a gradient check of a conv_transpose2d Function."""
    return conv2d_case(ConvT, xp, rng, n, c_in, c_out, size, k, stride, padding, bias,
                       transposed=True)


CONV_CASES = {  # the pix2pix encoder's 4x4 s2 p1, plus shapes that catch off-by-ones
    "4x4-s2-p1": dict(k=4, stride=2, padding=1, size=(6, 6)),
    "4x4-s2-p1-odd": dict(k=4, stride=2, padding=1, size=(7, 5)),
    "3x3-s1-p1": dict(k=3, stride=1, padding=1, size=(5, 4)),
    "3x3-s2-p0-odd": dict(k=3, stride=2, padding=0, size=(7, 6)),
    "1x1": dict(k=1, stride=1, padding=0, size=(3, 4)),
    "5x5-s1-p2-batch2": dict(n=2, k=5, stride=1, padding=2, size=(5, 5)),
    "no-bias": dict(k=4, stride=2, padding=1, size=(4, 6), bias=False),
}


@pytest.mark.exercise("3.2", "gradients w.r.t. x, the weight and the bias")
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv2d_gradcheck(implementation, xp, rng, case):
    """d/dx, d/dweight and d/dbias of a convolution, for each element."""
    fn, inputs = conv2d_case(implementation, xp, rng, **CONV_CASES[case])
    nn.gradcheck(fn, inputs)


# Stride 1, padding <= k - 1: where a convolution equals a transposed one. The first and
# the last are shaped like the PatchGAN's last conv (many channels in, one out), where
# conv2d() takes this path; the others check that it is right everywhere it applies.
AS_TRANSPOSE_CASES = {
    "4x4-p1-8to1": dict(c_in=8, c_out=1, k=4, padding=1, size=(5, 4)),
    "3x3-p0-batch2": dict(n=2, k=3, padding=0, size=(4, 5)),
    "3x3-p2": dict(k=3, padding=2, size=(3, 3)),
    "1x1": dict(k=1, padding=0, size=(3, 4)),
    "no-bias": dict(c_in=4, c_out=1, k=4, padding=1, size=(4, 4), bias=False),
}


@pytest.mark.parametrize("case", list(AS_TRANSPOSE_CASES))
def test_conv2d_as_transpose_gradcheck(xp, rng, case):
    """The flipped-kernel transposed-convolution path: d/dx, d/dweight, d/dbias."""
    fn, inputs = conv2d_case(Conv2dAsTransposeFunction, xp, rng, **AS_TRANSPOSE_CASES[case])
    nn.gradcheck(fn, inputs)


@pytest.mark.parametrize("case", list(AS_TRANSPOSE_CASES))
def test_conv2d_as_transpose_equals_conv2d(xp, case):
    """Same output and same gradients (for one random upstream) as im2col + matmul."""
    results = []
    for Conv in (Conv2dFunction, Conv2dAsTransposeFunction):
        fn, inputs = conv2d_case(Conv, xp, np.random.default_rng(3), **AS_TRANSPOSE_CASES[case])
        out = fn(*inputs)
        out.backward(xp.asarray(np.random.default_rng(4).standard_normal(out.shape)))
        results.append([out.data] + [t.grad for t in inputs])
    for ours, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(nn.to_numpy(ours), nn.to_numpy(reference), rtol=1e-10,
                                   atol=1e-12)


def test_conv2d_as_transpose_refuses_what_it_cannot_compute(rng):
    fn, inputs = conv2d_case(Conv2dAsTransposeFunction, np, rng, k=3, stride=2)
    with pytest.raises(ValueError, match="needs stride 1.*use Conv2dFunction"):
        fn(*inputs)


CONV_T_CASES = {  # the pix2pix decoder's 4x4 s2 p1 (doubles the size), plus others
    "4x4-s2-p1": dict(k=4, stride=2, padding=1, size=(3, 3)),
    "4x4-s2-p1-odd": dict(k=4, stride=2, padding=1, size=(3, 2), n=2),
    "3x3-s1-p0": dict(k=3, stride=1, padding=0, size=(3, 4)),
    "3x3-s2-p1": dict(k=3, stride=2, padding=1, size=(3, 3)),
    "1x1": dict(k=1, stride=1, padding=0, size=(2, 3)),
    "no-bias": dict(k=4, stride=2, padding=1, size=(2, 3), bias=False),
}


@pytest.mark.exercise("4.1", "gradients w.r.t. x, the weight and the bias")
@pytest.mark.parametrize("case", list(CONV_T_CASES))
def test_conv_transpose2d_gradcheck(implementation, xp, rng, case):
    """d/dx, d/dweight and d/dbias of a transposed convolution, for each element."""
    fn, inputs = conv_transpose2d_case(implementation, xp, rng, **CONV_T_CASES[case])
    nn.gradcheck(fn, inputs)


# --- batch norm -------------------------------------------------------------------------

def batch_norm_case(BN, xp, rng, training=True, shape=(2, 3, 2, 3)):
    """(fn, [x, gamma, beta]); the running statistics are plain arrays (not checked).

    x is drawn last on purpose: nn.gradcheck draws its upstream gradient u from
    default_rng(0), the same stream as the ``rng`` fixture, and if x were the first draw,
    u would be an affine function of x in every channel, where BN's true input gradient
    is exactly 0 (see the last test of this file).
    """
    c = shape[1]
    gamma = t64(xp, rng.uniform(0.5, 1.5, c))
    beta = t64(xp, rng.standard_normal(c))
    running_mean = xp.asarray(rng.standard_normal(c))
    running_var = xp.asarray(rng.uniform(0.5, 2.0, c))
    x = t64(xp, rng.standard_normal(shape) * 2 + 1)

    def fn(x, gamma, beta):
        return BN.apply(x, gamma, beta, running_mean, running_var, training=training,
                        momentum=0.1, eps=1e-5)
    return fn, [x, gamma, beta]


@pytest.mark.exercise("5.1", "gradients w.r.t. x, gamma and beta in {mode} mode")
@pytest.mark.parametrize("mode", ["training", "eval"])
def test_batch_norm_gradcheck(implementation, xp, rng, mode):
    """Training: the batch mean and variance depend on x, which the x-gradient must
    include. Eval: the running statistics are constants and BN is a per-channel affine map."""
    fn, inputs = batch_norm_case(implementation, xp, rng, training=mode == "training")
    nn.gradcheck(fn, inputs)
    # A check of a gradient that is ~0 everywhere would prove nothing.
    assert np.abs(nn.to_numpy(inputs[0].grad)).max() > 1e-2


@pytest.mark.parametrize("mode", ["training", "eval"])
def test_fused_batch_norm_gradcheck(xp, rng, mode):
    """The form the library runs (tests/nn/test_fused_forms.py: equal to the textbook)."""
    fn, inputs = batch_norm_case(FusedBatchNormFunction, xp, rng, training=mode == "training")
    nn.gradcheck(fn, inputs)
    assert np.abs(nn.to_numpy(inputs[0].grad)).max() > 1e-2


# --- losses ---------------------------------------------------------------------------

def bce_case(BCE, xp, rng, target_requires_grad=False):
    """Logits including +-30 (where a naive log(sigmoid(x)) loses all precision) and
    targets in (0.2, 0.8), so that no gradient is so small that it drowns in rounding."""
    logits = rng.standard_normal((2, 4)) * 2
    logits[0, :2] = [30.0, -30.0]
    logits[1, :2] = [-30.0, 30.0]
    x = t64(xp, logits)
    target = t64(xp, rng.uniform(0.2, 0.8, (2, 4)), requires_grad=target_requires_grad)
    return (lambda x, t: BCE.apply(x, t)), [x, target]


@pytest.mark.exercise("9.1", "gradients w.r.t. the logits and the targets")
@pytest.mark.parametrize("target_requires_grad", [False, True], ids=["logits", "and-target"])
def test_bce_with_logits_gradcheck(implementation, xp, rng, target_requires_grad):
    """d loss / d logits = (sigmoid(x) - t) / count, finite even at |x| = 30."""
    fn, inputs = bce_case(implementation, xp, rng, target_requires_grad)
    nn.gradcheck(fn, inputs)
    assert np.all(np.isfinite(nn.to_numpy(inputs[0].grad)))


@pytest.mark.parametrize("target_requires_grad", [False, True], ids=["logits", "and-target"])
def test_fused_bce_with_logits_gradcheck(xp, rng, target_requires_grad):
    """The form the library runs (tests/nn/test_fused_forms.py: equal to the textbook)."""
    fn, inputs = bce_case(FusedBCEWithLogitsFunction, xp, rng, target_requires_grad)
    nn.gradcheck(fn, inputs)


def l1_case(L1, xp, rng):
    """Target = input + an offset of at least 0.1: no element sits on |a - b|'s kink."""
    a = rng.standard_normal((2, 3, 2))
    return (lambda a, b: L1.apply(a, b)), [t64(xp, a), t64(xp, a + away_from_zero(rng, a.shape))]


def mse_case(MSE, xp, rng):
    return (lambda a, b: MSE.apply(a, b)), [t64(xp, rng.standard_normal((2, 3, 2))),
                                            t64(xp, rng.standard_normal((2, 3, 2)))]


def test_l1_loss_gradcheck(xp, rng):
    """mean |a - b|: sign(a - b) / count for the input, its negative for the target."""
    nn.gradcheck(*l1_case(L1LossFunction, xp, rng))


def test_mse_loss_gradcheck(xp, rng):
    """mean (a - b)^2: 2 (a - b) / count for the input, its negative for the target."""
    nn.gradcheck(*mse_case(MSELossFunction, xp, rng))


def test_functional_losses_gradcheck(xp, rng):
    """The public functions (what pix2pix calls) route to the same ops."""
    x_np = rng.standard_normal((2, 3))
    x = t64(xp, x_np)
    y = t64(xp, x_np + away_from_zero(rng, (2, 3)), requires_grad=False)  # no L1 kink
    nn.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, 1.0), [x])
    nn.gradcheck(lambda x: F.l1_loss(x, y) + F.mse_loss(x, y), [x])


# --- the checker itself can fail -----------------------------------------------------------

class ExpScaledBackward(ExpFunction):
    """exp with a backward that is 10% too small everywhere."""

    @staticmethod
    def backward(ctx, grad):
        return 0.9 * ExpFunction.backward(ctx, grad)


class TanhSignError(TanhFunction):
    """tanh with the sign of its derivative flipped."""

    @staticmethod
    def backward(ctx, grad):
        return -TanhFunction.backward(ctx, grad)


class SquareOneWrongElement(Function):
    """a**2 whose gradient is wrong at exactly one element, [1, 2]."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        g = 2 * a * grad
        g[1, 2] *= 1.5
        return g


@pytest.mark.parametrize("Wrong", [ExpScaledBackward, TanhSignError])
def test_gradcheck_rejects_a_wrong_backward(xp, rng, Wrong):
    """A backward 10% off, or with a sign error, must fail the check."""
    a = t64(xp, rng.standard_normal((2, 3)))
    with pytest.raises(GradcheckError, match="gradient check failed: input 0 at index"):
        nn.gradcheck(Wrong.apply, [a])


def test_gradcheck_names_the_worst_element(xp, rng):
    """One wrong element among 12 is found, and the message says where it is."""
    a = t64(xp, away_from_zero(rng, (3, 4)))
    with pytest.raises(GradcheckError, match=r"input 0 at index \(1, 2\)"):
        nn.gradcheck(SquareOneWrongElement.apply, [a])
    report = nn.gradcheck(lambda a: a * a, [a])
    assert report["checked"] == 12 and report["max_rel_error"] < 1e-7


@pytest.mark.parametrize("check", [nn.gradcheck, nn.gradcheck_direction])
def test_gradcheck_refuses_float32(rng, check):
    """Finite differences in float32 are too noisy to check anything."""
    a = nn.Tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        check(lambda a: a * a, [a])


# --- borders: reflection padding, cropping, output_padding (the ResNet generator) ---------

def reflection_pad_case(F_, xp, rng, padding=2):
    x = t64(xp, rng.standard_normal((2, 2, 4, 5)))
    return (lambda x: F_.apply(x, padding=padding)), [x]


def crop_case(F_, xp, rng):
    x = t64(xp, rng.standard_normal((2, 2, 5, 6)))
    return (lambda x: F_.apply(x, top=1, bottom=0, left=2, right=1)), [x]


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_reflection_pad_gradcheck(xp, rng, padding):
    """Corners are copied twice (once per axis): their gradient must reach the one inside
    pixel they mirror through both folds."""
    fn, inputs = reflection_pad_case(ReflectionPad2dFunction, xp, rng, padding)
    nn.gradcheck(fn, inputs)


def test_crop_gradcheck(xp, rng):
    nn.gradcheck(*crop_case(Crop2dFunction, xp, rng))


def test_conv_transpose_with_output_padding_gradcheck(xp, rng):
    """The port's up-sampling layer (k 3, s 2, p 1, output_padding 1): exactly 2H x 2W."""
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)
    x = t64(xp, rng.standard_normal((2, 2, 3, 4)))
    w = t64(xp, rng.standard_normal(layer.weight.shape))
    b = t64(xp, rng.standard_normal(3))

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)
    assert fn(x, w, b).shape == (2, 3, 6, 8)
    nn.gradcheck(fn, [x, w, b])


BREAKABLE = {
    # name: (Function in nn, case builder, how many gradients backward returns that matter)
    "conv2d": (Conv2dFunction, lambda F_, xp, rng: conv2d_case(F_, xp, rng, k=4, stride=2,
                                                               size=(6, 5)), 3),
    "conv2d_as_transpose": (Conv2dAsTransposeFunction, lambda F_, xp, rng: conv2d_case(
        F_, xp, rng, **AS_TRANSPOSE_CASES["4x4-p1-8to1"]), 3),
    "conv_transpose2d": (ConvTranspose2dFunction, conv_transpose2d_case, 3),
    "batch_norm": (BatchNormFunction, batch_norm_case, 3),
    "fused_batch_norm": (FusedBatchNormFunction, batch_norm_case, 3),
    "bce_with_logits": (BCEWithLogitsFunction, bce_case, 1),
    "fused_bce_with_logits": (FusedBCEWithLogitsFunction, bce_case, 1),
    "l1_loss": (L1LossFunction, l1_case, 2),
    "mse_loss": (MSELossFunction, mse_case, 2),
    "reflection_pad2d": (ReflectionPad2dFunction, reflection_pad_case, 1),
    "crop2d": (Crop2dFunction, crop_case, 1),
}


@pytest.mark.parametrize("name, which", [(name, i) for name, (_, _, count) in BREAKABLE.items()
                                         for i in range(count)])
def test_the_gradient_checks_catch_a_broken_backward(monkeypatch, rng, name, which):
    """Every test must be able to fail: scale one of the gradients the library's backward
    returns by 0.9 and the very check used above must reject it, naming that input."""
    Op, make_case, _ = BREAKABLE[name]
    correct_backward = Op.backward

    def broken_backward(ctx, grad):
        grads = list(correct_backward(ctx, grad))
        grads[which] = grads[which] * 0.9
        return tuple(grads)

    monkeypatch.setattr(Op, "backward", staticmethod(broken_backward))
    fn, inputs = make_case(Op, np, rng)
    inputs[which].requires_grad = True
    with pytest.raises(GradcheckError, match=f"input {which} at index"):
        nn.gradcheck(fn, inputs)


# --- why the upstream gradient must be random ---------------------------------------------

class BatchNormForgotVariance(Function):
    """Training-mode batch norm whose backward treats the batch VARIANCE as a constant.

    Correct: dx = gamma / sigma * (g - mean(g) - x_hat * mean(g * x_hat)).
    Here:    dx = gamma / sigma * (g - mean(g)), a classic mistake.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, eps=1e-5):
        axes = (0, 2, 3)
        mean = x.mean(axis=axes, keepdims=True)
        inv_std = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
        ctx.save_for_backward(gamma.reshape(1, -1, 1, 1) * inv_std)
        return gamma.reshape(1, -1, 1, 1) * (x - mean) * inv_std + beta.reshape(1, -1, 1, 1)

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved
        return scale * (grad - grad.mean(axis=(0, 2, 3), keepdims=True)), None, None


def check_with_all_ones_upstream(fn, x, eps=1e-6, atol=1e-6):
    """The tempting check: differentiate sum(fn(x)), i.e. an all-ones upstream gradient."""
    x.grad = None
    fn(x).sum().backward()
    numeric = np.zeros(x.shape)
    flat = x.data.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = float(fn(x).data.sum())
        flat[i] = original - eps
        minus = float(fn(x).data.sum())
        flat[i] = original
        numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return np.abs(x.grad - numeric).max() <= atol


def test_all_ones_upstream_hides_a_wrong_batch_norm_backward(rng):
    """The sum of a normalised channel is always 0, whatever x is, so d sum(BN(x)) / dx = 0:
    with an all-ones upstream gradient the TRUE input gradient is exactly zero, and any
    backward that also returns zero for a constant upstream (here one that forgot the
    variance term) passes. A random upstream gradient exposes it."""
    gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    x = t64(np, rng.standard_normal((2, 3, 2, 2)))

    def wrong(x):
        return BatchNormForgotVariance.apply(x, gamma, beta)

    def right(x):
        return F.batch_norm(x, nn.Tensor(gamma), nn.Tensor(beta))

    # The naive check passes both, by agreeing with finite differences that the gradient is 0.
    for fn in (right, wrong):
        assert check_with_all_ones_upstream(fn, x)
        assert np.abs(x.grad).max() < 1e-12
    # The random upstream gradient of nn.gradcheck tells them apart.
    nn.gradcheck(right, [x])
    with pytest.raises(GradcheckError):
        nn.gradcheck(wrong, [x])
