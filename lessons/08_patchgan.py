"""Lesson 8: the PatchGAN discriminator and its receptive field.

Paper: Isola et al., CVPR 2017, Sec. 3.2.2 ("Markovian discriminator (PatchGAN)"),
Sec. 4.4 and Fig. 6 / Table 3 (1x1, 16x16, 70x70, 286x286), appendix 6.1.2.

What you will see:
  1. how far one output of a stack of convolutions "sees": the receptive field, computed
     from the (kernel, stride) of each conv, for the 1x1, 16, 34, 70 and 286 discriminators;
  2. D's output for a 256x256 image: not one number but a 30x30 map of logits, one verdict
     per 70x70 patch; spoiling a square of the image changes exactly the verdicts whose
     windows overlap it;
  3. the conditional D (input and output stacked: 6 channels) vs the unconditional one (3);
  4. the receptive field drawn on a facade, and checked empirically: backpropagate from one
     logit to the input and look where the gradient is not zero.
  5. the PatchGAN as a Markov random field: swap 128x128 tiles of a pair and every verdict
     whose 70x70 window lies inside a tile comes back unchanged (computed and drawn).

Run:  python lessons/08_patchgan.py
      LESSON_FAST=1 python lessons/08_patchgan.py   (narrow networks)
Measured run time (2-core CPU, nothing else running, load 0.9): full 3 s, fast 3 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, facades_root, list_pictures, save_figure, to_rgb
from pix2pix.data.datasets import AlignedDataset
from pix2pix.data.synthetic import SyntheticFacades
from pix2pix.models import conv_layers, define_D, receptive_field

LESSON = "08_patchgan"
NDF = 8 if FAST else 32          # width for the forward passes (the shapes do not depend on it)
SIZE = 128 if FAST else 256      # image size for sections 3-5 (FAST: a 14x14 map, not 30x30)
M = (SIZE // 8) - 2              # D's output map is M x M: 30 x 30 for 256 x 256


# %% [markdown]
# ## 1. Receptive fields
#
# Take one output pixel and walk backwards through the convolutions. A conv with kernel k
# and stride s turns a field of r pixels at its output into (r - 1) s + k pixels at its
# input: k for the first of them, plus s more for each further one. Starting from r = 1:
#
#     r_in = (r_out - 1) * stride + kernel
#
# The 70x70 PatchGAN (C64-C128-C256-C512 and a final conv, all 4x4; strides 2, 2, 2, 1, 1):

# %% [markdown]
# Exercise 8.1: write this walk as ``receptive_field(layers)`` now, before the worked cell
# below (grade it: python -m pytest --exercise 8.1); then compare.
#
# ### If you are stuck on exercise 8.1 (receptive_field)
#
# - Hint 1: start from r = 1 (one output pixel) and walk the layers from the *last* to the
#   first (``reversed(layers)``): r <- (r - 1) * stride + kernel.
# - Hint 2: padding does not change the size of the field, only where it sits (section
#   2); an empty list of layers has field 1.

# %%
D70 = define_D("basic", input_nc=6)       # (N, 6, H, W) -> (N, 1, H', W')
layers = conv_layers(D70)                 # [(kernel, stride), ...] in forward order
print("conv layers (kernel, stride):", layers)
field = 1
for k, s in reversed(layers):             # from the output back to the input
    new = (field - 1) * s + k
    print(f"  through a {k}x{k} conv, stride {s}: {field:>3} -> {new:>3} pixels")
    field = new
print("receptive_field(conv_layers(D)) =", receptive_field(layers))   # try it

# %%

# The whole family, with the output size for a 256x256 input from a real forward pass
# (ndf only changes the widths, so the forward passes use a narrow D):
print(f"\n{'netD':<18}{'receptive field':>16}{'output for 256x256':>22}{'parameters (ndf=64)':>22}")
x256 = nn.Tensor(np.zeros((1, 6, 256, 256), np.float32))
for name, kwargs in [("pixel", dict(netD="pixel")),
                     ("n_layers_D=1", dict(netD="n_layers", n_layers_D=1)),
                     ("n_layers_D=2", dict(netD="n_layers", n_layers_D=2)),
                     ("basic (n=3)", dict(netD="basic")),
                     ("n_layers_D=5", dict(netD="n_layers", n_layers_D=5))]:
    D = define_D(input_nc=6, ndf=NDF, **kwargs)
    with nn.no_grad():
        out = D(x256)                                         # (1, 1, H', W')
    params = sum(p.size for p in define_D(input_nc=6, **kwargs).parameters())
    print(f"{name:<18}{receptive_field(conv_layers(D)):>16}{str(out.shape[2:]):>22}"
          f"{params:>22,}")
# Table 3 of the paper: 1x1 (colour only, no sharpness), 16x16 (tiling artefacts),
# 70x70 (best), 286x286 (the whole image: more parameters, harder to train, not better).

# %% [markdown]
# ## 2. Where exactly does a logit look?
#
# Padding shifts the window: walking back through a conv (k, s, p), output rows
# [a, b] come from input rows [a s - p, b s - p + k - 1]. Output logit i of the 70x70 D
# sees input rows [8 i - 23, 8 i + 46]: 70 rows, starting 23 pixels *before* the image for
# i = 0 (that part is zero padding).

# %%
def field_box(convs, i):
    """Input rows [start, end] seen by output index i. convs: [(kernel, stride, padding)]."""
    start, end = i, i
    for k, s, p in reversed(convs):
        start, end = start * s - p, end * s - p + k - 1
    return start, end


convs = [(m.kernel_size, m.stride, m.padding) for m in D70.modules() if isinstance(m, nn.Conv2d)]
for i in (0, 1, 15, 29):
    a, b = field_box(convs, i)
    print(f"logit {i:>2}: input rows {a:>4} .. {b:>4} ({b - a + 1} rows), "
          f"inside the image {max(a, 0)} .. {min(b, 255)}")

# %% [markdown]
# ## 3. Conditional or not: 6 channels or 3
#
# pix2pix's D judges *pairs*: D(x, y) sees the input label map x and the photo y stacked
# along channels, so it can punish a photo that does not fit its label map. An
# unconditional D sees only y: any realistic facade passes. Only the first conv changes.

# %%
D_cond = define_D("basic", input_nc=6)    # (N, 3 + 3, H, W) -> (N, 1, H', W')
D_unc = define_D("basic", input_nc=3)     # (N, 3, H, W) -> (N, 1, H', W')
n_cond = sum(p.size for p in D_cond.parameters())
n_unc = sum(p.size for p in D_unc.parameters())
print(f"\nconditional D: {n_cond:,} parameters, first conv weight {D_cond.model[0].weight.shape}")
print(f"unconditional D: {n_unc:,} parameters, first conv weight {D_unc.model[0].weight.shape}")
assert n_cond == 2_768_705                # the official port's 70x70 D on RGB pairs


def load_pair(size):
    """A (label map, photo) pair from the validation split, each (3, size, size) in [-1, 1]."""
    root = facades_root()
    ds = (AlignedDataset(root, "val", crop_size=size, train=False) if root is not None
          else SyntheticFacades(n=1, size=size, train=False))
    return ds.get(0)["A"], ds.get(0)["B"]


label, photo = load_pair(SIZE)                               # (3, SIZE, SIZE) each
pair = F.cat([nn.Tensor(label[None]), nn.Tensor(photo[None])], dim=1)   # (1, 6, SIZE, SIZE)
print("D(x, y) input:", pair.shape, "-> logits", D_cond(pair).shape)   # try it

# %% [markdown]
# ## 4. A 30x30 map of verdicts
#
# D's answer for one 256x256 pair is a 30x30 map of logits: logit (i, j) is its verdict
# on the 70x70 patch around pixel (8 i + 11.5, 8 j + 11.5). The loss (gan_loss) averages
# the 900 binary cross-entropies, so every patch is judged real or fake on its own.
# To see that locality, spoil one square of the photo and look at which verdicts change:
# exactly the logits whose 70x70 window overlaps the square, and no others. (D in eval
# mode, so that BatchNorm uses fixed statistics rather than those of the whole image.)

# %%
D = define_D("basic", input_nc=6, ndf=NDF).eval()                   # untrained weights
side = 24 if FAST else 40                                           # a 40x40 square
top = SIZE // 2 - side // 2
spoiled = photo.copy()
spoiled[:, top:top + side, top:top + side] = np.random.default_rng(0).uniform(
    -1, 1, (3, side, side))                                         # noise in the square
with nn.no_grad():
    logits = D(pair).numpy()[0, 0]                                  # (M, M)
    logits_spoiled = D(F.cat([nn.Tensor(label[None]), nn.Tensor(spoiled[None])],
                             dim=1)).numpy()[0, 0]                  # (M, M)
changed = logits_spoiled != logits
# Logit i sees rows [8 i - 23, 8 i + 46]: it overlaps the square if that meets
# [top, top + side - 1].
sees = [field_box(convs, i)[1] >= top and field_box(convs, i)[0] <= top + side - 1
        for i in range(M)]
expected = np.outer(sees, sees)
print(f"\nlogits that changed: {changed.sum()} of {M * M}; logits whose window overlaps the "
      f"square: {expected.sum()}; the same set: {np.array_equal(changed, expected)}")
assert np.array_equal(changed, expected)

# Logit i's window is centred on pixel 8 i + 11.5, so drawn as a grid of 8x8 cells the
# map covers the image from 7.5 to 8 M + 7.5 (the border is seen by fewer logits).
extent = (7.5, 8 * M + 7.5, 8 * M + 7.5, 7.5)
fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
axes[0].imshow(to_rgb(photo))
axes[0].imshow(logits, cmap="coolwarm", alpha=0.6, extent=extent, interpolation="nearest")
axes[0].set_title(f"D(x, y): the {M}x{M} map of logits over the photo\n(untrained D: "
                  "the values mean nothing yet)", fontsize=10)
axes[1].imshow(to_rgb(spoiled))
axes[1].set_title(f"the photo with a {side}x{side} square of noise", fontsize=10)
axes[2].imshow(to_rgb(spoiled))
axes[2].imshow(np.ma.masked_where(~changed, np.log10(np.abs(logits_spoiled - logits) + 1e-30)),
               cmap="autumn", alpha=0.7, extent=extent, interpolation="nearest")
rows = np.nonzero(sees)[0]                       # the logits the formula says can see it
axes[2].add_patch(plt.Rectangle((8 * rows[0] + 7.5, 8 * rows[0] + 7.5), 8 * len(rows),
                                8 * len(rows), fill=False, edgecolor="white", linestyle="--"))
axes[2].set_title(f"coloured: the {changed.sum()} logits that changed (log |change|);\n"
                  "dashed: those whose 70x70 window overlaps the square", fontsize=10)
for ax in axes[1:]:
    ax.add_patch(plt.Rectangle((top - 0.5, top - 0.5), side, side, fill=False,
                               edgecolor="cyan", linewidth=1.5))
for ax in axes:
    ax.set_xlim(0, SIZE)
    ax.set_ylim(SIZE, 0)
save_figure(fig, LESSON, "patch_map")

# %% [markdown]
# ## 5. The receptive field, drawn and measured
#
# The formula says logit (15, 15) depends on a 70x70 square of the input and on nothing
# else. Check it with autograd: backpropagate a gradient of 1 at that single logit (0
# elsewhere) and see which input pixels get a non-zero gradient.
#
# One catch: in training mode BatchNorm normalises with the mean and variance of the whole
# feature map, which depend on every pixel, so every logit depends (a little) on the whole
# image. In eval mode BatchNorm is a fixed per-channel affine map and the convolutional
# receptive field is exact.

# %%
def gradient_footprint(D, pair, i, j):
    """Sum over channels of |d logit[i, j] / d input|, shape (H, W)."""
    x = nn.Tensor(pair.numpy(), requires_grad=True)
    logits = D(x)                                       # (1, 1, M, M)
    upstream = np.zeros(logits.shape, np.float32)
    upstream[0, 0, i, j] = 1.0
    logits.backward(upstream)
    return np.abs(x.grad).sum(axis=(0, 1))


footprints = {}
CENTRE = (M // 2, M // 2)
for i, j in (CENTRE, (0, 0), (M - 1, M // 4)):
    g = gradient_footprint(D.eval(), pair, i, j)
    rows, cols = np.nonzero(g.any(axis=1))[0], np.nonzero(g.any(axis=0))[0]
    (a, b), (c, d) = field_box(convs, i), field_box(convs, j)
    print(f"logit ({i:>2}, {j:>2}): nonzero gradient in rows {rows.min()}..{rows.max()}, "
          f"cols {cols.min()}..{cols.max()} = {rows.max() - rows.min() + 1}x"
          f"{cols.max() - cols.min() + 1}; formula: rows {max(a, 0)}..{min(b, SIZE - 1)}, "
          f"cols {max(c, 0)}..{min(d, SIZE - 1)}")
    assert (rows.min(), rows.max()) == (max(a, 0), min(b, SIZE - 1))
    assert (cols.min(), cols.max()) == (max(c, 0), min(d, SIZE - 1))
    footprints[(i, j)] = g
g_train = gradient_footprint(D.train(), pair, *CENTRE)
print(f"training-mode BatchNorm: {100 * (g_train > 0).mean():.0f}% of the pixels get a "
      f"gradient from logit {CENTRE} (eval mode: {100 * (footprints[CENTRE] > 0).mean():.0f}%)")

fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
axes[0].imshow(to_rgb(photo))
total = sum(footprints.values())
floor = total.max() * 1e-5                  # zero gradient shows as the darkest colour
axes[1].imshow(np.log10(np.maximum(total, floor)), cmap="viridis")
for (i, j), color in zip(footprints, ("yellow", "cyan", "magenta")):
    (a, b), (c, d) = field_box(convs, i), field_box(convs, j)
    for ax in axes:
        ax.add_patch(plt.Rectangle((c - 0.5, a - 0.5), d - c + 1, b - a + 1, fill=False,
                                   edgecolor=color, linewidth=2))
        ax.plot(8 * j + 11.5, 8 * i + 11.5, "+", color=color)
    axes[0].text(max(c, 0) + 2, max(a, 0) + 10, f"logit ({i},{j})", color=color, fontsize=8,
                 bbox=dict(facecolor="black", alpha=0.6, pad=1))
for ax in axes:
    ax.set_xlim(-30, SIZE + 6)
    ax.set_ylim(SIZE + 6, -30)
axes[0].set_title("70x70 receptive fields from the formula\n(outside the image: zero padding)",
                  fontsize=10)
axes[1].set_title("log10 |d logit / d input| for those three logits\n(eval mode; dark = exactly 0)",
                  fontsize=10)
save_figure(fig, LESSON, "receptive_field")
# Inside the square the gradient is not uniform: the centre pixels reach the logit along
# many more paths than the edge ones (the "effective" receptive field is smaller).
(a, b), g = field_box(convs, CENTRE[0]), footprints[CENTRE]
window = g[a:b + 1, a:b + 1]                                 # (70, 70)
ring = np.concatenate([window[:5].ravel(), window[-5:].ravel(),
                       window[5:-5, :5].ravel(), window[5:-5, -5:].ravel()])
print(f"mean |gradient| in the central 20x20 / in the outer 5-pixel ring: "
      f"{window[25:45, 25:45].mean() / ring.mean():.1f}")

# %% [markdown]
# ## 6. The PatchGAN as a Markov random field
#
# Sec. 3.2.2: D "effectively models the image as a Markov random field, assuming
# independence between pixels separated by more than a patch diameter", a kind of
# texture/style loss. Concretely: each verdict is a function of its own 70x70 window and
# of nothing else (eval mode), so D cannot tell an image from a rearrangement of it in
# which every 70x70 window still occurs. Compute it: cut a 256x256 pair into four 128x128
# tiles (larger than 70) and swap them diagonally, the label map and the photo alike.
# A verdict whose window lies inside one tile must reappear, unchanged, wherever that tile
# went (16 logits further per 128 pixels, D's total stride being 8); only verdicts whose
# windows straddle a seam may change.

# %%
label_256, photo_256 = load_pair(256)                              # (3, 256, 256) each
pair_256 = np.concatenate([label_256, photo_256])[None]            # (1, 6, 256, 256)
T = 128                                                            # tile side (> 70)
shuffled = np.empty_like(pair_256)
for ty in (0, 1):
    for tx in (0, 1):                                              # tile (ty, tx) -> (1-ty, 1-tx)
        shuffled[..., (1 - ty) * T:(2 - ty) * T, (1 - tx) * T:(2 - tx) * T] = \
            pair_256[..., ty * T:(ty + 1) * T, tx * T:(tx + 1) * T]
D.eval()                                                           # fixed BatchNorm statistics
with nn.no_grad():
    v_orig = D(nn.Tensor(pair_256)).numpy()[0, 0]                  # (30, 30)
    v_shuf = D(nn.Tensor(shuffled)).numpy()[0, 0]                  # (30, 30)
n_out, step = v_orig.shape[0], T // 8                              # 30 logits; 16 per tile
inside = np.zeros(n_out, bool)                                     # window inside a tile?
tile_of = np.zeros(n_out, int)
for i in range(n_out):
    a, b = field_box(convs, i)
    tile_of[i] = max(a, 0) // T
    inside[i] = a >= tile_of[i] * T and b <= tile_of[i] * T + T - 1
moved_back = np.full_like(v_orig, np.nan)     # v_shuf, each verdict put back where its tile came from
for i in np.nonzero(inside)[0]:
    for j in np.nonzero(inside)[0]:
        i2 = i + (1 - 2 * tile_of[i]) * step                       # where tile row went
        j2 = j + (1 - 2 * tile_of[j]) * step
        moved_back[i, j] = v_shuf[i2, j2]
kept = ~np.isnan(moved_back)
print(f"verdicts whose 70x70 window lies inside one 128x128 tile: {kept.sum()} of "
      f"{n_out * n_out}; max |change| after the shuffle: "
      f"{np.nanmax(np.abs(moved_back - v_orig)):.1e}")
print(f"for scale: the verdicts themselves vary by std {v_orig.std():.2e} over the image, and "
      f"at a fixed place the shuffle changes them by up to {np.abs(v_shuf - v_orig).max():.2e}")
ulp = float(np.spacing(np.float32(np.abs(v_orig).max())))         # float32's step there
print(f"float32's spacing at the verdicts' largest size: {ulp:.1e}; the max change after the "
      f"shuffle is {np.nanmax(np.abs(moved_back - v_orig)) / ulp:.1f} of those steps")

fig, axes = plt.subplots(1, 4, figsize=(18, 4.8), constrained_layout=True)
axes[0].imshow(to_rgb(pair_256[0, 3:]))
axes[0].set_title("photo (the label map is cut the same way)", fontsize=10)
axes[1].imshow(to_rgb(shuffled[0, 3:]))
axes[1].set_title("four 128x128 tiles swapped diagonally", fontsize=10)
lo, hi = np.nanmin(np.where(kept, v_orig, np.nan)), np.nanmax(np.where(kept, v_orig, np.nan))
axes[2].imshow(np.where(kept, v_orig, np.nan), cmap="coolwarm", vmin=lo, vmax=hi)
axes[2].set_title(f"verdicts before, for the {kept.sum()} windows inside a tile\n"
                  "(blank: windows crossing a seam or the border)", fontsize=10)
axes[3].imshow(moved_back, cmap="coolwarm", vmin=lo, vmax=hi)
axes[3].set_title("verdicts after the shuffle, put back with their tiles\n"
                  f"max |after - before| = {np.nanmax(np.abs(moved_back - v_orig)):.0e}",
                  fontsize=10)
for ax in axes[:2]:
    ax.axhline(T - 0.5, color="white", lw=1)
    ax.axvline(T - 0.5, color="white", lw=1)
save_figure(fig, LESSON, "mrf_shuffle")

# %% [markdown]
# Each of those verdicts is unchanged after the shuffle up to float32 rounding: the printed
# max change is 0, or a small multiple of float32's step at the verdicts' size (printed
# beside it) where the matrix multiply adds the same window's products in another order
# (that depends on the BLAS and its threads). The shuffle itself changes the verdicts at a
# fixed place by the printed amount, of order 1e-3. A PatchGAN judges *local* statistics (textures,
# edges, the style of each 70x70 window) and leaves everything at larger scales to the L1
# term, which compares every pixel with the target and does see
# that the tiles are in the wrong place. That division of labour is the paper's design:
# L1 for the low frequencies, the PatchGAN for the high ones (Sec. 3.2.2). (The verdicts
# that cross a seam do change, and with them the average loss: D sees the seams, not the
# arrangement of the tiles.)

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - A PatchGAN is fully convolutional: for 256x256 pairs the 70x70 D outputs a 30x30 map
#   of logits, each judging one 70x70 patch; the loss averages the 900 verdicts.
# - Receptive field, walking back from one output: r <- (r - 1) * stride + kernel, giving
#   1, 16, 34, 70, 142, 286 for the pixel and n_layers = 1..5 discriminators.
# - The conditional D sees input and output stacked (6 channels): 2,768,705 parameters,
#   3,072 more than the unconditional one.
# - Backpropagating from one logit lights up exactly its 70x70 square (in eval mode; in
#   training mode BatchNorm's batch statistics let every pixel leak in a little).
# - So D is a Markov random field over 70x70 windows: swapping 128x128 tiles leaves every
#   verdict inside a tile unchanged; only the seams are seen. Global layout is L1's job.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 8.1  Write receptive_field(layers) in lessons/exercises/ex08_patchgan.py.
#      Grade it:  python -m pytest --exercise 8.1
# 8.2  (no grader) Extend field_box to report the effective receptive field: the smallest
#      square holding 90% of the gradient mass of logit (15, 15). How big is it?
# 8.3  (no grader) With D in training mode, what fraction of the gradient *mass* of logit
#      (15, 15) falls outside its 70x70 square? Is BatchNorm's leak large?
#
# Next: python lessons/09_objective.py
