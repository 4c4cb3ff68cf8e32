"""Lesson 4: transposed convolution, the adjoint of convolution.

The U-Net decoder doubles the image at every step, 1 -> 2 -> ... -> 256, with 4x4
transposed convolutions of stride 2 (paper appendix 6.1.1: "the decoder upsamples by a
factor of 2"). A transposed convolution is not an inverse of a convolution; it is its
*adjoint* (its transpose, as a matrix), which is why it is also exactly what a
convolution's backward pass computes.

What you will see:
  1. a convolution as a matrix, and the transposed convolution as its transpose;
  2. the adjoint identity <conv(x), y> = <x, convT(y)>, checked numerically;
  3. the output size (H - 1) s - 2p + k, and the decoder's 1 -> 256;
  4. why convT's forward is "matmul + col2im" and its input-gradient a plain conv;
  5. its backward (dy = conv(g), dW = Y im2col(g)^T, db) derived from the adjoint, checked;
  6. checkerboard artefacts: where the k x k stamps overlap unevenly.

Run:  python lessons/04_transposed_convolution.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.31): full 2 s, fast 2 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import (
    FAST,
    list_pictures,
    noise_warning,
    numeric_grad,
    pinned_threads,
    save_figure,
    time_min,
)
from nn.ops.conv import ConvTranspose2dFunction, conv_transpose2d_naive
from nn.ops.im2col import col2im_reference, conv_output_size, im2col_reference

LESSON = "04_transposed_convolution"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A convolution is a matrix
#
# A convolution is linear in x, so for a fixed weight it is a matrix M: flatten x (16
# numbers for a 4x4 image) and y = M x (4 numbers for the 2x2 output of a 4x4 s2 p1
# conv). We can read M off column by column: column j is conv(e_j), the output for an
# image that is 1 at pixel j and 0 elsewhere. Do the same for ``conv_transpose2d`` with
# the same weight, and you get M's transpose.

# %%
def matrix_of(linear_fn, in_shape):
    """The matrix of a linear map on arrays of in_shape: column j = fn(e_j), flattened."""
    columns = []
    for j in range(int(np.prod(in_shape))):
        e = np.zeros(in_shape)
        e.flat[j] = 1.0
        columns.append(linear_fn(e).ravel())
    return np.stack(columns, axis=1)


w = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)                   # (C_out=1, C_in=1, 4, 4)
conv = lambda x: F.conv2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1).data  # noqa: E731
conv_t = lambda y: F.conv_transpose2d(  # noqa: E731
    nn.Tensor(y), nn.Tensor(w), stride=2, padding=1).data
M = matrix_of(conv, (1, 1, 4, 4))          # conv: (1, 1, 4, 4) -> (1, 1, 2, 2), so M is 4 x 16
T = matrix_of(conv_t, (1, 1, 2, 2))        # convT: (1, 1, 2, 2) -> (1, 1, 4, 4), so T is 16 x 4
print("conv matrix", M.shape, " convT matrix", T.shape, " T == M^T:", np.array_equal(T, M.T))

fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw=dict(width_ratios=[16, 6]),
                         constrained_layout=True)
for ax, m, title in ((axes[0], M, "conv 4x4 s2 p1: 4x4 image -> 2x2, matrix 4 x 16"),
                     (axes[1], T, "convT, same weight: 2x2 -> 4x4,\n"
                                  "matrix 16 x 4 = the transpose")):
    ax.imshow(m, cmap="Blues", vmin=0, vmax=20)
    for (r, c), v in np.ndenumerate(m):
        if v:
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("input pixel")
    ax.set_ylabel("output pixel")
fig.suptitle("Kernel entries 1..16: each output pixel is one row; zeros (white) mark pixels "
             "outside the window")
save_figure(fig, LESSON, "conv_matrix_and_transpose")

# %% [markdown]
# ## 2. The adjoint identity
#
# "T = M^T" means, for every x and y: <M x, y> = <x, M^T y>. With many channels and a
# batch, the conv weight (C_out, C_in, k, k) is *the same array* as the transposed conv's
# weight in PyTorch's layout (in_channels, out_channels, k, k) = (C_out, C_in, k, k).

# %%
x = rng.standard_normal((2, 3, 8, 8))          # (N, C_in, H, W)
w = rng.standard_normal((5, 3, 4, 4))          # conv: (C_out, C_in, k, k); convT: (in, out, k, k)
y = rng.standard_normal((2, 5, 4, 4))          # (N, C_out, H/2, W/2)
lhs = (F.conv2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1).data * y).sum()
rhs = (x * F.conv_transpose2d(nn.Tensor(y), nn.Tensor(w), stride=2, padding=1).data).sum()
print(f"<conv(x), y> = {lhs:.12f}\n<x, convT(y)> = {rhs:.12f}   (relative difference "
      f"{abs(lhs - rhs) / abs(lhs):.1e})")

# %% [markdown]
# ## 3. Output size
#
#     H_out = (H - 1) * s - 2p + k          4x4, s=2, p=1:  (128 - 1) * 2 - 2 + 4 = 256
#
# This inverts the conv's size formula, but not uniquely: a 4x4 s2 p1 conv sends both 8
# and 9 pixels to 4 (the floor), and convT always answers 8. (PyTorch's
# ``output_padding`` picks the other one; pix2pix only needs powers of two.)

# %%
def conv_t_output_size(size, kernel_size, stride, padding):
    return (size - 1) * stride - 2 * padding + kernel_size


sizes = [1]
for _ in range(8):
    sizes.append(conv_t_output_size(sizes[-1], 4, 2, 1))
print("U-Net decoder, 4x4 s2 p1:", " -> ".join(map(str, sizes)))
print("conv sends 8 and 9 to", conv_output_size(8, 4, 2, 1), "and", conv_output_size(9, 4, 2, 1),
      "; convT sends 4 to", conv_t_output_size(4, 4, 2, 1))
up = nn.ConvTranspose2d(512, 256, 4, stride=2, padding=1, bias=False)
y = up(nn.Tensor(np.zeros((1, 512, 16, 16), np.float32)))   # (1, 512, 16, 16) -> (1, 256, 32, 32)
print("ConvTranspose2d(512, 256, 4, 2, 1): (1, 512, 16, 16) ->", y.shape)

# %% [markdown]
# ## 4. Forward = matmul + col2im; input-gradient = a plain conv
#
# The fast conv (lesson 3) is conv(x) = W @ im2col(x): a copy (im2col, call it P) then a
# matrix multiply. Transposing a product reverses it:
#
#     conv   = W P          ->      convT = (W P)^T = P^T W^T = col2im(W^T @ y)
#
# So convT's forward is a matmul followed by col2im (P^T: add every column back into
# place), and since the transpose of convT is conv again, convT's gradient with respect to
# its input IS a convolution of the upstream gradient with the same weight.
# The naive version reads the same thing another way: every input pixel *stamps* its
# value times the k x k kernel onto the output, and overlapping stamps add up.

# %%
x = nn.Tensor(rng.standard_normal((1, 3, 4, 4)), requires_grad=True)   # (1, 3, 4, 4)
w = nn.Tensor(rng.standard_normal((3, 2, 4, 4)))                       # (C_in=3, C_out=2, 4, 4)
out = ConvTranspose2dFunction.apply(x, w, None, stride=2, padding=1)   # (1, 2, 8, 8)
stamped = conv_transpose2d_naive(x.data, w.data, stride=2, padding=1)  # (1, 2, 8, 8)
g = rng.standard_normal(out.shape)                                     # dL/d(out): (1, 2, 8, 8)
out.backward(g)
as_conv = F.conv2d(nn.Tensor(g), w, stride=2, padding=1).data          # (1, 3, 4, 4)
print(f"matmul + col2im vs stamping: max difference {np.abs(out.data - stamped).max():.1e}")
print(f"dL/dx from backward vs conv2d(g, w): max difference {np.abs(x.grad - as_conv).max():.1e}")

# %% [markdown]
# ## 5. Deriving convT's backward from the adjoint, step by step
#
# Exercise 4.1 asks for ``ConvTranspose2dFunction``. Write its weight w (C_in, C_out, k, k)
# as a matrix W (C_in, C_out*k*k), its input y (N, C_in, H, W) as Y (C_in, P) with
# P = N*H*W, and the upstream gradient g (N, C_out, H_out, W_out). Each step is checked
# on a tiny case in the cell below it.
#
# **Forward.** convT is the transpose of conv (section 4): out = col2im(W^T Y), where
# W^T Y has shape (C_out*k*k, P): one column of k x k stamps per input pixel, which
# col2im adds into place.
#
# **dL/dy.** L = <g, convT(y)> is linear in y, and by the adjoint identity
# <g, convT(y)> = <conv(g), y>. So dL/dy = conv(g) with the same weight: im2col(g), then
# the matmul W @ im2col(g), (C_in, P). No col2im in the backward.
#
# **dL/dW.** Same trick, one level down: col2im's adjoint is im2col, so
# <g, col2im(W^T Y)> = <im2col(g), W^T Y> = sum_{r,p} col_g[r, p] (W^T Y)[r, p]. Then
# d/dW^T of <C, W^T Y> is C Y^T, so dW^T = im2col(g) Y^T, i.e. dW = Y im2col(g)^T,
# (C_in, C_out*k*k). The same columns im2col(g) serve both gradients.
#
# **dL/db.** The bias is added to every output pixel: g summed over N, H_out, W_out.

# %%
y = rng.standard_normal((1, 2, 3, 3))                         # (N, C_in, H, W)
w = rng.standard_normal((2, 3, 4, 4))                         # (C_in, C_out, k, k)
b = rng.standard_normal(3)                                    # (C_out,)
Y = y.transpose(1, 0, 2, 3).reshape(2, -1)                    # (C_in, P = 9)
W = w.reshape(2, -1)                                          # (C_in, C_out*k*k = 48)
stamps = (W.T @ Y).reshape(3, 4, 4, 1, 3, 3)                  # (C_out, k, k, N, H, W)
out = col2im_reference(stamps, (1, 3, 6, 6), 2, 1) + b.reshape(1, -1, 1, 1)   # (1, 3, 6, 6)
library = F.conv_transpose2d(nn.Tensor(y), nn.Tensor(w), nn.Tensor(b), stride=2, padding=1)
print(f"forward col2im(W^T Y) + b vs F.conv_transpose2d: "
      f"{np.abs(out - library.data).max():.1e}")

# %%
g = rng.standard_normal(out.shape)                            # dL/d(out): (1, 3, 6, 6)
col_g = im2col_reference(g, 4, 2, 1).reshape(48, -1)          # (C_out*k*k, P = 9)
dy = (W @ col_g).reshape(2, 1, 3, 3).transpose(1, 0, 2, 3)    # (1, 2, 3, 3)
dW = (Y @ col_g.T).reshape(w.shape)                           # (2, 3, 4, 4)
db = g.sum(axis=(0, 2, 3))                                    # (3,)


L = lambda y_, w_, b_: (g * conv_transpose2d_naive(y_, w_, b_, stride=2,  # noqa: E731
                                                   padding=1)).sum()
for name, ours, num in (("dy = W im2col(g) = conv(g)", dy, numeric_grad(lambda y_: L(y_, w, b), y)),
                        ("dW = Y im2col(g)^T", dW, numeric_grad(lambda w_: L(y, w_, b), w)),
                        ("db = sum of g", db, numeric_grad(lambda b_: L(y, w, b_), b))):
    print(f"{name:<27s} vs finite differences {np.abs(ours - num).max():.1e}")
print(f"dy vs conv2d(g, w): {np.abs(dy - F.conv2d(nn.Tensor(g), nn.Tensor(w), stride=2, padding=1).data).max():.1e}")

# %% [markdown]
# ### If you are stuck on exercise 4.1 (ConvTranspose2dFunction)
#
# - Hint 1: the output size is (H - 1) s - 2p + k (section 3); col2im needs the full
#   output shape (N, C_out, H_out, W_out) to know where to add.
# - Hint 2: forward saves y (or Y) and w; backward computes im2col(g) once and uses it
#   twice: dy from W @ col_g, dW from Y @ col_g^T.
# - Hint 3: mind the layouts: Y is y.transpose(1, 0, 2, 3).reshape(C_in, -1), and dy
#   goes back the same way, reshape(C_in, N, H, W).transpose(1, 0, 2, 3).
#
# And the speed of "matmul + col2im" against the stamping loop (minimum of repeats, BLAS
# on 1 thread):

# %%
size = 16 if FAST else 64
x = rng.standard_normal((1, 64, size, size)).astype(np.float32)   # (1, 64, S, S)
w = rng.standard_normal((64, 32, 4, 4)).astype(np.float32)        # (64, 32, 4, 4)
with pinned_threads(1):
    t_naive, med_naive = time_min(lambda: conv_transpose2d_naive(x, w, stride=2, padding=1), 3)
    t_fast, med_fast = time_min(
        lambda: F.conv_transpose2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1), 5)
print(f"(1, 64, {size}, {size}) -> (1, 32, {2 * size}, {2 * size}): "
      f"stamping {t_naive * 1e3:.1f} ms, matmul + col2im {t_fast * 1e3:.1f} ms "
      f"({t_naive / t_fast:.0f}x)")
print(noise_warning([med_naive / t_naive, med_fast / t_fast]))

# %% [markdown]
# ## 6. Checkerboard artefacts
#
# Feed a constant image to a transposed conv. With stride 2, every input pixel stamps a
# k x k kernel every 2 output pixels. With k = 4 each interior output pixel is covered
# by exactly 2 x 2 = 4 stamps (k divisible by the stride: even overlap), so an all-ones
# kernel gives a flat image. With k = 3 the coverage alternates 1, 2, 4, and even the
# all-ones kernel paints a checkerboard. With random weights *both* show a period-2
# pattern: each output pixel sums a different subset of kernel entries. The even overlap
# of 4x4 s2 makes a flat output *possible*; training has to find such weights, which is
# why young pix2pix generators show a faint grid (Odena, Dumoulin, Olah, "Deconvolution
# and Checkerboard Artifacts", Distill 2016).

# %%
def response_to_constant(kernel, size=8):
    """convT (stride 2, padding 1) of an all-ones (1, 1, size, size) image with one kernel."""
    ones = np.ones((1, 1, size, size))                                  # (1, 1, S, S)
    w = kernel.reshape(1, 1, *kernel.shape)                             # (1, 1, k, k)
    return F.conv_transpose2d(nn.Tensor(ones), nn.Tensor(w), stride=2, padding=1).data[0, 0]


print("4x4 s2, all-ones kernel, row 5:", response_to_constant(np.ones((4, 4)))[5])  # try it
print("3x3 s2, all-ones kernel, rows 4 and 5:\n", response_to_constant(np.ones((3, 3)))[4:6])

kernels = {"all-ones kernel": (np.ones((4, 4)), np.ones((3, 3))),
           "random kernel": (rng.uniform(0.5, 1.5, (4, 4)), rng.uniform(0.5, 1.5, (3, 3)))}
fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), constrained_layout=True)
for row, (name, (k4, k3)) in enumerate(kernels.items()):
    # Each response divided by the mean of its interior (the border lacks neighbours), so
    # that one colour scale compares the ripple of all four.
    r4, r3 = (r / r[2:-2, 2:-2].mean()
              for r in (response_to_constant(k4), response_to_constant(k3)))
    for col, (r, title) in enumerate(((r4, "4x4 stride 2"), (r3, "3x3 stride 2"))):
        inner = r[2:-2, 2:-2]
        print(f"{title}, {name}: interior varies by {np.ptp(inner):.0%} of its mean")
        im = axes[row, col].imshow(r, cmap="magma", vmin=0.2, vmax=2.0)
        axes[row, col].set_title(f"{title}, {name}: {r.shape[0]}x{r.shape[1]}\n"
                                 f"interior ripple {np.ptp(inner):.0%}", fontsize=9)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[row, 2].plot(r4[r4.shape[0] // 2], "o-", label="4x4 s2")
    axes[row, 2].plot(r3[r3.shape[0] // 2], "s-", label="3x3 s2")
    axes[row, 2].set_ylim(0.2, 2.0)
    axes[row, 2].set_title(f"one row through the middle ({name})", fontsize=9)
    axes[row, 2].set_xlabel("output column")
    axes[row, 2].set_ylabel("output / interior mean")
    axes[row, 2].legend(fontsize=8)
fig.colorbar(im, ax=axes[:, :2], shrink=0.6, label="output / interior mean")
fig.suptitle("Transposed convolution of a constant 8x8 image: overlap of the stamps")
save_figure(fig, LESSON, "checkerboard")

list_pictures()

# %% [markdown]
# ## Summary
#
# - A convolution is a matrix M; the transposed convolution with the same weight is M^T,
#   so <conv(x), y> = <x, convT(y)>. It upsamples: H_out = (H - 1) s - 2p + k.
# - Transposing conv = W @ im2col gives convT = col2im(W^T @ y): one matmul and one
#   col2im. Its input-gradient is the transpose of convT, i.e. a plain conv.
# - Conv's backward and convT's forward are the same computation.
# - Uneven overlap of the stamps (k not divisible by the stride) gives checkerboards
#   even for constant weights; 4x4 stride 2 overlaps evenly.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 4.1  ``ConvTranspose2dFunction``: forward = matmul + col2im, backward from the adjoint
#      (section 5). Grade it:   python -m pytest --exercise 4.1
# 4.2  (no grader) Find a 3x3 kernel whose stride-2 response to a constant image is flat.
#      What does it look like? Apply it to a zero-stuffed ramp (stride 2 inserts a zero
#      between samples): which classic upsampling method is it?
#
# Next: python lessons/05_batch_normalisation.py
