"""2-D convolution and transposed convolution (NCHW, square kernels, PyTorch semantics)."""
from ..backend import get_array_module
from ..tensor import Function
from .im2col import col2im, conv_output_size, im2col


def _rows_to_nchw(out, n, ho, wo):
    """(C, N*Ho*Wo) matmul result -> contiguous (N, C, Ho, Wo) (free when N = 1)."""
    xp = get_array_module(out)
    return xp.ascontiguousarray(out.reshape(-1, n, ho, wo).transpose(1, 0, 2, 3))


def _nchw_to_rows(x):
    """(N, C, H, W) -> (C, N*H*W), the layout im2col's columns use (a view when N = 1)."""
    n, c, h, w = x.shape
    return x.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def _flip(weight):
    """A conv weight (C_out, C_in, k, k) as the transposed conv weight (C_in, C_out, k, k)
    with the kernel rotated by 180 degrees, and back: its own inverse."""
    xp = get_array_module(weight)
    return xp.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])


def conv2d_forward(x, weight, stride, padding):
    """x: (N, C_in, H, W), weight: (C_out, C_in, k, k) -> (out (N, C_out, Ho, Wo), col)."""
    ### BEGIN SOLUTION 3.2
    n = x.shape[0]
    c_out, _, k, _ = weight.shape
    col = im2col(x, k, stride, padding)                     # (C_in, k, k, N, Ho, Wo)
    ho, wo = col.shape[4], col.shape[5]
    col = col.reshape(-1, n * ho * wo)                      # (C_in*k*k, N*Ho*Wo)
    out = weight.reshape(c_out, -1) @ col                   # (C_out, N*Ho*Wo)
    return _rows_to_nchw(out, n, ho, wo), col
    ### END SOLUTION


def conv2d_backward(grad, weight, col, x_shape, stride, padding, needs_x, needs_w):
    """The input and weight gradients of conv2d_forward (None where not needed)."""
    ### BEGIN SOLUTION 3.3
    c_out = weight.shape[0]
    grad_rows = _nchw_to_rows(grad)                         # (C_out, N*Ho*Wo)
    grad_x = grad_w = None
    if needs_x:
        grad_col = weight.reshape(c_out, -1).T @ grad_rows  # (C_in*k*k, N*Ho*Wo)
        n, _, ho, wo = grad.shape
        c_in, k = weight.shape[1], weight.shape[2]
        grad_x = col2im(grad_col.reshape(c_in, k, k, n, ho, wo), x_shape, stride, padding)
    if needs_w:
        grad_w = (grad_rows @ col.T).reshape(weight.shape)
    return grad_x, grad_w
    ### END SOLUTION


def conv_transpose2d_forward(x, weight, stride, padding):
    """x: (N, C_in, H, W), weight: (C_in, C_out, k, k) -> (out, x_rows): a matmul that
    gives every input pixel its weighted k x k kernel, then col2im adds the overlaps."""
    ### BEGIN SOLUTION 4.1
    n, c_in, h, w = x.shape
    _, c_out, k, _ = weight.shape
    ho, wo = (h - 1) * stride - 2 * padding + k, (w - 1) * stride - 2 * padding + k
    x_rows = _nchw_to_rows(x)                                   # (C_in, N*H*W)
    col = weight.reshape(c_in, -1).T @ x_rows                  # (C_out*k*k, N*H*W)
    out = col2im(col.reshape(c_out, k, k, n, h, w), (n, c_out, ho, wo), stride, padding)
    return out, x_rows
    ### END SOLUTION


def conv_transpose2d_backward(grad, weight, x_rows, stride, padding, needs_x, needs_w):
    """The input and weight gradients of conv_transpose2d_forward (None where not needed)."""
    ### BEGIN SOLUTION 4.1
    n = grad.shape[0]
    c_in, _, k, _ = weight.shape
    grad_x = grad_w = None
    col = im2col(grad, k, stride, padding)                     # (C_out, k, k, N, H, W)
    h, w = col.shape[4], col.shape[5]
    col = col.reshape(-1, n * h * w)                           # (C_out*k*k, N*H*W)
    if needs_x:
        grad_x = _rows_to_nchw(weight.reshape(c_in, -1) @ col, n, h, w)
    if needs_w:
        grad_w = (x_rows @ col.T).reshape(weight.shape)
    return grad_x, grad_w
    ### END SOLUTION


class Conv2dFunction(Function):
    """out[n, o] = sum_c sum_ij w[o, c, i, j] * x_pad[n, c, s*y + i, s*x + j] + b[o],
    as im2col + one matrix multiply (lesson 3).

    x: (N, C_in, H, W), weight: (C_out, C_in, k, k), bias: (C_out,) -> (N, C_out, Ho, Wo).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        out, col = conv2d_forward(x, weight, stride, padding)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        # dW needs the columns; dx needs only the weight.
        ctx.save_for_backward(weight, col if ctx.needs_input_grad[1] else None)
        ctx.x_shape, ctx.stride, ctx.padding = x.shape, stride, padding
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, col = ctx.saved
        needs = ctx.needs_input_grad
        grad_x, grad_w = conv2d_backward(grad, weight, col, ctx.x_shape, ctx.stride,
                                         ctx.padding, needs[0], needs[1])
        grad_b = grad.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b, None, None


class Conv2dAsTransposeFunction(Function):
    """The same numbers as Conv2dFunction for stride 1, computed as a transposed conv.

    With stride 1 a convolution *is* a transposed convolution with the kernel rotated by
    180 degrees and padding k - 1 - p. im2col copies every input pixel k*k times; the
    transposed conv's "matmul, then col2im" writes k*k values per *output* pixel and
    channel instead, so with several times fewer output than input channels (the
    PatchGAN's last conv, 512 -> 1: 7x faster) this side is cheaper. conv2d() chooses.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        k = weight.shape[2]
        if stride != 1 or not 0 <= padding <= k - 1:
            raise ValueError(f"Conv2dAsTransposeFunction needs stride 1 and padding <= k - 1 "
                             f"= {k - 1}, got stride {stride}, padding {padding}: use "
                             f"Conv2dFunction")
        flipped = _flip(weight)                                   # (C_in, C_out, k, k)
        out, x_rows = conv_transpose2d_forward(x, flipped, 1, k - 1 - padding)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        ctx.save_for_backward(flipped, x_rows if ctx.needs_input_grad[1] else None)
        ctx.padding = k - 1 - padding
        return out

    @staticmethod
    def backward(ctx, grad):
        flipped, x_rows = ctx.saved
        needs = ctx.needs_input_grad
        grad_x, grad_flipped = conv_transpose2d_backward(grad, flipped, x_rows, 1, ctx.padding,
                                                         needs[0], needs[1])
        grad_w = None if grad_flipped is None else _flip(grad_flipped)
        grad_b = grad.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b, None, None


def runs_as_transpose(weight, stride, padding):
    """Whether conv2d() computes this convolution with Conv2dAsTransposeFunction."""
    c_out, c_in, k, _ = weight.shape
    return stride == 1 and 4 * c_out <= c_in and padding <= k - 1


class ConvTranspose2dFunction(Function):
    """The adjoint of Conv2d with the same weight: forward = matmul + col2im.

    x: (N, C_in, H, W), weight: (C_in, C_out, k, k) (PyTorch's layout)
    -> (N, C_out, (H - 1) * stride - 2 * padding + k, ...).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        out, x_rows = conv_transpose2d_forward(x, weight, stride, padding)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        ctx.save_for_backward(weight, x_rows if ctx.needs_input_grad[1] else None)
        ctx.stride, ctx.padding = stride, padding
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, x_rows = ctx.saved
        needs = ctx.needs_input_grad
        grad_x, grad_w = conv_transpose2d_backward(grad, weight, x_rows, ctx.stride,
                                                   ctx.padding, needs[0], needs[1])
        grad_b = grad.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b, None, None


def _check_conv_input(x, weight, in_axis, name):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != weight.shape[in_axis]:
        raise ValueError(f"{name}: expected input with {weight.shape[in_axis]} channels "
                         f"(N, {weight.shape[in_axis]}, H, W), got shape {tuple(x.shape)}")


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """x: (N, C_in, H, W), weight: (C_out, C_in, k, k), bias: (C_out,) -> (N, C_out, Ho, Wo)."""
    _check_conv_input(x, weight, 1, "conv2d")
    k = weight.shape[2]
    if conv_output_size(x.shape[2], k, stride, padding) < 1 or \
            conv_output_size(x.shape[3], k, stride, padding) < 1:
        raise ValueError(f"conv2d: input {tuple(x.shape)} is smaller than the {k}x{k} kernel "
                         f"(padding {padding})")
    op = Conv2dAsTransposeFunction if runs_as_transpose(weight, stride, padding) else Conv2dFunction
    return op.apply(x, weight, bias, stride=stride, padding=padding)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0):
    """x: (N, C_in, H, W), weight: (C_in, C_out, k, k), bias: (C_out,) -> (N, C_out, Ho, Wo)."""
    _check_conv_input(x, weight, 0, "conv_transpose2d")
    return ConvTranspose2dFunction.apply(x, weight, bias, stride=stride, padding=padding)


# --- naive references: slow and obvious, for teaching and for testing the fast path ----

def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """The definition of a convolution as a loop over output pixels (arrays, forward only)."""
    xp = get_array_module(x)
    n, _, h, w = x.shape
    c_out, _, k, _ = weight.shape
    ho, wo = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    x = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = xp.zeros((n, c_out, ho, wo), dtype=x.dtype)
    for y in range(ho):
        for x_ in range(wo):
            patch = x[:, :, y * stride:y * stride + k, x_ * stride:x_ * stride + k]  # (N,C,k,k)
            out[:, :, y, x_] = xp.tensordot(patch, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def conv_transpose2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Each input pixel stamps its weighted k x k kernel onto the output (arrays, forward only)."""
    xp = get_array_module(x)
    n, _, h, w = x.shape
    _, c_out, k, _ = weight.shape
    full = xp.zeros((n, c_out, (h - 1) * stride + k, (w - 1) * stride + k), dtype=x.dtype)
    for y in range(h):
        for x_ in range(w):
            stamp = xp.tensordot(x[:, :, y, x_], weight, axes=([1], [0]))  # (N, C_out, k, k)
            full[:, :, y * stride:y * stride + k, x_ * stride:x_ * stride + k] += stamp
    out = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out
