"""im2col / col2im: turn a convolution into one matrix multiply.

For a k x k kernel, ``im2col`` copies, for every kernel offset (i, j), the input pixels
that offset touches into a column matrix, as k*k strided slice copies (no Python loop
over pixels, no scatter). ``col2im`` is its adjoint: it adds the columns back into place.
Both run unchanged on NumPy and CuPy.
"""
from ..backend import get_array_module


def conv_output_size(size, kernel_size, stride, padding):
    """Spatial output size of a convolution: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def im2col(x, kernel_size, stride, padding):
    """x: (N, C, H, W) -> col: (C, k, k, N, Ho, Wo).

    col[c, i, j, n, y, x'] = x_padded[n, c, y * stride + i, x' * stride + j].
    Reshaped to (C*k*k, N*Ho*Wo) it multiplies a weight reshaped to (C_out, C*k*k).
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    k, s = kernel_size, stride
    ho, wo = conv_output_size(h, k, s, padding), conv_output_size(w, k, s, padding)
    if padding:
        x = xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    col = xp.empty((c, k, k, n, ho, wo), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            window = x[:, :, i:i + s * ho:s, j:j + s * wo:s]  # (N, C, Ho, Wo)
            col[:, i, j] = window.transpose(1, 0, 2, 3)
    return col


def col2im(col, x_shape, stride, padding):
    """The adjoint of im2col: col (C, k, k, N, Ho, Wo) -> x (N, C, H, W), overlaps summed."""
    xp = get_array_module(col)
    n, c, h, w = x_shape
    k, s = col.shape[1], stride
    ho, wo = col.shape[4], col.shape[5]
    x = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=col.dtype)
    for i in range(k):
        for j in range(k):
            x[:, :, i:i + s * ho:s, j:j + s * wo:s] += col[:, i, j].transpose(1, 0, 2, 3)
    if padding:
        x = xp.ascontiguousarray(x[:, :, padding:padding + h, padding:padding + w])
    return x
