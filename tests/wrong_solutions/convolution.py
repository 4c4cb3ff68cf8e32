"""Wrong solutions of 3.1 (im2col), 3.2 (Conv2dFunction), 3.3 (its backward) and 4.1
(ConvTranspose2dFunction)."""
import numpy as np

from nn.ops import conv
from nn.ops.conv import Conv2dFunction, ConvTranspose2dFunction, conv2d_backward
from nn.ops.im2col import col2im, conv_output_size


def _im2col(x, k, s, p, swap=False, pad=None, stride_in_slice=True, dtype=None):
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    x_pad = np.pad(x, pad or ((0, 0), (0, 0), (p, p), (p, p)))
    col = np.zeros((c, k, k, n, ho, wo), dtype=dtype or x.dtype)
    step = s if stride_in_slice else 1
    for i in range(k):
        for j in range(k):
            a, b = (j, i) if swap else (i, j)
            patch = x_pad[:, :, a:a + step * ho:step, b:b + step * wo:step][:, :, :ho, :wo]
            col[:, i, j, :, :patch.shape[2], :patch.shape[3]] = patch.transpose(1, 0, 2, 3)
    return col


def im2col_swaps_i_and_j(x, kernel_size, stride, padding):
    """Reads offset (j, i) into column (i, j): the kernel comes out transposed."""
    return _im2col(x, kernel_size, stride, padding, swap=True)


def im2col_pads_one_side(x, kernel_size, stride, padding):
    """Pads 2p zeros after the image and none before."""
    p = padding
    return _im2col(x, kernel_size, stride, padding,
                   pad=((0, 0), (0, 0), (0, 2 * p), (0, 2 * p)))


def im2col_forgets_the_stride(x, kernel_size, stride, padding):
    """Takes every pixel instead of every stride-th one."""
    return _im2col(x, kernel_size, stride, padding, stride_in_slice=False)


def im2col_float64_columns(x, kernel_size, stride, padding):
    """Right values, but np.zeros(shape) without a dtype: float32 input, float64 columns."""
    return _im2col(x, kernel_size, stride, padding, dtype=np.float64)


class ConvForgetsTheBias(Conv2dFunction):
    """Never adds the bias (and so gives it no gradient)."""
    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        return Conv2dFunction.forward(ctx, x, weight, None, stride, padding)

    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_w, _, _, _ = Conv2dFunction.backward(ctx, grad)
        return grad_x, grad_w, None, None, None


class ConvFlipsTheKernel(Conv2dFunction):
    """A true convolution (kernel rotated by 180 degrees), not PyTorch's correlation."""
    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        return Conv2dFunction.forward(ctx, x, np.ascontiguousarray(weight[:, :, ::-1, ::-1]),
                                      bias, stride, padding)


class ConvBiasGradientOverChannels(Conv2dFunction):
    """grad_bias summed over the wrong axes: (0, 1) then averaged into (C_out,)."""
    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_w, grad_b, a, b = Conv2dFunction.backward(ctx, grad)
        if grad_b is not None:
            grad_b = np.full_like(grad_b, grad.sum() / grad_b.size)
        return grad_x, grad_w, grad_b, a, b


def backward_averages_over_the_batch(grad, weight, col, x_shape, stride, padding, needs_x,
                                     needs_w):
    """dW divided by the batch size: the loss is a sum over the batch, not a mean here."""
    grad_x, grad_w = conv2d_backward(grad, weight, col, x_shape, stride, padding, needs_x,
                                     needs_w)
    return grad_x, None if grad_w is None else grad_w / grad.shape[0]


def backward_without_padding(grad, weight, col, x_shape, stride, padding, needs_x, needs_w):
    """col2im with padding 0: the input gradient lands shifted."""
    grad_x, grad_w = conv2d_backward(grad, weight, col, x_shape, stride, padding, False,
                                     needs_w)
    if needs_x:
        n, c_out, ho, wo = grad.shape
        c_in, k = weight.shape[1], weight.shape[2]
        rows = grad.transpose(1, 0, 2, 3).reshape(c_out, -1)
        g_col = (weight.reshape(c_out, -1).T @ rows).reshape(c_in, k, k, n, ho, wo)
        padded = (x_shape[0], x_shape[1], x_shape[2] + 2 * padding, x_shape[3] + 2 * padding)
        grad_x = col2im(g_col, padded, stride, 0)[:, :, :x_shape[2], :x_shape[3]]
    return grad_x, grad_w


def backward_weight_not_transposed(grad, weight, col, x_shape, stride, padding, needs_x,
                                   needs_w):
    """dW from g @ col.T computed as col-major reshape (channels mixed up)."""
    grad_x, grad_w = conv2d_backward(grad, weight, col, x_shape, stride, padding, needs_x,
                                     needs_w)
    if grad_w is not None:
        grad_w = grad_w.reshape(weight.shape[0], -1).reshape(weight.shape, order="F")
    return grad_x, grad_w


class ConvTNoCrop(ConvTranspose2dFunction):
    """Crops the padding from the top-left corner only."""
    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        full = ConvTranspose2dFunction.forward(ctx, x, weight, bias, stride, 0)
        h = (x.shape[2] - 1) * stride - 2 * padding + weight.shape[2]
        w = (x.shape[3] - 1) * stride - 2 * padding + weight.shape[3]
        ctx.padding = padding
        return np.ascontiguousarray(full[:, :, 2 * padding:2 * padding + h,
                                         2 * padding:2 * padding + w])


class ConvTUsesConvLayout(ConvTranspose2dFunction):
    """Reads the weight as (C_out, C_in, k, k), conv2d's layout, not PyTorch's (C_in, C_out)."""
    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        w = np.ascontiguousarray(weight.reshape(weight.shape[1], weight.shape[0],
                                                *weight.shape[2:]).transpose(1, 0, 2, 3))
        return ConvTranspose2dFunction.forward(ctx, x, w, bias, stride, padding)


class ConvTBackwardFlipsTheKernel(ConvTranspose2dFunction):
    """The input gradient computed with the kernel rotated by 180 degrees."""
    @staticmethod
    def backward(ctx, grad):
        weight, x_rows = ctx.saved
        ctx.saved = (np.ascontiguousarray(weight[:, :, ::-1, ::-1]), x_rows)
        grad_x, _, grad_b, a, b = ConvTranspose2dFunction.backward(ctx, grad)
        ctx.saved = (weight, x_rows)
        _, grad_w, _, _, _ = ConvTranspose2dFunction.backward(ctx, grad)
        return grad_x, grad_w, grad_b, a, b


WRONG = {
    "3.1": [im2col_swaps_i_and_j, im2col_pads_one_side, im2col_forgets_the_stride,
            im2col_float64_columns],
    "3.2": [ConvForgetsTheBias, ConvFlipsTheKernel, ConvBiasGradientOverChannels],
    "3.3": [backward_averages_over_the_batch, backward_without_padding,
            backward_weight_not_transposed],
    "4.1": [ConvTNoCrop, ConvTUsesConvLayout, ConvTBackwardFlipsTheKernel],
}
assert conv  # the module the references live in
