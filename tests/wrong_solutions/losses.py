"""Wrong solutions of 9.1 (BCEWithLogits) and 9.2 (L1Loss)."""
import numpy as np

from nn.ops.losses import BCEWithLogitsFunction, L1LossFunction


class BCENaiveFormula(BCEWithLogitsFunction):
    """-t log s(x) - (1 - t) log(1 - s(x)) literally: inf/NaN at |x| = 100 in float32."""
    @staticmethod
    def forward(ctx, x, target):
        ctx.save_for_backward(x, target)
        s = 1 / (1 + np.exp(-x))
        return (-target * np.log(s) - (1 - target) * np.log(1 - s)).mean()


class BCEGradientNotAveraged(BCEWithLogitsFunction):
    """d loss / dx = s(x) - t, without dividing by the number of elements."""
    @staticmethod
    def backward(ctx, grad):
        x, _ = ctx.saved
        grad_x, grad_t = BCEWithLogitsFunction.backward(ctx, grad)
        return (None if grad_x is None else grad_x * x.size,
                None if grad_t is None else grad_t * x.size)


class BCETargetGradientSignFlipped(BCEWithLogitsFunction):
    """d loss / dt = +x / count (the sign lost)."""
    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_t = BCEWithLogitsFunction.backward(ctx, grad)
        return grad_x, None if grad_t is None else -grad_t


class L1GradientNotAveraged(L1LossFunction):
    """sign(a - b) without dividing by the number of elements."""
    @staticmethod
    def backward(ctx, grad):
        (sign,) = ctx.saved
        g = sign * grad
        return g, -g


class L1SameSignForBoth(L1LossFunction):
    """d/db = +sign(a - b) / count (forgot the minus)."""
    @staticmethod
    def backward(ctx, grad):
        g, _ = L1LossFunction.backward(ctx, grad)
        return g, g


class L1OneAtEquality(L1LossFunction):
    """Takes sign(0) as +1: a gradient where a == b."""
    @staticmethod
    def forward(ctx, a, b):
        out = L1LossFunction.forward(ctx, a, b)
        ctx.save_for_backward(np.where(a - b >= 0, 1.0, -1.0).astype(a.dtype))
        return out


WRONG = {
    "9.1": [BCENaiveFormula, BCEGradientNotAveraged, BCETargetGradientSignFlipped],
    "9.2": [L1GradientNotAveraged, L1SameSignForBoth, L1OneAtEquality],
}
