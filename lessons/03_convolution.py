"""Lesson 3: convolution, from the definition to im2col and one matrix multiply.

Every layer of the pix2pix encoder and discriminator is a 4x4 convolution with stride 2
and padding 1 (paper appendix 6.1: "All convolutions are 4x4 spatial filters applied with
stride 2"): each one halves the image, 256 -> 128 -> ... -> 1 in the U-Net encoder.

What you will see:
  1. the definition, as a loop over output pixels (``nn.ops.conv.conv2d_naive``);
  2. the output size formula, and the encoder's 256 -> 128 -> ... -> 1;
  3. im2col: every k x k patch becomes one column of a matrix
     (``nn.ops.im2col.im2col_reference``), so the whole convolution is ONE matrix multiply;
  4. how much faster that is (timed on the spot), and what it costs in memory;
  5. why the library's im2col is one strided view and one copy, timed;
  6. the backward, dW = G col^T, db = sum G, dx = col2im(W^T G), derived and checked;
  7. kernels and feature maps on a real facade photo, and the first layer at init.

Run:  python lessons/03_convolution.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.25): full 2 s, fast 2 s.
"""
# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import (
    FAST,
    REPO,
    list_pictures,
    noise_warning,
    numeric_grad,
    pinned_threads,
    save_figure,
    time_min,
)
from nn.ops.conv import conv2d_naive
from nn.ops.im2col import (
    col2im,
    col2im_reference,
    conv_output_size,
    im2col,
    im2col_reference,
)
from pix2pix.data.images import load_ab_image
from pix2pix.data.pairs import split_ab, transform_half
from pix2pix.data.synthetic import make_ab_image

LESSON = "03_convolution"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The definition
#
# For input x (N, C_in, H, W), weight w (C_out, C_in, k, k), stride s, padding p:
#
#     out[n, o, y, x] = b[o] + sum_c sum_{i,j} w[o, c, i, j] * x_pad[n, c, s*y + i, s*x + j]
#
# (Deep learning's "convolution" is a cross-correlation: the kernel is not flipped.)
# ``conv2d_naive`` is exactly this, one output pixel at a time.

# %%
x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)     # (1, 1, 5, 5)
w = np.zeros((1, 1, 3, 3))                                  # (1, 1, 3, 3)
w[0, 0, 1, 2], w[0, 0, 1, 0] = 1.0, -1.0                    # right neighbour minus left one
out = conv2d_naive(x, w, stride=1, padding=0)               # (1, 1, 3, 3)
print("x:\n", x[0, 0], "\nout = x[y, x+1] - x[y, x-1] (a horizontal derivative):\n", out[0, 0])

# %% [markdown]
# ## 2. Output size
#
#     H_out = floor((H + 2p - k) / s) + 1          4x4, s=2, p=1:  (256 + 2 - 4) / 2 + 1 = 128
#
# The U-Net encoder applies it 8 times (256 -> 1). The 70x70 PatchGAN uses three stride-2
# convs, then two stride-1 convs, each of which loses one pixel: 256 -> 30.

# %%
sizes = [256]
for _ in range(8):
    sizes.append(conv_output_size(sizes[-1], 4, 2, 1))
print("U-Net encoder, 4x4 s2 p1:", " -> ".join(map(str, sizes)))
patch = [256]
for stride in (2, 2, 2, 1, 1):
    patch.append(conv_output_size(patch[-1], 4, stride, 1))
print("PatchGAN, strides 2,2,2,1,1:", " -> ".join(map(str, patch)))

# %% [markdown]
# ## 3. im2col: patches become columns
#
# The naive loop does a tiny dot product per output pixel, in Python. Instead, copy every
# patch into one column of a matrix col (C_in*k*k rows, N*H_out*W_out columns). Then
#
#     out (C_out, N*H_out*W_out) = w.reshape(C_out, C_in*k*k) @ col
#
# is a single matrix multiply, which BLAS (or the GPU) does at full speed. The textbook
# im2col, ``nn.ops.im2col.im2col_reference``, pads the image and then makes k*k strided
# slice copies, one per kernel offset (i, j): offset (i, j) meets pixel
# x_pad[s*y + i, s*x + j] for every output pixel (y, x), i.e. the slice
# x_pad[i : i + s*H_out : s, j : j + s*W_out : s]. No loop over pixels.

# %% [markdown]
# Exercise 3.1: write ``im2col_reference`` now, before the cell below prints the library's
# (grade it: python -m pytest --exercise 3.1); then compare.
#
# ### If you are stuck on exercise 3.1 (im2col)
#
# - Hint 1: the output has shape (C, k, k, N, H_out, W_out); compute H_out and W_out
#   with section 2's formula and pad once with ``np.pad`` on the two spatial axes only.
# - Hint 2: loop over the k*k offsets (i, j), never over pixels: offset (i, j) is the
#   slice ``x_pad[:, :, i : i + s*H_out : s, j : j + s*W_out : s]``, shape (N, C, Ho, Wo).
# - Hint 3: col keeps channels first, so store that slice transposed to (C, N, Ho, Wo)
#   in ``col[:, i, j]``.

# %%
print(inspect.getsource(im2col_reference))

# %% [markdown]
# Look at what it builds on a 6x6 image holding the numbers 0..35:

# %%
x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)     # (1, 1, 6, 6)
col_3x3 = im2col_reference(x, 3, 1, 0)                     # (1, 3, 3, 1, 4, 4)
col_4x4 = im2col_reference(x, 4, 2, 1)                     # (1, 4, 4, 1, 3, 3)
print("im2col 3x3 s1 p0:", col_3x3.shape, "-> matrix", col_3x3.reshape(9, -1).shape)
print("im2col 4x4 s2 p1:", col_4x4.shape, "-> matrix", col_4x4.reshape(16, -1).shape)
print("column 6 of the 3x3 matrix = the patch at output (1, 2):", col_3x3.reshape(9, -1)[:, 6])
print("the library's fast im2col gives the same arrays:",
      np.array_equal(im2col(x, 3, 1, 0), col_3x3), np.array_equal(im2col(x, 4, 2, 1), col_4x4))


def show_matrix(ax, m, title, highlight_col=None):
    """An integer matrix as an image with its numbers written in."""
    ax.imshow(m, cmap="viridis", vmin=-8, vmax=40)
    for (r, c), v in np.ndenumerate(m):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=7,
                color="white" if v < 20 else "black")
    if highlight_col is not None:
        ax.add_patch(plt.Rectangle((highlight_col - 0.5, -0.5), 1, m.shape[0], fill=False,
                                   ec="red", lw=2))
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw=dict(width_ratios=[6, 16, 9]))
show_matrix(axes[0], x[0, 0], "input 6x6")
axes[0].add_patch(plt.Rectangle((1.5, 0.5), 3, 3, fill=False, ec="red", lw=2))
show_matrix(axes[1], col_3x3.reshape(9, -1),
            "im2col, 3x3 s1: 9 rows (kernel offsets) x 16 columns (output pixels)",
            highlight_col=6)
show_matrix(axes[2], col_4x4.reshape(16, -1), "im2col, 4x4 s2 p1: 16 x 9\n(zeros: padding)")
fig.suptitle("Every patch becomes a column (red: the patch under output pixel (1, 2))", y=1.06)
save_figure(fig, LESSON, "im2col_matrix")

# %% [markdown]
# Now the whole convolution as one matrix multiply, against the naive loop and against
# the library's ``F.conv2d`` (which does exactly this inside ``Conv2dFunction``):

# %%
x = rng.standard_normal((2, 3, 9, 9))                      # (N, C_in, H, W)
w = rng.standard_normal((5, 3, 4, 4))                      # (C_out, C_in, k, k)
col = im2col(x, 4, 2, 1)                                   # (3, 4, 4, 2, 4, 4)
n, ho, wo = 2, col.shape[4], col.shape[5]
out_rows = w.reshape(5, -1) @ col.reshape(3 * 4 * 4, -1)   # (5, 48) @ (48, 32) -> (5, 32)
out = out_rows.reshape(5, n, ho, wo).transpose(1, 0, 2, 3)  # (2, 5, 4, 4)
naive = conv2d_naive(x, w, stride=2, padding=1)            # (2, 5, 4, 4)
library = F.conv2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1).data   # (2, 5, 4, 4)
print(f"matmul vs naive: max difference {np.abs(out - naive).max():.1e}; "
      f"library vs naive: {np.abs(library - naive).max():.1e}")

# %% [markdown]
# ## 4. Speed, and the price in memory
#
# The price: col stores every input pixel once per kernel window it falls in,
# k^2 / s^2 = 4 times for 4x4 stride 2 (16 times for a 4x4 stride-1 conv). Fine for
# pix2pix; the GPU and CPU memory holds it easily at batch size 1. The gain, measured on
# this machine now: each time is the minimum of several repeats with BLAS on 1 thread, so
# that the table means the same on a laptop and on a server.

# %%
sizes = [32] if FAST else [32, 64, 128]
spreads = []
with pinned_threads(1):
    print(f"{'input':>16s} {'naive':>9s} {'im2col':>9s} {'speed-up':>9s}")
    for size in sizes:
        x = rng.standard_normal((1, 3, size, size)).astype(np.float32)   # (1, 3, S, S)
        w = rng.standard_normal((64, 3, 4, 4)).astype(np.float32)        # C64 of the encoder
        t_naive, med_naive = time_min(lambda: conv2d_naive(x, w, stride=2, padding=1), 3)
        t_fast, med_fast = time_min(
            lambda: F.conv2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1), 7)
        spreads += [med_naive / t_naive, med_fast / t_fast]
        print(f"{str(x.shape):>16s} {t_naive * 1e3:7.1f}ms {t_fast * 1e3:7.2f}ms "
              f"{t_naive / t_fast:8.0f}x")
print(noise_warning(spreads))

c, s, k = 64, 128, 4  # the second encoder conv: 64 channels in, 128x128 -> 64x64
col_mib = c * k * k * (s // 2) ** 2 * 4 / 2**20
print(f"col for a (1, {c}, {s}, {s}) input, 4x4 s2: {col_mib:.0f} MiB "
      f"vs the input itself {c * s * s * 4 / 2**20:.0f} MiB (float32)")

# %% [markdown]
# ## 5. Why the library's im2col is one strided view and one copy
#
# ``im2col_reference`` makes k*k slice copies, ``x_pad[:, :, i::s, j::s]`` for each kernel
# offset. Look at where each element of col comes from:
#
#     col[c, i, j, n, y, x'] = x_pad[n, c, y*s + i, x'*s + j]
#
# Every index of col moves the read position by a *fixed* number of bytes: one step of c
# moves by x_pad's channel stride, one step of i by a row, one step of j by a column, one
# step of y by s rows, one step of x' by s columns. An array whose index steps are fixed
# byte offsets is exactly what a NumPy (or CuPy) array is: a pointer and one stride per
# axis. So all k*k slices together are ONE view of x_pad with strides
#
#     (stride_c, stride_h, stride_w, stride_n, s * stride_h, s * stride_w)
#
# (``nn.backend.as_strided``), and im2col is a pad plus one copy of that view. Nothing is
# computed, only copied; on a GPU that is 2 kernel launches instead of k*k + 1, which
# matters because each launch costs the host 5-10 microseconds (more than the copy of a
# small layer). ``col2im`` adds back: the k*k offsets overlap, so they cannot go in one
# add, but the s*s offsets (qi*s + ri, qj*s + rj) that share (qi, qj) land on disjoint
# pixels, so one add through one such view places all of them: 4 adds for 4x4, stride 2.
# The cell builds the view by hand on a tiny image and checks it against the reference.

# %%
tiny = rng.standard_normal((1, 2, 6, 6))                     # (N, C, H, W)
k, s, p = 4, 2, 1
ho = conv_output_size(6, k, s, p)                            # 3
tiny_pad = np.pad(tiny, ((0, 0), (0, 0), (p, p), (p, p)))   # (1, 2, 8, 8)
st = tiny_pad.strides                                        # bytes per step of n, c, h, w
view = np.lib.stride_tricks.as_strided(
    tiny_pad, shape=(2, k, k, 1, ho, ho),
    strides=(st[1], st[2], st[3], st[0], s * st[2], s * st[3]))
print("strides of x_pad (n, c, h, w), bytes:", st)
print("strides of the view (c, i, j, n, y, x'):", view.strides)
print("the view equals im2col_reference:", np.array_equal(view, im2col_reference(tiny, k, s, p)),
      "| and the library's im2col:", np.array_equal(view, im2col(tiny, k, s, p)))
print("shares x_pad's memory (no copy yet):", np.shares_memory(view, tiny_pad))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
padded = np.arange(64).reshape(8, 8)
axes[0].imshow(np.zeros((8, 8)), cmap="Greys", vmin=0, vmax=1)
for (r, c_), v in np.ndenumerate(padded):
    axes[0].text(c_, r, v, ha="center", va="center", fontsize=7)
for (i, j), colour in (((0, 0), "red"), ((1, 2), "blue")):
    for y in range(ho):
        for x_ in range(ho):
            axes[0].add_patch(plt.Rectangle((s * x_ + j - 0.5, s * y + i - 0.5), 1, 1,
                                            fill=False, ec=colour, lw=2))
axes[0].set_title("padded 8x8 image: offsets (0, 0) red, (1, 2) blue\n"
                  "each one a 3x3 grid, 2 pixels apart", fontsize=9)
rows = np.lib.stride_tricks.as_strided(padded, (k, k, ho, ho), (padded.strides[0],
                                       padded.strides[1], s * padded.strides[0],
                                       s * padded.strides[1])).reshape(k * k, ho * ho)
axes[1].imshow(rows, cmap="Pastel2", aspect="auto")
for (r, c_), v in np.ndenumerate(rows):                      # which padded pixel each entry is
    axes[1].text(c_, r, v, ha="center", va="center", fontsize=6)
axes[1].set_title("the same view as im2col's matrix:\n16 offsets x 9 output pixels", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
save_figure(fig, LESSON, "one_strided_view")

# %% [markdown]
# What it buys, measured now (minimum of repeats, 1 thread) on the inputs of the
# encoder's first and second convs: the reference's k*k slice copies (and col2im's k*k
# adds) against one copy (and (k/s)^2 adds). On a CPU the gain depends on the shape and
# the caches; read the numbers your machine prints, not a promise.

# %%
shapes = [(1, 3, 64, 64)] if FAST else [(1, 3, 256, 256), (1, 64, 128, 128)]
spreads = []
with pinned_threads(1):
    print(f"{'input':>18s} {'':>7s} {'reference':>10s} {'library':>9s} {'speed-up':>9s}  (4x4 s2 p1)")
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)              # (1, C, S, S)
        cols = im2col(x, 4, 2, 1)                                      # (C, 4, 4, 1, S/2, S/2)
        for name, ref, fast in (("im2col", lambda: im2col_reference(x, 4, 2, 1),
                                 lambda: im2col(x, 4, 2, 1)),
                                ("col2im", lambda: col2im_reference(cols, shape, 2, 1),
                                 lambda: col2im(cols, shape, 2, 1))):
            (t_ref, med_ref), (t_fast, med_fast) = time_min(ref, 7), time_min(fast, 7)
            spreads += [med_ref / t_ref, med_fast / t_fast]
            print(f"{str(shape):>18s} {name:>7s} {t_ref * 1e3:8.2f}ms {t_fast * 1e3:7.2f}ms "
                  f"{t_ref / t_fast:8.1f}x")
print(noise_warning(spreads))
assert np.array_equal(col2im(cols, shape, 2, 1), col2im_reference(cols, shape, 2, 1))

# %% [markdown]
# ## 6. Deriving the backward: two more matrix multiplies
#
# Write the forward in matrix form. With col = im2col(x), shape (C_in*k*k, P) where
# P = N*H_out*W_out, and W the weight as a (C_out, C_in*k*k) matrix:
#
#     Y = W col + b 1^T                 (C_out, P);   y[n, o, yy, xx] is column (n, yy, xx)
#
# Let G = dL/dY in the same layout (the upstream gradient, reshaped). Derive each
# gradient from one entry and check it on a tiny conv in the next cell.
#
# **dW.** Y_op = sum_r W_or col_rp + b_o, so dY_op/dW_or = col_rp and
#
#     dL/dW_or = sum_p G_op col_rp          dW = G col^T          (C_out, C_in*k*k)
#
# **db.** dY_op/db_o = 1 for every p: db_o = sum_p G_op, the upstream summed over N, H, W
# (b is broadcast over all P columns: lesson 1's rule).
#
# **dcol, then dx.** dL/dcol_rp = sum_o G_op W_or, i.e. dcol = W^T G (C_in*k*k, P). But
# col is a *copy* of x in which each pixel appears in up to k^2/s^2 windows: the same
# pixel used several times, so its gradient is the sum over its copies (lesson 1 again).
# Adding every column back where im2col took it from is exactly ``col2im``, the adjoint:
#
#     dx = col2im(W^T G)
#
# Step by step on x (1, 2, 5, 5), W (3, 2, 3, 3), stride 2, padding 1, with the library's
# autograd as the referee and finite differences as the judge:

# %%
x = rng.standard_normal((1, 2, 5, 5))                      # (N, C_in, H, W)
w = rng.standard_normal((3, 2, 3, 3))                      # (C_out, C_in, k, k)
b = rng.standard_normal(3)                                 # (C_out,)
col6 = im2col_reference(x, 3, 2, 1)                        # (2, 3, 3, 1, 3, 3)
col = col6.reshape(2 * 3 * 3, -1)                          # (18, P = 9)
W = w.reshape(3, -1)                                       # (3, 18)
Y = W @ col + b[:, None]                                   # (3, 9)
y = Y.reshape(3, 1, 3, 3).transpose(1, 0, 2, 3)            # (1, 3, 3, 3) = (N, C_out, Ho, Wo)
g = rng.standard_normal(y.shape)                           # dL/dy, L = sum(g * y)
G = g.transpose(1, 0, 2, 3).reshape(3, -1)                 # (3, 9): Y's layout
print(f"forward: max |W col + b - conv2d_naive| = "
      f"{np.abs(y - conv2d_naive(x, w, b, stride=2, padding=1)).max():.1e}")

# %%
dW = (G @ col.T).reshape(w.shape)                          # (3, 18) -> (3, 2, 3, 3)
db = G.sum(axis=1)                                         # (3,)
dcol = W.T @ G                                             # (18, 9)
dx = col2im_reference(dcol.reshape(col6.shape), x.shape, 2, 1)   # (1, 2, 5, 5)

xt, wt, bt = (nn.Tensor(a, requires_grad=True) for a in (x, w, b))
F.conv2d(xt, wt, bt, stride=2, padding=1).backward(g)      # the library's backward


L = lambda x_, w_, b_: (g * conv2d_naive(x_, w_, b_, stride=2, padding=1)).sum()  # noqa: E731
for name, ours, lib, num in (
        ("dW = G col^T", dW, wt.grad, numeric_grad(lambda w_: L(x, w_, b), w)),
        ("db = sum of G", db, bt.grad, numeric_grad(lambda b_: L(x, w, b_), b)),
        ("dx = col2im(W^T G)", dx, xt.grad, numeric_grad(lambda x_: L(x_, w, b), x))):
    print(f"{name:<20s} vs library {np.abs(ours - lib).max():.1e}, "
          f"vs finite differences {np.abs(ours - num).max():.1e}")

# %% [markdown]
# Lesson 4 shows that "matmul then col2im", which computed dx here, is also exactly a
# transposed convolution.
#
# ### If you are stuck on exercise 3.2 (Conv2dFunction forward)
#
# - Hint 1: forward is the cell above: im2col, reshape the weight to (C_out, C_in*k*k),
#   one matmul, then reshape (C_out, N, Ho, Wo) and transpose to (N, C_out, Ho, Wo).
# - Hint 2: add the bias as ``b.reshape(1, -1, 1, 1)``, and save the columns and the
#   weight (``ctx.save_for_backward``): backward needs col for dW and W for dx.
#
# ### If you are stuck on exercise 3.3 (the conv backward)
#
# - Hint 1: bring the upstream gradient into Y's layout first: (N, C_out, Ho, Wo) ->
#   transpose(1, 0, 2, 3) -> reshape(C_out, -1).
# - Hint 2: dW = G @ col.T reshaped to the weight's shape; db = G summed over its
#   columns (None when there is no bias).
# - Hint 3: dx = col2im(W.T @ G reshaped to col's 6-D shape, x.shape, stride, padding);
#   not a reshape of W.T @ G, because overlapping windows must add up.

# %% [markdown]
# ## 7. Kernels and feature maps on a real facade
#
# We load the photo half of the first CMP Facades training image (pix2pix's facades data)
# when it is on this machine, and otherwise a synthetic facade.

# %%
def load_facade(size):
    """Photo half of facades/train/1.jpg as (3, size, size) float32 in [-1, 1], and where
    it came from; a synthetic facade (pix2pix.data.synthetic) if the data set is absent."""
    repo = REPO
    for path in (repo.parent / "shared/facades/train/1.jpg", repo / "datasets/facades/train/1.jpg"):
        if path.exists():
            photo, _labels = split_ab(load_ab_image(path))
            return transform_half(photo, size), str(path)
    photo, _labels = split_ab(make_ab_image(0, size))
    return transform_half(photo, size), "synthetic facade (pix2pix.data.synthetic.make_ab_image)"


size = 128 if FAST else 256
image, source = load_facade(size)  # try it
print("image", image.shape, "from", source)

# %% [markdown]
# Four hand-made 3x3 kernels, applied to the brightness (the same kernel on R, G and B,
# divided by 3): vertical edges, horizontal edges, edges in every direction (Laplacian),
# and a blur. The windows, cornices and balconies of a facade light them up.

# %%
kernels = {
    "vertical edges": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "blur": [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
}
edge_conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)      # (1, 3, S, S) -> (1, 4, S, S)
for o, kernel in enumerate(kernels.values()):
    kernel = np.array(kernel, dtype=np.float32)
    edge_conv.weight.data[o] = kernel / (3 * (9 if kernel.sum() == 9 else 1))
with nn.no_grad():
    maps = edge_conv(nn.Tensor(image[None])).data[0]       # (4, S, S)

fig, axes = plt.subplots(2, 5, figsize=(14, 6))
axes[0, 0].imshow((image.transpose(1, 2, 0) + 1) / 2)
axes[0, 0].set_title("input photo", fontsize=9)
axes[1, 0].axis("off")
for o, (name, kernel) in enumerate(kernels.items()):
    kernel = np.array(kernel)
    axes[0, o + 1].imshow(kernel, cmap="RdBu_r", vmin=-4, vmax=4)
    for (r, c), v in np.ndenumerate(kernel):
        axes[0, o + 1].text(c, r, f"{v:g}", ha="center", va="center", fontsize=10)
    axes[0, o + 1].set_title(f"kernel: {name}" + (" (x 1/9)" if name == "blur" else ""),
                             fontsize=9)
    axes[1, o + 1].imshow(maps[o] if name == "blur" else np.abs(maps[o]), cmap="gray")
    axes[1, o + 1].set_title("|feature map|" if name != "blur" else "feature map", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"3x3 kernels (top) and what they pick out of a {size}x{size} facade (bottom)")
save_figure(fig, LESSON, "kernels_and_feature_maps")

# %% [markdown]
# ## 8. The paper's first layer, as it starts training
#
# G's first layer is C64 without BatchNorm: ``Conv2d(3, 64, 4, stride=2, padding=1)``,
# weights drawn from N(0, 0.02) (paper Sec. 6.2, "weights initialized from a Gaussian
# distribution with mean 0 and standard deviation 0.02"). Untrained, its kernels are
# random 4x4x3 patterns, and each map is a random weighted sum of the colours in a 4x4
# window. Neighbouring pixels of a photo are similar, so that sum is mostly a smoothed
# copy of the image's brightness (positive or negative, and faint: the weights are
# small), at half the resolution, with weak edges where a kernel's weights happen to
# differ from one side to the other. The cell measures it: the correlation of each map
# with the photo's brightness, averaged over 2x2 blocks. (What training makes of these
# kernels is not shown here: that needs a trained G.)

# %%
first = nn.Conv2d(3, 64, 4, stride=2, padding=1, bias=False)   # (1, 3, S, S) -> (1, 64, S/2, S/2)
nn.init.normal_(first.weight, 0.0, 0.02, np.random.default_rng(1))
with nn.no_grad():
    maps = first(nn.Tensor(image[None])).data[0]               # (64, S/2, S/2)
print("first layer:", image[None].shape, "->", (1,) + maps.shape)
grey = image.mean(axis=0)                                     # (S, S) brightness
grey2 = grey.reshape(size // 2, 2, size // 2, 2).mean(axis=(1, 3))   # (S/2, S/2)
corr = np.array([abs(np.corrcoef(m.ravel(), grey2.ravel())[0, 1]) for m in maps])
print(f"|correlation| of the 64 maps with the photo's brightness: median {np.median(corr):.2f}, "
      f"{np.mean(corr > 0.8):.0%} of maps above 0.8; map std {maps.std():.3f} vs photo "
      f"{grey.std():.3f}")

fig, axes = plt.subplots(2, 8, figsize=(15, 4.4))
for o in range(8):
    k_img = first.weight.data[o].transpose(1, 2, 0)            # (4, 4, 3) as an RGB patch
    axes[0, o].imshow((k_img - k_img.min()) / (np.ptp(k_img) + 1e-12))
    axes[0, o].set_title(f"kernel {o} (RGB)", fontsize=8)
    axes[1, o].imshow(maps[o], cmap="gray")
    axes[1, o].set_title(f"map {o}: {maps.shape[1]}x{maps.shape[2]}", fontsize=8)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Encoder C64 at initialisation: 4x4 kernels ~ N(0, 0.02) and their stride-2 maps")
save_figure(fig, LESSON, "first_layer_at_init")

list_pictures()

# %% [markdown]
# ## Summary
#
# - A convolution is a dot product of the kernel with every k x k patch:
#   H_out = floor((H + 2p - k) / s) + 1, so 4x4 s2 p1 halves (256 -> 128).
# - im2col copies the patches into columns (k*k strided slice copies), and the whole
#   convolution becomes one matrix multiply: much faster than the loop, at k^2/s^2 times
#   the input's memory. All k*k slices are one strided view of the padded image, so the
#   library's im2col is a pad and one copy (2 GPU launches, not k*k + 1).
# - Backward, derived entry by entry: dW = G col^T, db = sum of G, dx = col2im(W^T G)
#   (col2im adds the copies back: a pixel in several windows gets the sum).
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 3.1  ``im2col_reference(x, kernel_size, stride, padding)`` (section 3; in your release
#      the library's ``im2col`` is this function).
#      Grade it:   python -m pytest --exercise 3.1
# 3.2  ``Conv2dFunction``'s forward: im2col + one matmul + bias (section 6).
#      Grade it:   python -m pytest --exercise 3.2
# 3.3  The conv backward on its own, ``conv2d_backward``: dx = col2im(W^T G) and dW (section 6;
#      the bias gradient stays in the Function).
#      Grade it:   python -m pytest --exercise 3.3
# 3.4  (no grader) Design a 3x3 kernel that responds to diagonal edges and show its map.
#
# Next: python lessons/04_transposed_convolution.py
