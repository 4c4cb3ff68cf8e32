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


### BEGIN SOLUTION 3.3
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


### BEGIN SOLUTION 3.2
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
        n = x.shape[0]
        c_out, _, k, _ = weight.shape
        col = im2col(x, k, stride, padding)                     # (C_in, k, k, N, Ho, Wo)
        ho, wo = col.shape[4], col.shape[5]
        col = col.reshape(-1, n * ho * wo)                      # (C_in*k*k, N*Ho*Wo)
        out = _rows_to_nchw(weight.reshape(c_out, -1) @ col, n, ho, wo)
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
### END SOLUTION


### BEGIN SOLUTION 4.1
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
        n, c_in, h, w = x.shape
        _, c_out, k, _ = weight.shape
        ho, wo = (h - 1) * stride - 2 * padding + k, (w - 1) * stride - 2 * padding + k
        x_rows = _nchw_to_rows(x)                                   # (C_in, N*H*W)
        col = weight.reshape(c_in, -1).T @ x_rows                  # (C_out*k*k, N*H*W)
        out = col2im(col.reshape(c_out, k, k, n, h, w), (n, c_out, ho, wo), stride, padding)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        ctx.save_for_backward(weight, x_rows if ctx.needs_input_grad[1] else None)
        ctx.stride, ctx.padding = stride, padding
        return out

    @staticmethod
    def backward(ctx, grad):
        weight, x_rows = ctx.saved
        needs = ctx.needs_input_grad
        n = grad.shape[0]
        c_in, _, k, _ = weight.shape
        col = im2col(grad, k, ctx.stride, ctx.padding)             # (C_out, k, k, N, H, W)
        h, w = col.shape[4], col.shape[5]
        col = col.reshape(-1, n * h * w)                           # (C_out*k*k, N*H*W)
        grad_x = _rows_to_nchw(weight.reshape(c_in, -1) @ col, n, h, w) if needs[0] else None
        grad_w = (x_rows @ col.T).reshape(weight.shape) if needs[1] else None
        grad_b = grad.sum(axis=(0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return grad_x, grad_w, grad_b, None, None
### END SOLUTION


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
        # ConvTranspose2dFunction fills ctx with what its own backward needs.
        return ConvTranspose2dFunction.forward(ctx, x, _flip(weight), bias, 1, k - 1 - padding)

    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_flipped, grad_b, _, _ = ConvTranspose2dFunction.backward(ctx, grad)
        grad_w = None if grad_flipped is None else _flip(grad_flipped)
        return grad_x, grad_w, grad_b, None, None


def runs_as_transpose(weight, stride, padding):
    """Whether conv2d() computes this convolution with Conv2dAsTransposeFunction."""
    c_out, c_in, k, _ = weight.shape
    return stride == 1 and 4 * c_out <= c_in and padding <= k - 1


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
