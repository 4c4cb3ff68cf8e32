"""Losses, each averaged over every element (PyTorch's reduction="mean")."""
from ..backend import fuse, get_array_module
from ..tensor import Function, Tensor
from .activations import stable_sigmoid


### BEGIN SOLUTION 9.1
class BCEWithLogitsFunction(Function):
    """Exercise 9.1 (lesson 9, sections 1 and 1b). Binary cross-entropy on logits x against
    targets t in [0, 1], averaged over every element:
    mean(-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))).

    forward(ctx, x, target): x, target: arrays of one shape (soft targets too) -> a 0-d
        array of x's dtype. It must stay finite and exact for |x| = 100 and beyond, where
        exp(-x) overflows float32 and sigmoid(x) rounds to 1.
    backward(ctx, grad): grad = dL/dloss (a scalar) -> (dL/dx, dL/dtarget), None where
        ``ctx.needs_input_grad`` says none is needed (``stable_sigmoid`` is yours to use).
    Graded: values by hand (soft targets too), float32 kept, no overflow at +-100,
    both gradients.
    """

    @staticmethod
    def forward(ctx, x, target):
        xp = get_array_module(x)
        ctx.save_for_backward(x, target)
        # -t log s(x) - (1 - t) log(1 - s(x)) rewritten so that exp never overflows
        loss = xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-xp.abs(x)))
        return loss.mean()

    @staticmethod
    def backward(ctx, grad):
        x, target = ctx.saved
        scale = grad / x.size
        grad_x = (stable_sigmoid(x) - target) * scale if ctx.needs_input_grad[0] else None
        grad_t = -x * scale if ctx.needs_input_grad[1] else None
        return grad_x, grad_t
### END SOLUTION


### BEGIN FAST 9.1: FusedBCEWithLogitsFunction = BCEWithLogitsFunction
@fuse
def _bce_terms(xp, x, target):
    """-t log s(x) - (1 - t) log(1 - s(x)) per element, written so that exp never overflows."""
    return xp.maximum(x, 0) - x * target + xp.log1p(xp.exp(-xp.abs(x)))


@fuse
def _bce_grad(xp, x, target, scale):
    """(sigmoid(x) - t) * scale."""
    return (stable_sigmoid(x, xp) - target) * scale


class FusedBCEWithLogitsFunction(Function):
    """BCEWithLogitsFunction's numbers in fewer device operations (tested equal): one
    fused kernel and the mean forward, one fused kernel per needed gradient backward."""

    @staticmethod
    def forward(ctx, x, target):
        ctx.save_for_backward(x, target)
        return _bce_terms(x, target).mean()

    @staticmethod
    def backward(ctx, grad):
        x, target = ctx.saved
        scale = grad / x.size
        grad_x = _bce_grad(x, target, scale) if ctx.needs_input_grad[0] else None
        grad_t = x * -scale if ctx.needs_input_grad[1] else None
        return grad_x, grad_t
### END FAST


### BEGIN SOLUTION 9.2
class L1LossFunction(Function):
    """Exercise 9.2 (lesson 9, section 1c). mean |a - b| over every element (pix2pix's
    reconstruction term).

    forward(ctx, a, b): arrays of one shape -> a 0-d array of a's dtype.
    backward(ctx, grad): -> (dL/da, dL/db). Where a == b, |a - b| has no derivative: use 0
        there, as PyTorch does.
    Graded: values, both gradients (away from a == b), 0 at a == b, float32 kept.
    """

    @staticmethod
    def forward(ctx, a, b):
        xp = get_array_module(a)
        diff = a - b
        ctx.save_for_backward(xp.sign(diff))
        return xp.abs(diff).mean()

    @staticmethod
    def backward(ctx, grad):
        (sign,) = ctx.saved
        g = sign * (grad / sign.size)
        return g, -g
### END SOLUTION


class MSELossFunction(Function):
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
    return FusedBCEWithLogitsFunction.apply(input, target)


def l1_loss(input, target):
    target = _target_like(target, input)
    _same_shape("l1_loss", input, target)
    return L1LossFunction.apply(input, target)


def mse_loss(input, target):
    target = _target_like(target, input)
    _same_shape("mse_loss", input, target)
    return MSELossFunction.apply(input, target)
