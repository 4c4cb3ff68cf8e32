"""Exercises 6.1 and 6.2 (lesson 06_activations_and_dropout.py): leaky ReLU and dropout.

Grade them with:   python -m pytest --exercise 6.1
                   python -m pytest --exercise 6.2
The references are ``nn.ops.activations.LeakyReLU`` and ``nn.ops.activations.Dropout``.
Use ``xp = get_array_module(x)`` instead of ``np`` so that the same code runs on a GPU.
"""
import numpy as np  # noqa: F401  (the dropout generator is a NumPy Generator)

from nn.backend import get_array_module  # noqa: F401
from nn.tensor import Function


class LeakyReLU(Function):
    """Exercise 6.1. y = x where x > 0, negative_slope * x elsewhere.

    forward(ctx, x, negative_slope=0.01): x any shape -> y same shape and dtype (a float32
        x must give a float32 y: cast the slope with x.dtype.type(negative_slope)).
        Save the cheapest thing backward needs: the mask x > 0.
    backward(ctx, grad): dL/dx = grad where x > 0, negative_slope * grad elsewhere.
        Return one gradient (the slope is a constant).
    pix2pix uses slope 0.2 in the encoder and in D.
    """

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        raise NotImplementedError("Exercise 6.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.1")


class Dropout(Function):
    """Exercise 6.2. Inverted dropout: zero each element with probability p, scale the rest.

    forward(ctx, x, p=0.5, generator=None): x any shape -> y same shape and dtype.
        p is the probability of DROPPING (PyTorch's meaning). Draw the mask from
        ``generator`` (a numpy.random.Generator; np.random.default_rng() if None), on the
        CPU, then move it to x's device with xp.asarray:
            keep = generator.random(x.shape, dtype=np.float32) >= p
            mask = keep * 1 / (1 - p)          (in x's dtype)
            y = x * mask                       (so that E[y] = x)
        Save the scaled mask: backward is then one multiply.
    backward(ctx, grad): dL/dx = grad * mask, the SAME mask as the forward pass.
    With exactly these generator calls, a seed gives the same mask as the library's Dropout,
    which makes your output easy to compare with nn.functional.dropout.
    """

    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        raise NotImplementedError("Exercise 6.2")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 6.2")
