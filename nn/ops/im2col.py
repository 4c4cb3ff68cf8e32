"""im2col / col2im: turn a convolution into one matrix multiply.

``im2col_reference`` / ``col2im_reference`` are the textbook form (lesson 3): pad, then
one strided-slice copy per kernel offset. ``im2col`` / ``col2im`` compute exactly the same
arrays faster (tested equal in tests/nn/test_teaching_forms.py); the library runs those.
In a student release ``im2col`` is the student's ``im2col_reference`` (exercise 3.1).

For a k x k kernel, the reference copies, for every kernel offset (i, j), the input
pixels that offset touches into a column matrix, as k*k strided slice copies (no Python
loop over pixels, no scatter). ``col2im`` is its adjoint: it adds the columns back.

With stride s, offset (i, j) reads every s-th pixel. Reading (or adding into) every s-th
float is slow, so the fast forms first split the zero-padded image into its s*s *phases*
``x_pad[:, :, a::s, b::s]``: offset (i, j) then touches a plain contiguous block of phase
(i % s, j % s), starting at row i // s, column j // s. All k*k blocks are then one strided
view of the phases (``nn.backend.as_strided``), copied once: on a GPU every copy is a
kernel launch, so im2col costs s*s + 2 launches instead of k*k + s*s + 1, and col2im
(k/s)^2 + 2. Both run unchanged on NumPy and CuPy.
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


def _phase_slices(size, stride, padding):
    """Where input rows a0, a0 + s, a0 + 2s, ... go: padded, row a0 + t*s is row
    a0 + p + t*s, which is row (a0 + p) // s + t of phase (a0 + p) % s.
    Returns (a0, phase, slice of that phase's rows) for a0 = 0 .. s-1 (columns alike)."""
    out = []
    for a0 in range(stride):
        first, count = (a0 + padding) // stride, len(range(a0, size, stride))
        out.append((a0, (a0 + padding) % stride, slice(first, first + count)))
    return out


def _phase_shape(x_shape, kernel_size, stride, padding):
    """(s, s, C, N, Hq, Wq): the phases of the padded input, channels first (col's order)."""
    n, c, h, w = x_shape
    ho = conv_output_size(h, kernel_size, stride, padding)
    wo = conv_output_size(w, kernel_size, stride, padding)
    # Rows of a phase: enough for the last kernel offset (row (k-1)//s + Ho - 1) and
    # for the last input row.
    hq = max(ho + (kernel_size - 1) // stride, (h - 1 + padding) // stride + 1)
    wq = max(wo + (kernel_size - 1) // stride, (w - 1 + padding) // stride + 1)
    return (stride, stride, c, n, hq, wq), ho, wo


def _phases_of(x, kernel_size, stride, padding):
    """(phases, Ho, Wo): phases[a, b, c, n, t, u] = x_padded[n, c, t*s + a, u*s + b], the
    padding 0. One zero fill and s*s strided copies, each reading every s-th pixel once."""
    xp = get_array_module(x)
    s = stride
    shape, ho, wo = _phase_shape(x.shape, kernel_size, s, padding)
    phases = xp.zeros(shape, dtype=x.dtype)
    for a0, a, rows in _phase_slices(x.shape[2], s, padding):
        for b0, b, cols in _phase_slices(x.shape[3], s, padding):
            phases[a, b, :, :, rows, cols] = x[:, :, a0::s, b0::s].transpose(1, 0, 2, 3)
    return phases, ho, wo


### BEGIN FAST 3.1: im2col = im2col_reference
def im2col(x, kernel_size, stride, padding):
    """x: (N, C, H, W) -> col: (C, k, k, N, Ho, Wo).

    col[c, i, j, n, y, x'] = x_padded[n, c, y * stride + i, x' * stride + j].
    Reshaped to (C*k*k, N*Ho*Wo) it multiplies a weight reshaped to (C_out, C*k*k).

    Write i = qi*s + ri: col[c, i, j, n, y, x'] = phases[ri, rj, c, n, qi + y, qj + x'],
    a plain strided view of the phases, copied once. k rounds up to q*s offsets (the extra
    ones stay inside the phases) and are cut off again when s does not divide k.
    """
    xp = get_array_module(x)
    k, s = kernel_size, stride
    q = -(-k // s)                                  # offsets per phase: ceil(k / s)
    phases, ho, wo = _phases_of(x, k, s, padding)   # (s, s, C, N, Hq, Wq)
    st = phases.strides
    view = as_strided(phases, (x.shape[1], q, s, q, s, x.shape[0], ho, wo),
                      (st[2], st[4], st[0], st[5], st[1], st[3], st[4], st[5]))
    col = xp.ascontiguousarray(view).reshape(x.shape[1], q * s, q * s, x.shape[0], ho, wo)
    return col if q * s == k else xp.ascontiguousarray(col[:, :k, :k])
### END FAST


def col2im(col, x_shape, stride, padding):
    """The adjoint of im2col: col (C, k, k, N, Ho, Wo) -> x (N, C, H, W), overlaps summed.

    The offsets i = qi*s + ri that share qi land on the same rows of different phases, so
    one add per (qi, qj) places all s*s of them; then one copy interleaves the phases
    back into the padded image, and the padding is cut off (a view).
    """
    xp = get_array_module(col)
    c, k, _, n = col.shape[:4]
    s = stride
    q = -(-k // s)
    shape, ho, wo = _phase_shape(x_shape, k, s, padding)
    if q * s != k:                                  # round k up with zero columns
        padded = xp.zeros((c, q * s, q * s, n, ho, wo), dtype=col.dtype)
        padded[:, :k, :k] = col
        col = padded
    # by_offset[qi, qj, ri, rj, c, n, y, x'] = col[c, qi*s + ri, qj*s + rj, n, y, x']
    by_offset = col.reshape(c, q, s, q, s, n, ho, wo).transpose(1, 3, 2, 4, 0, 5, 6, 7)
    phases = xp.zeros(shape, dtype=col.dtype)       # (s, s, C, N, Hq, Wq)
    for qi in range(q):
        for qj in range(q):
            block = phases[:, :, :, :, qi:qi + ho, qj:qj + wo]
            block += by_offset[qi, qj]   # not phases[...] +=: that also writes block back
    # Interleave in one copy: the padded image's row t*s + a, column u*s + b is
    # phases[a, b, :, :, t, u]; written through a strided view of the image, read in order.
    image = xp.empty((n, c, shape[4] * s, shape[5] * s), dtype=col.dtype)
    st = image.strides
    as_strided(image, shape, (st[2], st[3], st[1], st[0], st[2] * s, st[3] * s))[...] = phases
    return image[:, :, padding:padding + x_shape[2], padding:padding + x_shape[3]]
