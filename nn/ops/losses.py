"""Losses, each averaged over every element (PyTorch's reduction="mean")."""
from ..backend import get_array_module
from ..tensor import Function, Tensor
from .activations import stable_sigmoid


class BCEWithLogits(Function):
    """Binary cross-entropy on logits x against targets t in [0, 1].

    loss = mean(-t log s(x) - (1 - t) log(1 - s(x))), s = sigmoid, computed as
    mean(max(x, 0) - x t + log(1 + exp(-|x|))), which never overflows for large |x|.
    x, target: arrays of one shape -> a scalar (lesson 9 derives the backward).
    """

    @staticmethod
    def forward(ctx, x, target):
        ### BEGIN SOLUTION 9.1
        xp = get_array_module(x)
        ctx.save_for_backward(x, target)
        loss = xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-xp.abs(x)))
        return loss.mean()
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 9.1
        x, target = ctx.saved
        scale = grad / x.size
        grad_x = (stable_sigmoid(x) - target) * scale if ctx.needs_input_grad[0] else None
        grad_t = -x * scale if ctx.needs_input_grad[1] else None
        return grad_x, grad_t
        ### END SOLUTION


class L1Loss(Function):
    """mean |a - b| over every element; a, b: arrays of one shape -> a scalar.
    At a == b the gradient is taken as 0 (lesson 9 derives the backward)."""

    @staticmethod
    def forward(ctx, a, b):
        ### BEGIN SOLUTION 9.2
        xp = get_array_module(a)
        diff = a - b
        ctx.save_for_backward(xp.sign(diff))
        return xp.abs(diff).mean()
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad):
        ### BEGIN SOLUTION 9.2
        (sign,) = ctx.saved
        g = sign * (grad / sign.size)
        return g, -g
        ### END SOLUTION


class MSELoss(Function):
    """mean (a - b)^2; the gradient is 2 (a - b) / count."""

    @staticmethod
    def forward(ctx, a, b):
        diff = a - b
        ctx.save_for_backward(diff)
        return (diff * diff).mean()

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved
        g = diff * (2 * grad / diff.size)
        return g, -g


def _same_shape(name, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{name}: input has shape {tuple(a.shape)} but target has "
                         f"{tuple(b.shape)}; they must match")


def _target_like(target, x):
    """A Python number becomes a constant array shaped like x (e.g. 1.0 for "real")."""
    if isinstance(target, (int, float)):
        xp = get_array_module(x.data)
        return Tensor(xp.full(x.shape, target, dtype=x.dtype))
    return target


def binary_cross_entropy_with_logits(input, target):
    """input: logits, any shape; target: same shape, or a number (1.0 real, 0.0 fake)."""
    target = _target_like(target, input)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    return BCEWithLogits.apply(input, target)


def l1_loss(input, target):
    target = _target_like(target, input)
    _same_shape("l1_loss", input, target)
    return L1Loss.apply(input, target)


def mse_loss(input, target):
    target = _target_like(target, input)
    _same_shape("mse_loss", input, target)
    return MSELoss.apply(input, target)
