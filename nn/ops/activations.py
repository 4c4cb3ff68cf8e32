"""Activation functions and dropout."""
import numpy as np

from ..backend import get_array_module
from ..tensor import Function


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = get_array_module(x).maximum(x, 0)
        ctx.save_for_backward(out)  # out > 0 exactly where x > 0: the output is the mask
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (out > 0)


class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise.

    For 0 <= slope <= 1 that is max(x, slope * x): two fast passes (NumPy's masked
    ``where``/``copyto`` are ten times slower than plain arithmetic).
    """

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ### BEGIN SOLUTION 6.1
        xp = get_array_module(x)
        positive = x > 0
        ctx.save_for_backward(positive)  # a boolean mask: a quarter of x's memory
        ctx.slope = negative_slope
        slope = x.dtype.type(negative_slope)
        if 0 <= negative_slope <= 1:
            return xp.maximum(x, x * slope)
        return xp.where(positive, x, x * slope)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 6.1
        (positive,) = ctx.saved
        # dy/dx = 1 where x > 0, slope elsewhere: slope + (1 - slope) * mask.
        local = positive.astype(grad.dtype)
        local *= grad.dtype.type(1 - ctx.slope)
        local += grad.dtype.type(ctx.slope)
        local *= grad
        return local
        ### END SOLUTION


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION 6.3
        out = get_array_module(x).tanh(x)
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 6.3
        (out,) = ctx.saved
        return grad * (1 - out * out)
        ### END SOLUTION


def stable_sigmoid(x):
    """1 / (1 + exp(-x)) without overflow for large |x| (exp of a non-positive number only)."""
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        ### BEGIN SOLUTION 6.3
        out = stable_sigmoid(x)
        ctx.save_for_backward(out)
        return out
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 6.3
        (out,) = ctx.saved
        return grad * out * (1 - out)
        ### END SOLUTION


class Dropout(Function):
    """Zero each element with probability p; scale the kept ones by 1/(1-p) ("inverted").

    The mask comes from ``generator`` (a ``numpy.random.Generator``), so a seed repeats a
    run exactly, on the CPU and the GPU alike.
    """

    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        ### BEGIN SOLUTION 6.2
        xp = get_array_module(x)
        if generator is None:
            generator = np.random.default_rng()
        keep = generator.random(x.shape, dtype=np.float32) >= p
        mask = xp.asarray(keep, dtype=x.dtype) * x.dtype.type(1.0 / (1.0 - p))
        ctx.save_for_backward(mask)  # the scaled mask: backward is one multiply
        return x * mask
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 6.2
        (mask,) = ctx.saved
        return grad * mask
        ### END SOLUTION


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def tanh(x):
    return Tanh.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout; the identity when not training or p == 0.

    x: any shape. p: probability of dropping an element (PyTorch's meaning).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    return Dropout.apply(x, p=p, generator=generator)
