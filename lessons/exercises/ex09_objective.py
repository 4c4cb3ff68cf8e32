"""Exercise 9.1 (lesson 09_objective.py): binary cross-entropy on logits, stably.

Grade it with:   python -m pytest --exercise 9.1
The reference is ``nn.ops.losses.BCEWithLogits`` (called by
nn.functional.binary_cross_entropy_with_logits and by pix2pix's gan_loss). Write array code
with ``xp = get_array_module(x)`` instead of ``np`` so that it runs on a GPU too.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.activations import stable_sigmoid  # noqa: F401  (yours to use)
from nn.tensor import Function


class BCEWithLogits(Function):
    """Exercise 9.1. mean(-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))).

    forward(ctx, x, target): x: logits, any shape; target: same shape, values in [0, 1]
        (1 = real, 0 = fake). Returns a 0-d array (the mean over all elements) in x's dtype.
        Never compute log(sigmoid(x)) directly: for x = -100, sigmoid(x) underflows to 0 in
        float32 and the log is -inf. Use the identity
            -t log s(x) - (1 - t) log(1 - s(x)) = max(x, 0) - x t + log(1 + exp(-|x|))
        (xp.log1p(xp.exp(-xp.abs(x))) for the last term), which is exact and only ever
        exponentiates a non-positive number. Save what backward needs.
    backward(ctx, grad): grad is dL/d(loss), a scalar (0-d array). With n = x.size,
            dL/dx = grad * (sigmoid(x) - t) / n
        (stable_sigmoid never overflows). Return (grad_x, grad_target): for the target
        return -grad * x / n, or None if ctx.needs_input_grad[1] is False (pix2pix's
        targets are constants).
    """

    @staticmethod
    def forward(ctx, x, target):
        raise NotImplementedError("Exercise 9.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 9.1")
