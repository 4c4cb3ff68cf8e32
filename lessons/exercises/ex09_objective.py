"""Exercises 9.1 and 9.2 (lesson 09_objective.py): BCE on logits, stably, and the L1 loss.

Grade them with:   python -m pytest --exercise 9.1   (and 9.2)
The library's versions are ``nn.ops.losses.BCEWithLogitsFunction`` (called by
nn.functional.binary_cross_entropy_with_logits and pix2pix's gan_loss) and ``L1LossFunction``. Write array code
with ``xp = get_array_module(x)`` instead of ``np`` so that it runs on a GPU too.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.activations import stable_sigmoid  # noqa: F401  (yours to use)
from nn.tensor import Function


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
        raise NotImplementedError("Exercise 9.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 9.1")


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
        raise NotImplementedError("Exercise 9.2")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 9.2")
