"""Exercises 3.1 and 3.2 (lesson 03_convolution.py): im2col and the convolution op.

Grade them with:   python -m pytest --exercise 3.1
                   python -m pytest --exercise 3.2
The references are ``nn.ops.im2col.im2col`` and ``nn.ops.conv.Conv2dFunction``. Write
array code with ``xp = get_array_module(x)`` (NumPy or CuPy) instead of ``np``, so that the
same code runs on a GPU.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.im2col import col2im, conv_output_size  # noqa: F401  (yours to use)
from nn.tensor import Function


def im2col(x, kernel_size, stride, padding):
    """Exercise 3.1. Copy every k x k patch of x into a column.

    x: (N, C, H, W) array -> col: (C, k, k, N, Ho, Wo) array, where
        Ho = conv_output_size(H, k, stride, padding) = (H + 2 padding - k) // stride + 1
    and
        col[c, i, j, n, y, x'] = x_padded[n, c, y * stride + i, x' * stride + j]
    with x_padded = x with ``padding`` zeros on each side of H and W (xp.pad).

    Hint: loop over the k*k kernel offsets (i, j) only, never over pixels. For one offset,
    the pixels it touches form the strided slice
        x_padded[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride]
    of shape (N, C, Ho, Wo); transpose it to (C, N, Ho, Wo) and store it in col[:, i, j].
    """
    raise NotImplementedError("Exercise 3.1")


class Conv2dFunction(Function):
    """Exercise 3.2. 2-D convolution (cross-correlation, PyTorch semantics) as im2col + matmul.

    forward(ctx, x, weight, bias=None, stride=1, padding=0):
        x: (N, C_in, H, W), weight: (C_out, C_in, k, k), bias: (C_out,) or None
        -> out: (N, C_out, Ho, Wo),
        out[n, o, y, x'] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * x_pad[n, c, s*y + i, s*x' + j]
      1. col = im2col(x, k, stride, padding).reshape(C_in*k*k, N*Ho*Wo)
      2. out = weight.reshape(C_out, C_in*k*k) @ col          -> (C_out, N*Ho*Wo)
      3. reshape to (C_out, N, Ho, Wo), transpose to (N, C_out, Ho, Wo), add the bias.
      Save what backward needs (ctx.save_for_backward(...); plain attributes on ctx for
      shapes, stride and padding).

    backward(ctx, grad): grad = dL/dout, (N, C_out, Ho, Wo). Return five values, one per
    forward argument: (grad_x, grad_weight, grad_bias, None, None). With
    g = grad transposed and reshaped to (C_out, N*Ho*Wo):
        grad_weight = (g @ col.T).reshape(weight.shape)
        grad_x      = col2im((weight.reshape(C_out, -1).T @ g).reshape(C_in, k, k, N, Ho, Wo),
                             x.shape, stride, padding)
        grad_bias   = grad.sum(axis=(0, 2, 3))
    ``ctx.needs_input_grad`` (one bool per positional input) lets you skip what is not
    needed; bias may be None.

    You may use your im2col above (Exercise 3.1) or, to do 3.2 first, the library's:
    ``from nn.ops.im2col import im2col``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        raise NotImplementedError("Exercise 3.2")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 3.2")
