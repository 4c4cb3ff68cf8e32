"""Exercises 6.1 to 6.4 (lesson 06_activations_and_dropout.py): leaky ReLU, dropout,
tanh and sigmoid.

Grade them with:   python -m pytest --exercise 6.1   (and 6.2, 6.3, 6.4)
The library's versions are in ``nn.ops.activations``. Use ``xp = get_array_module(x)``
instead of ``np`` so that the same code runs on a GPU.
"""
import numpy as np  # noqa: F401  (the dropout generator is a NumPy Generator)

from nn.backend import get_array_module  # noqa: F401
from nn.ops.activations import stable_sigmoid  # noqa: F401  (yours to use)
from nn.tensor import Function


class LeakyReLUFunction(Function):
    """Exercise 6.1 (lesson 6, section 1). y = x where x > 0, negative_slope * x elsewhere.

    forward(ctx, x, negative_slope=0.01): x any shape -> y, same shape and dtype.
    backward(ctx, grad) -> dL/dx (a single array; no tuple needed for one input).
    Graded: forward values for several slopes (0, 0.2, 1), the gradient (float64,
    inputs away from the kink at 0), float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        raise NotImplementedError("Exercise 6.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.1")


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
        raise NotImplementedError("Exercise 6.2")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.2")


class TanhFunction(Function):
    """Exercise 6.3 (lesson 6, section 2). y = tanh(x), the U-Net's last activation.

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    Save the cheapest thing that is enough for the backward.
    Graded: values, the gradient, no overflow at |x| = 1000, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("Exercise 6.3")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.3")


class SigmoidFunction(Function):
    """Exercise 6.4 (lesson 6, section 2). y = 1 / (1 + exp(-x)).

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    It must not overflow or warn for x = -1000 or x = 1000 (exp(1000) is inf).
    Graded: values, the gradient, no overflow, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("Exercise 6.4")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.4")
