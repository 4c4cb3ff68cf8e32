"""Exercise 4.1 (lesson 04_transposed_convolution.py): the transposed convolution op.

Grade it with:   python -m pytest --exercise 4.1
The library's version is ``nn.ops.conv.ConvTranspose2dFunction``. Use
``xp = get_array_module(x)`` instead of ``np``.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.im2col import col2im, im2col  # noqa: F401  (yours to use)
from nn.tensor import Function


class ConvTranspose2dFunction(Function):
    """Exercise 4.1 (lesson 4, sections 4 and 5). The adjoint of Conv2d with the same weight
    (PyTorch's ConvTranspose2d): a matmul gives every input pixel its weighted k x k
    kernel, then col2im adds the overlaps.

    forward(ctx, x, weight, bias=None, stride=1, padding=0):
        x: (N, C_in, H, W), weight: (C_in, C_out, k, k) (PyTorch's layout for transposed
        convolutions), bias: (C_out,) or None
        -> out: (N, C_out, (H - 1) * stride - 2 * padding + k, (W - 1) * stride - 2 * padding + k):
        every input pixel adds its value times the k x k kernel into the output, at stride
        ``stride``; then ``padding`` rows and columns are cut from each border.
    backward(ctx, grad): -> (grad_x, grad_weight, grad_bias, None, None), None where not
        needed. Section 5 derives it from the adjoint identity.
    Write array code with ``xp = get_array_module(x)``; ``im2col`` and ``col2im`` are yours
    to use.
    Graded: forward against the naive stamp loop, the adjoint identity with conv2d,
    every gradient (float64 gradcheck), odd sizes, no bias.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        raise NotImplementedError("Exercise 4.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 4.1")
