"""Exercises 6.1, 6.2 and 6.3 (lesson 06_activations_and_dropout.py): leaky ReLU, dropout,
tanh and sigmoid.

Grade them with:   python -m pytest --exercise 6.1   (and 6.2, 6.3)
The library's versions are in ``nn.ops.activations``. Use ``xp = get_array_module(x)``
instead of ``np`` so that the same code runs on a GPU.
"""
import numpy as np  # noqa: F401  (the dropout generator is a NumPy Generator)

from nn.backend import get_array_module  # noqa: F401
from nn.tensor import Function


class LeakyReLU(Function):
    """Exercise 6.1. y = x where x > 0, negative_slope * x elsewhere.

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


class Dropout(Function):
    """Exercise 6.2. Inverted dropout, PyTorch's convention: p = probability of DROPPING.

    forward(ctx, x, p=0.5, generator=None): each element is zeroed with probability p and
        the kept ones are scaled so that the expected output equals x. The randomness
        comes only from ``generator`` (a numpy.random.Generator; a fresh one if None):
        the same seed gives the same mask, also for a CuPy x. Same shape and dtype as x.
        p = 0 returns x unchanged.
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


class Tanh(Function):
    """Exercise 6.3 (with Sigmoid). y = tanh(x), the U-Net's last activation.

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    Save the cheapest thing that is enough for the backward (lesson 6, section 2).
    Graded: values, the gradient, no overflow at |x| = 1000, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("Exercise 6.3")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.3")


class Sigmoid(Function):
    """Exercise 6.3 (with Tanh). y = 1 / (1 + exp(-x)).

    forward(ctx, x) -> y (same shape and dtype); backward(ctx, grad) -> dL/dx.
    It must not overflow or warn for x = -1000 or x = 1000 (exp(1000) is inf).
    Graded: values, the gradient, no overflow, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError("Exercise 6.3")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.3")
