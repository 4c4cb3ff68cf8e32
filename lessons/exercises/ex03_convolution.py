"""Exercises 3.1, 3.2 and 3.3 (lesson 03_convolution.py): im2col and the convolution op.

Grade them with:   python -m pytest --exercise 3.1   (and 3.2, 3.3)
The library's versions are ``nn.ops.im2col.im2col_reference``, ``nn.ops.conv.Conv2dFunction``
and ``nn.ops.conv.conv2d_backward``. Write array code with ``xp = get_array_module(x)``
(NumPy or CuPy) instead of ``np``, so that the same code runs on a GPU.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.im2col import col2im, conv_output_size, im2col  # noqa: F401  (yours to use)
from nn.tensor import Function


def im2col_reference(x, kernel_size, stride, padding):
    """Exercise 3.1 (lesson 3, section 3). Copy every k x k patch of x into a column, the
    textbook way (the library runs a faster ``im2col``, tested equal; a student
    release runs this one).

    x: (N, C, H, W) array -> col: (C, k, k, N, Ho, Wo) array of x's dtype, where
    Ho = conv_output_size(H, k, stride, padding) (Wo alike) and
        col[c, i, j, n, y, x'] = the pixel that kernel offset (i, j) meets when the kernel
        sits at output pixel (y, x'), on x padded with ``padding`` zeros on every side.
    Loop over the k*k kernel offsets only, never over pixels. Write array code with
    ``xp = get_array_module(x)`` (NumPy or CuPy).
    Graded: every element against the definition, odd sizes, stride 3, padding > 0,
    adjointness with col2im, float32 kept float32.
    """
    raise NotImplementedError("Exercise 3.1")


class Conv2dFunction(Function):
    """Exercise 3.2 (lesson 3, sections 3 and 6). 2-D convolution (cross-correlation,
    PyTorch semantics) as im2col + one matrix multiply.

    forward(ctx, x, weight, bias=None, stride=1, padding=0):
        x: (N, C_in, H, W), weight: (C_out, C_in, k, k), bias: (C_out,) or None
        -> out: (N, C_out, Ho, Wo),
        out[n, o, y, x'] = bias[o] + sum over c, i, j of
                           weight[o, c, i, j] * x_padded[n, c, stride*y + i, stride*x' + j].
        Save what backward needs (ctx.save_for_backward; shapes and options as attributes).
    backward(ctx, grad): grad = dL/dout, (N, C_out, Ho, Wo) -> five values, one per forward
        argument: (grad_x, grad_weight, grad_bias, None, None); None where
        ``ctx.needs_input_grad`` says an input needs none, and for a missing bias. Call
        ``conv2d_backward`` (exercise 3.3) for dx and dW.
    Write array code with ``xp = get_array_module(x)`` (NumPy or CuPy); ``im2col`` and
    ``conv_output_size`` are yours to use.
    Graded: forward against the naive loop, every gradient (float64 gradcheck), no bias.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        raise NotImplementedError("Exercise 3.2")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 3.2")


def conv2d_backward(grad, weight, col, x_shape, stride, padding, needs_x, needs_w):
    """Exercise 3.3 (lesson 3, section 6). The input and weight gradients of the im2col
    convolution.

    grad: dL/dout, (N, C_out, Ho, Wo); weight: (C_out, C_in, k, k);
    col: im2col(x, k, stride, padding) reshaped to (C_in*k*k, N*Ho*Wo), as the forward made
    it; x_shape: (N, C_in, H, W). needs_x / needs_w: whether to compute each gradient.
    Returns (grad_x of shape x_shape or None, grad_weight of weight's shape or None).
    Section 6 derives both as matrix products; ``col2im`` adds columns back into place.
    Graded: both gradients against independent finite differences, for strides 1 and 2,
    paddings 0 and 1, odd sizes and a batch of 2; None when not needed.
    """
    raise NotImplementedError("Exercise 3.3")
