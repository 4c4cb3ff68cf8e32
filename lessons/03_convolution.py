"""Lesson 3: convolution, from the definition to im2col and one matrix multiply.

Every layer of the pix2pix encoder and discriminator is a 4x4 convolution with stride 2
and padding 1 (paper appendix 6.1: "All convolutions are 4x4 spatial filters applied with
stride 2"): each one halves the image, 256 -> 128 -> ... -> 1 in the U-Net encoder.

What you will see:
  1. the definition, as a loop over output pixels (``nn.ops.conv.conv2d_naive``);
  2. the output size formula, and the encoder's 256 -> 128 -> ... -> 1;
  3. im2col: every k x k patch becomes one column of a matrix (``nn.ops.im2col.im2col``),
     so the whole convolution is ONE matrix multiply;
  4. how much faster that is, and what it costs in memory;
  5. kernels and feature maps on a real facade photo.

Run:  python lessons/03_convolution.py      (add --fast for a quick pass)
"""
# %%
import time

from lessons.common import FAST, REPO, list_pictures, save_figure

import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from nn.ops.conv import conv2d_naive
from nn.ops.im2col import conv_output_size, im2col
from pix2pix.data import load_ab_image, split_ab, transform_half
from pix2pix.synthetic import make_ab_image

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
# is a single matrix multiply, which BLAS (or the GPU) does at full speed. ``im2col``
# builds col with k*k strided slice copies, one per kernel offset (i, j): no loop over
# pixels. Look at it on a 6x6 image holding the numbers 0..35:

# %%
x = np.arange(36, dtype=np.float64).reshape(1, 1, 6, 6)     # (1, 1, 6, 6)
col_3x3 = im2col(x, 3, 1, 0)                               # (1, 3, 3, 1, 4, 4)
col_4x4 = im2col(x, 4, 2, 1)                               # (1, 4, 4, 1, 3, 3)
print("im2col 3x3 s1 p0:", col_3x3.shape, "-> matrix", col_3x3.reshape(9, -1).shape)
print("im2col 4x4 s2 p1:", col_4x4.shape, "-> matrix", col_4x4.reshape(16, -1).shape)
print("column 6 of the 3x3 matrix = the patch at output (1, 2):", col_3x3.reshape(9, -1)[:, 6])


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
# pix2pix; the GPU and CPU memory holds it easily at batch size 1.

# %%
def time_best(fn, repeats=3):
    """Best wall time of a few runs (the first run may pay for warm-up)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


print(f"{'input':>16s} {'naive':>9s} {'im2col':>9s} {'speed-up':>9s}")
for size in ([32] if FAST else [32, 64, 128, 256]):
    x = rng.standard_normal((1, 3, size, size)).astype(np.float32)   # (1, 3, S, S)
    w = rng.standard_normal((64, 3, 4, 4)).astype(np.float32)        # C64 of the encoder
    t_naive = time_best(lambda: conv2d_naive(x, w, stride=2, padding=1), 1 if size > 64 else 3)
    t_fast = time_best(lambda: F.conv2d(nn.Tensor(x), nn.Tensor(w), stride=2, padding=1))
    print(f"{str(x.shape):>16s} {t_naive * 1e3:7.1f}ms {t_fast * 1e3:7.1f}ms "
          f"{t_naive / t_fast:8.0f}x")

c, s, k = 64, 128, 4  # the second encoder conv: 64 channels in, 128x128 -> 64x64
col_mib = c * k * k * (s // 2) ** 2 * 4 / 2**20
print(f"col for a (1, {c}, {s}, {s}) input, 4x4 s2: {col_mib:.0f} MiB "
      f"vs the input itself {c * s * s * 4 / 2**20:.0f} MiB (float32)")

# %% [markdown]
# ## 5. Backward is two more matrix multiplies
#
# With g = dL/d(out) in the same (C_out, N*H_out*W_out) layout:
#
#     dL/dw   = g @ col^T                           (C_out, C_in*k*k)
#     dL/dcol = w^T @ g, then col2im adds each column back where its patch came from
#     dL/db   = g summed over N, H_out, W_out
#
# ``col2im`` is the adjoint of im2col (overlapping patches add up). Lesson 4 shows that
# "matmul then col2im" is also exactly a transposed convolution. Exercises 3.1 and 3.2
# ask you to write im2col and this Function.

# %%
x = nn.Tensor(rng.standard_normal((1, 3, 8, 8)), requires_grad=True)    # (1, 3, 8, 8)
w = nn.Tensor(rng.standard_normal((4, 3, 4, 4)), requires_grad=True)    # (4, 3, 4, 4)
y = F.conv2d(x, w, stride=2, padding=1)                                 # (1, 4, 4, 4)
y.backward(rng.standard_normal(y.shape))
print("gradients:", "x", x.grad.shape, " w", w.grad.shape)

# %% [markdown]
# ## 6. Kernels and feature maps on a real facade
#
# We load the photo half of the first CMP Facades training image (pix2pix's facades data)
# when it is on this machine, and otherwise a synthetic facade.

# %%
def load_facade(size):
    """Photo half of facades/train/1.jpg as (3, size, size) float32 in [-1, 1], and where
    it came from; a synthetic facade (pix2pix.synthetic) if the data set is absent."""
    repo = REPO
    for path in (repo.parent / "shared/facades/train/1.jpg", repo / "datasets/facades/train/1.jpg"):
        if path.exists():
            photo, _labels = split_ab(load_ab_image(path))
            return transform_half(photo, size), str(path)
    photo, _labels = split_ab(make_ab_image(0, size))
    return transform_half(photo, size), "synthetic facade (pix2pix.synthetic.make_ab_image)"


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
# ## 7. The paper's first layer, as it starts training
#
# G's first layer is C64 without BatchNorm: ``Conv2d(3, 64, 4, stride=2, padding=1)``,
# weights drawn from N(0, 0.02) (paper Sec. 6.2, "weights initialized from a Gaussian
# distribution with mean 0 and standard deviation 0.02"). Untrained, its kernels are noise
# and its maps are noisy mixtures of colour and edges, at half the resolution.
# Training turns them into the edge and colour detectors you saw above.

# %%
first = nn.Conv2d(3, 64, 4, stride=2, padding=1, bias=False)   # (1, 3, S, S) -> (1, 64, S/2, S/2)
nn.init.normal_(first.weight, 0.0, 0.02, np.random.default_rng(1))
with nn.no_grad():
    maps = first(nn.Tensor(image[None])).data[0]               # (64, S/2, S/2)
print("first layer:", image[None].shape, "->", (1,) + maps.shape)

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
#   the input's memory.
# - Backward: dw = g @ col^T, dx = col2im(w^T @ g), db = sum of g.
#
# ## Exercises
#
# 3.1  Write ``im2col(x, kernel_size, stride, padding)`` in
#      lessons/exercises/ex03_convolution.py (hint: loop over the k*k offsets (i, j),
#      never over pixels). Grade it:    python -m pytest --exercise 3.1
# 3.2  Write ``Conv2dFunction`` (forward with im2col + one matmul, backward as above) in
#      the same file. Grade it:         python -m pytest --exercise 3.2
# 3.3  (no grader) Design a 3x3 kernel that responds to diagonal edges and show its map.
#
# Next: python lessons/04_transposed_convolution.py
