"""Activation functions and dropout."""
import numpy as np

from ..backend import fuse, get_array_module
from ..tensor import Function


class ReLUFunction(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).maximum(x, 0)
        ctx.save_for_backward(out)  # out > 0 exactly where x > 0: the output is the mask
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return _masked(grad, out)


@fuse
def _masked(xp, grad, out):
    """grad where out > 0, else 0: one kernel on a GPU."""
    return grad * (out > 0)


### BEGIN SOLUTION 6.1
class LeakyReLUFunction(Function):
    """Exercise 6.1 (lesson 6, section 1). y = x where x > 0, negative_slope * x elsewhere.

    forward(ctx, x, negative_slope=0.01): x any shape -> y, same shape and dtype.
    backward(ctx, grad) -> dL/dx (a single array; no tuple needed for one input).
    Graded: forward values for several slopes (0, 0.2, 1), the gradient (float64,
    inputs away from the kink at 0), float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        xp = get_array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)  # a boolean mask: a quarter of x's memory
        ctx.slope = negative_slope
        slope = x.dtype.type(negative_slope)
        # For 0 <= slope <= 1 leaky ReLU is max(x, slope * x): two fast passes (NumPy's
        # masked ``where``/``copyto`` are ten times slower than plain arithmetic).
        if 0 <= negative_slope <= 1:
            return xp.maximum(x, x * slope)
        return xp.where(positive, x, x * slope)

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved
        # dy/dx = 1 where x > 0, slope elsewhere: slope + (1 - slope) * mask.
        local = positive.astype(grad.dtype)
        local *= grad.dtype.type(1 - ctx.slope)
        local += grad.dtype.type(ctx.slope)
        local *= grad
        return local
### END SOLUTION


### BEGIN FAST 6.1: FusedLeakyReLUFunction = LeakyReLUFunction
@fuse
def _leaky(xp, x, slope):
    """(y, mask): y = max(x, slope * x), leaky ReLU for 0 <= slope <= 1, and x > 0."""
    return xp.maximum(x, x * slope), x > 0


@fuse
def _leaky_grad(xp, grad, positive, one_minus_slope, slope):
    return (positive * one_minus_slope + slope) * grad


class FusedLeakyReLUFunction(Function):
    """LeakyReLUFunction's numbers for 0 <= slope <= 1 in one device operation each way
    (tested equal): the forward writes y and the boolean mask in one kernel, the backward
    reads the mask (a quarter of y's memory) in another."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        out, positive = _leaky(x, x.dtype.type(negative_slope))
        ctx.save_for_backward(positive)
        ctx.slope = negative_slope
        return out

    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved
        return _leaky_grad(grad, positive, grad.dtype.type(1 - ctx.slope),
                           grad.dtype.type(ctx.slope))
### END FAST


### BEGIN SOLUTION 6.3
class TanhFunction(Function):
    """Exercise 6.3 (lesson 6, section 2). y = tanh(x), the U-Net's last activation.

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    Save the cheapest thing that is enough for the backward.
    Graded: values, the gradient, no overflow at |x| = 1000, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out * out)
### END SOLUTION


def stable_sigmoid(x, xp=None):
    """1 / (1 + exp(-x)) without overflow for large |x| (exp of a non-positive number only).
    xp: the array module, given inside a fused function (whose arguments are not arrays)."""
    xp = xp or get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


### BEGIN SOLUTION 6.4
class SigmoidFunction(Function):
    """Exercise 6.4 (lesson 6, section 2). y = 1 / (1 + exp(-x)).

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    It must not overflow or warn for x = -1000 or x = 1000 (exp(1000) is inf).
    Graded: values, the gradient, no overflow, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out * (1 - out)
### END SOLUTION


### BEGIN SOLUTION 6.2
class DropoutFunction(Function):
    """Exercise 6.2 (lesson 6, section 2). Inverted dropout, PyTorch's convention: p is the
    probability of DROPPING.

    forward(ctx, x, p=0.5, generator=None): each element is zeroed with probability p and
        the kept ones are scaled by 1 / (1 - p), so that the expected output equals x. The
        randomness comes only from ``generator`` (a numpy.random.Generator; a fresh one if
        None): the same seed gives the same mask, also for a CuPy x. Same shape and dtype
        as x. p = 0 returns x unchanged.
    backward(ctx, grad) -> dL/dx, through the very mask the forward used.
    (Eval mode, where dropout is the identity, is the layer's job: nn.Dropout.)
    Graded: the kept fraction and the scale, the mean preserved, seeds, fresh noise on
    every call without a generator, p = 0, the gradient.
    """

    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        xp = get_array_module(x)
        if generator is None:
            generator = np.random.default_rng()
        keep = generator.random(x.shape, dtype=np.float32) >= p
        # scaled on the host, where the noise is drawn: one copy to the device, no launch
        mask = xp.asarray(keep * x.dtype.type(1.0 / (1.0 - p)), dtype=x.dtype)
        ctx.save_for_backward(mask)  # the scaled mask: backward is one multiply
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved
        return grad * mask
### END SOLUTION


def relu(x):
    return ReLUFunction.apply(x)


def leaky_relu(x, negative_slope=0.01):
    fast = 0 <= negative_slope <= 1   # where max(x, slope * x) is leaky ReLU
    return (FusedLeakyReLUFunction if fast else LeakyReLUFunction).apply(
        x, negative_slope=negative_slope)


def tanh(x):
    return TanhFunction.apply(x)


def sigmoid(x):
    return SigmoidFunction.apply(x)


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout; the identity when not training or p == 0.

    x: any shape. p: probability of dropping an element (PyTorch's meaning).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    return DropoutFunction.apply(x, p=p, generator=generator)
