"""im2col / col2im: turn a convolution into one matrix multiply.

``im2col_reference`` / ``col2im_reference`` are the textbook form (lesson 3): pad, then
one strided-slice copy per kernel offset. ``im2col`` / ``col2im`` compute exactly the same
arrays in fewer device operations (tested equal in tests/nn/test_teaching_forms.py); the
library runs those. In a student release ``im2col`` is the student's ``im2col_reference``
(exercise 3.1).

For a k x k kernel, the reference copies, for every kernel offset (i, j), the input
pixels that offset touches into a column matrix, as k*k strided slice copies (no Python
loop over pixels, no scatter). ``col2im`` is its adjoint: it adds the columns back.

The fast forms use that every one of those slices is a view of the same padded image
with fixed strides: col[c, i, j, n, y, x'] = x_pad[n, c, y*s + i, x'*s + j] is ONE strided
view (``nn.backend.as_strided``), so im2col is a pad and one copy, two device operations
instead of k*k + 1 (on a GPU every operation is a kernel launch that costs the host
5-10 us). col2im cannot add all k*k offsets at once, because they overlap; but the s*s
offsets i = qi*s + ri, j = qj*s + rj that share (qi, qj) land on disjoint pixels, so one
add through one strided view places all of them: (k/s)^2 adds, 4 for a 4x4 kernel with
stride 2. Both run unchanged on NumPy and CuPy.
"""
from ..backend import as_strided, get_array_module


def conv_output_size(size, kernel_size, stride, padding):
    """Spatial output size of a convolution: floor((size + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


### BEGIN SOLUTION 3.1
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
    xp = get_array_module(x)
    k, s, p = kernel_size, stride, padding
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    col = xp.empty((c, k, k, n, ho, wo), dtype=x.dtype)
    for i in range(k):              # one strided slice per kernel offset (i, j):
        for j in range(k):          # the pixels that offset meets, for every output pixel
            patch = x_pad[:, :, i:i + s * ho:s, j:j + s * wo:s]      # (N, C, Ho, Wo)
            col[:, i, j] = patch.transpose(1, 0, 2, 3)
    return col
### END SOLUTION


def col2im_reference(col, x_shape, stride, padding):
    """The adjoint of im2col_reference: col (C, k, k, N, Ho, Wo) -> x (N, C, H, W).

    Every column entry is added back where im2col copied it from; overlaps sum.
    """
    xp = get_array_module(col)
    c, k, _, n, ho, wo = col.shape
    s, p = stride, padding
    h, w = x_shape[2], x_shape[3]
    x_pad = xp.zeros((n, c, h + 2 * p, w + 2 * p), dtype=col.dtype)
    for i in range(k):
        for j in range(k):
            x_pad[:, :, i:i + s * ho:s, j:j + s * wo:s] += col[:, i, j].transpose(1, 0, 2, 3)
    return x_pad[:, :, p:p + h, p:p + w]     # what fell on the padding is dropped


def _offsets_view(x_pad, k, stride, ho, wo):
    """The view V[c, i, j, n, y, x'] = x_pad[n, c, y*stride + i, x'*stride + j] of a padded
    (N, C, Hp, Wp) image, for i, j < k and every output pixel: no copy, no launch."""
    n, c = x_pad.shape[:2]
    st = x_pad.strides
    return as_strided(x_pad, (c, k, k, n, ho, wo),
                      (st[1], st[2], st[3], st[0], st[2] * stride, st[3] * stride))


### BEGIN FAST 3.1: im2col = im2col_reference
def im2col(x, kernel_size, stride, padding):
    """x: (N, C, H, W) -> col: (C, k, k, N, Ho, Wo), im2col_reference's array.

    col[c, i, j, n, y, x'] = x_padded[n, c, y * stride + i, x' * stride + j].
    Reshaped to (C*k*k, N*Ho*Wo) it multiplies a weight reshaped to (C_out, C*k*k).
    All k*k slices of the reference are one strided view of the padded image: pad, then
    copy that view once.
    """
    xp = get_array_module(x)
    k, s, p = kernel_size, stride, padding
    ho, wo = conv_output_size(x.shape[2], k, s, p), conv_output_size(x.shape[3], k, s, p)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return xp.ascontiguousarray(_offsets_view(x_pad, k, s, ho, wo))
### END FAST


def col2im(col, x_shape, stride, padding):
    """The adjoint of im2col: col (C, k, k, N, Ho, Wo) -> x (N, C, H, W), overlaps summed.

    Offsets i = qi*s + ri with the same qi (ri = 0 .. s-1) meet different rows (a kernel
    position's rows y*s + qi*s + ri differ in ri), likewise columns: so for each (qi, qj)
    one add through a strided view of the padded image places s*s offsets at once,
    (k/s)^2 adds in all (k rounded up to a multiple of s with zero columns). What fell
    on the padding is cut off (a view).
    """
    xp = get_array_module(col)
    c, k, _, n, ho, wo = col.shape
    s = stride
    q = -(-k // s)                                  # offsets per phase: ceil(k / s)
    if q * s != k:                                  # round k up with zero columns
        padded = xp.zeros((c, q * s, q * s, n, ho, wo), dtype=col.dtype)
        padded[:, :k, :k] = col
        col = padded
    # by_offset[qi, qj, c, ri, rj, n, y, x'] = col[c, qi*s + ri, qj*s + rj, n, y, x']
    by_offset = col.reshape(c, q, s, q, s, n, ho, wo).transpose(1, 3, 0, 2, 4, 5, 6, 7)
    h, w = x_shape[2] + 2 * padding, x_shape[3] + 2 * padding
    image = xp.zeros((n, c, max(h, (ho + q - 1) * s), max(w, (wo + q - 1) * s)),
                     dtype=col.dtype)
    for qi in range(q):
        for qj in range(q):
            # the s*s offsets (qi*s + ri, qj*s + rj): pixel (y*s + qi*s + ri, ...)
            block = _offsets_view(image[:, :, qi * s:, qj * s:], s, s, ho, wo)
            block += by_offset[qi, qj]      # block is a view: this adds into the image
    return image[:, :, padding:padding + x_shape[2], padding:padding + x_shape[3]]
