"""Lesson 7: the U-Net generator, block by block.

Paper: Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017, Sec. 3.2.1 ("Generator with skips"), Fig. 3 and appendix 6.1.1; the
encoder-decoder ablation is Fig. 5.

What you will see:
  1. the two blocks: an encoder block halves the image, a decoder block doubles it and
     concatenates a skip;
  2. unet_256 assembled from them, with the shape of every block's output taken from a real
     forward pass, and its parameter count (54,413,955, computed);
  3. what the skips carry, and the encoder-decoder you get without them;
  4. pictures: the U with its channel counts, feature maps of a facade label map at several
     levels, and a tiny training race between the U-Net and the encoder-decoder.

Run:  python lessons/07_unet.py
      LESSON_FAST=1 python lessons/07_unet.py   (small widths, 3 training steps)
Measured run time (2-core CPU, nothing else running, load 0.37): full 17 s, fast 4 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import (
    FAST,
    facades_or_synthetic,
    facades_root,
    list_pictures,
    save_figure,
    to_rgb,
)
from pix2pix.data.datasets import AlignedDataset
from pix2pix.data.synthetic import SyntheticFacades
from pix2pix.models import UNet, UNetDown, UNetUp, define_G
from pix2pix.models.pix2pix_model import Pix2Pix, paper_inference
from pix2pix.models.unet import dropout_blocks

LESSON = "07_unet"
rng = np.random.default_rng(0)


# %% [markdown]
# ## 1. Two blocks
#
# Every convolution in the U-Net is 4x4 with stride 2 and padding 1, so an encoder block
# exactly halves the image, H_out = (H + 2*1 - 4) // 2 + 1 = H / 2, and a decoder block's
# transposed convolution exactly doubles it, H_out = (H - 1) * 2 - 2*1 + 4 = 2 H.
# The paper's "Ck" is Conv -> BatchNorm -> ReLU with k filters (leaky, slope 0.2, in the
# encoder); "CDk" adds Dropout(0.5), pix2pix's only source of noise.

# %%
x = nn.Tensor(rng.standard_normal((1, 3, 32, 32)).astype(np.float32))  # (N, C, H, W)
down = UNetDown(3, 8, norm=False)       # (1, 3, 32, 32) -> (1, 8, 16, 16)
print(down)
h = down(x)                             # try it
print(f"UNetDown(3, 8):  {x.shape} -> {h.shape}")

# The decoder block works the other way round, then glues the skip on as extra channels:
#   out = cat([skip, Dropout(BN(ConvT(ReLU(x))))], channels)
# (skip first, as in the official code, whose pretrained weights depend on that order).
up = UNetUp(8, 4)                       # (1, 8, 16, 16) + skip (1, 5, 32, 32) -> (1, 9, 32, 32)
print(up)
skip = nn.Tensor(rng.standard_normal((1, 5, 32, 32)).astype(np.float32))
print(f"UNetUp(8, 4):    {h.shape} + skip {skip.shape} -> {up(h, skip).shape}")  # try it
print(f"UNetUp(8, 4) without a skip: {h.shape} -> {up(h).shape}")

# %% [markdown]
# ### If you are stuck on exercise 7.1 (UNetUp)
#
# - Hint 1: the order is the comment above: ReLU (not leaky: the decoder's ReLUs are
#   plain), then ConvTranspose2d(in, out, 4, stride=2, padding=1, bias=...), then the norm
#   ``norm_layer(kind, out)`` makes (BatchNorm2d for the default kind "batch"; None for
#   "none"), then Dropout(0.5) only if the block has dropout.
# - Hint 2: concatenate along channels with the skip *first*: ``F.cat([skip, y], dim=1)``
#   (the official weights depend on that order); without a skip, return y alone.

# %% [markdown]
# ## 2. unet_256, shape by shape
#
# Eight encoder blocks take 256x256 down to 1x1 (256 = 2^8), with widths
# C64-C128-C256-C512-C512-C512-C512-C512 (ngf = 64 and multiples of it, capped at 8 ngf).
# Seven decoder blocks come back up to 128x128, each concatenating the encoder output of
# the same size; a last transposed conv to 3 channels and a tanh give the 256x256 image.
# Walking through G's own blocks (the loop of UNet.forward, written out) lets us print the
# shape after each. In FAST mode the widths are 8x smaller (ngf = 8); the sizes are the same.

# %%
def label_map(size):
    """One facade label map (the network's input A), (1, 3, size, size) in [-1, 1]."""
    root = facades_root()
    if root is not None:
        item = AlignedDataset(root, "val", direction="BtoA", crop_size=size, train=False).get(0)
    else:
        item = SyntheticFacades(n=1, size=size, train=False).get(0)
    return item["A"][None]


NGF = 8 if FAST else 64
G = define_G("unet_256", ngf=NGF)       # (1, 3, 256, 256) -> (1, 3, 256, 256)
real_A = label_map(256)                 # (1, 3, 256, 256)
x = nn.Tensor(real_A)

rows, features = [], {}
with paper_inference(G):                # no graph; dropout masks are rewound afterwards
    h, skips = x, []
    for i, block in enumerate(G.down):  # 256 -> 128 -> ... -> 1
        h = block(h)
        skips.append(h)
        features[f"down[{i}]"] = h.numpy()[0]
        rows.append((f"down[{i}]", f"C{block.conv.out_channels}", block.conv.in_channels,
                     h.shape, "-", "no" if block.norm is None else "yes", "-"))
    skips.pop()                         # the 1x1 bottleneck is not a skip
    for j, block in enumerate(G.up):    # 1 -> 2 -> ... -> 128
        s = skips.pop()
        h = block(h, s)
        # Keep the block's own channels and the skip's copy apart (the concatenation
        # order is the library's choice: skip first, like the official code).
        both, s_np = h.numpy()[0], s.numpy()[0]
        c = s_np.shape[0]
        own = both[c:] if np.array_equal(both[:c], s_np) else both[:-c]
        features[f"up[{j}]"] = (own, s_np)
        drop = block.dropout is not None
        rows.append((f"up[{j}]", f"C{'D' if drop else ''}{block.conv.in_channels}",
                     block.conv.in_channels, h.shape, f"+{s.shape[1]} skip",
                     "no" if block.norm is None else "yes", "yes" if drop else "no"))
    out = F.tanh(G.final(h))            # (1, 3, 256, 256)
    c_in = G.final.conv.in_channels
    rows.append(("final", f"C{c_in}->3", c_in, out.shape, "-", "no", "no"))
with paper_inference(G):
    same = G(x)                         # G's own forward, same dropout masks
print(f"the walk reproduces G(x): max |difference| = "
      f"{np.abs(out.numpy() - same.numpy()).max():.1e}")

print(f"\nunet_256 with ngf = {NGF}:")
print(f"{'block':<9}{'paper':<12}{'in ch':>6}  {'output shape':<20}{'concat':<12}"
      f"{'BN':<5}{'dropout'}")
for name, paper, c_in, shape, cat, bn, drop in rows:
    print(f"{name:<9}{paper:<12}{c_in:>6}  {str(tuple(shape)):<20}{cat:<12}{bn:<5}{drop}")
# The paper lists the decoder as CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128: the
# number of channels that *enter* each transposed conv ("in ch" above, with ngf = 64),
# 1024 = 512 from below + 512 from the skip. Dropout sits on the first three decoder
# blocks (outputs 2x2, 4x4, 8x8), as in the paper:
print(f"decoder blocks with dropout: {sorted(dropout_blocks(8, 'paper'))} (the PyTorch "
      f"port's choice would be {sorted(dropout_blocks(8, 'pytorch'))})")

# %% [markdown]
# ### The network in the paper's own notation
#
# The appendix writes the generator as encoder ``C64-C128-...`` and decoder
# ``CD512-CD1024-...`` (Ck: k filters; D: dropout; the decoder counts the channels each
# layer takes in, after the skip is concatenated). ``paper_spec()`` reads those strings off
# the network as built, and ``layer_table()`` lists every block; the test suite checks the
# strings against the paper's appendix.

# %%
spec = G.paper_spec()
print(f"encoder: {spec['encoder']}\ndecoder: {spec['decoder']}")
if NGF == 64:
    assert spec == {"encoder": "C64-C128-C256-C512-C512-C512-C512-C512",
                    "decoder": "CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128"}
print(G.layer_table())

# %% [markdown]
# ### Counting parameters
#
# A 4x4 conv from C_in to C_out channels has 16 C_in C_out weights; as in the official
# port there are no biases (where BatchNorm follows, its shift would make them redundant)
# except the 3 of the last conv. BatchNorm adds 2 C_out. Summing over the real network:

# %%
# Counting needs only the architecture, not the paper's N(0, 0.02) initialisation:
G64 = G if NGF == 64 else UNet(3, 3, num_downs=8, ngf=64)   # the paper's widths
count = sum(p.size for p in G64.parameters())
print(f"\nunet_256, 3 -> 3 channels, ngf = 64: {count:,} parameters")
assert count == 54_413_955, count                # the official PyTorch port's number
enc = sum(p.size for p in G64.down.parameters())
dec = count - enc
inner = sum(p.size for b in list(G64.down)[4:] for p in b.parameters())
print(f"  encoder {enc:,}  decoder {dec:,} (the decoder reads twice the channels)")
print(f"  the four innermost 512 -> 512 encoder blocks alone: {inner:,} "
      f"({100 * inner / enc:.0f}% of the encoder), for outputs of 8x8 pixels and less")

# %% [markdown]
# ## 3. What the skips carry, and life without them
#
# At each resolution the skip hands the decoder the output of the encoder block of the
# same size (down[i] feeds up[6 - i], and down[0] feeds the final block): Conv -> BatchNorm
# -> LeakyReLU features that still know where the edges of windows and doors are, to the
# pixel. Without skips (the paper's "encoder-decoder"), all the decoder
# knows about the input must squeeze through the 1x1 bottleneck:

# %%
G_ed = define_G("unet_256", ngf=NGF, skips=False)   # same blocks, no concatenation
bottleneck = G.down[-1].conv.out_channels
print(f"\nbottleneck: {bottleneck} numbers (ngf = {NGF}) for an input of "
      f"{3 * 256 * 256:,} numbers")
ed_count = sum(p.size for p in (G_ed if NGF == 64 else UNet(3, 3, 8, ngf=64, skips=False))
               .parameters())
print(f"encoder-decoder (skips=False), ngf = 64: {ed_count:,} parameters "
      f"({count - ed_count:,} fewer: each decoder conv reads half the channels)")
# A path from an input pixel to an output pixel crosses 16 convolutions without skips,
# but only 2 with them (first encoder conv, skip, last decoder conv): low-level detail
# (and gradient) has a short way through.
with nn.no_grad():
    print("encoder-decoder output:", G_ed(x).shape)   # try it

# %% [markdown]
# ### Pictures: the U, and feature maps of a label map
#
# The diagram is drawn from the network itself: box width grows with the channel count,
# each row is one resolution; dashed arrows are the skips.

# %%
def draw_unet(net, size=256):
    widths = [b.conv.out_channels for b in net.down]
    depth = len(widths)
    fig, ax = plt.subplots(figsize=(11, 7))

    def x_of(level, side):  # encoder boxes step right going down, decoder boxes mirror them
        return side * (2.6 - 0.3 * level) if level < depth else 0.0

    def box(level, side, channels, label, color):
        w = 0.5 + 0.4 * np.log2(channels) / 10
        ax.add_patch(plt.Rectangle((x_of(level, side) - w / 2, -level - 0.32), w, 0.64,
                                   facecolor=color, edgecolor="k"))
        ax.text(x_of(level, side), -level, label, ha="center", va="center", fontsize=8)
        return w

    def arrow(level_a, side_a, level_b, side_b, **style):
        ya = -level_a - 0.32 if level_b > level_a else -level_a + 0.32
        yb = -level_b + 0.32 if level_b > level_a else -level_b - 0.32
        ax.annotate("", xy=(x_of(level_b, side_b), yb), xytext=(x_of(level_a, side_a), ya),
                    arrowprops=dict(arrowstyle="->", **style))

    box(0, -1, 3, f"input\n3 x {size}²", "#dddddd")
    box(0, +1, 3, f"output\n3 x {size}²", "#dddddd")
    enc_w = {}
    for level in range(1, depth + 1):                   # encoder, down the left
        c = widths[level - 1]
        label = f"C{c}\n{size >> level}²" + (" (bottleneck)" if level == depth else "")
        enc_w[level] = box(level, -1, c, label, "#9ecae1")
        arrow(level - 1, -1, level, -1)
    for j, block in enumerate(net.up):                  # decoder, up the right
        level = depth - 1 - j
        c, s = block.conv.out_channels, widths[level - 1]
        w = box(level, +1, c + s, f"{s}+{c}\n{size >> level}²",
                "#fd8d3c" if block.dropout is not None else "#fdd0a2")
        arrow(level + 1, +1, level, +1)
        ax.annotate("", xy=(x_of(level, +1) - w / 2, -level),     # the skip
                    xytext=(x_of(level, -1) + enc_w[level] / 2, -level),
                    arrowprops=dict(arrowstyle="->", linestyle="--", color="grey"))
    arrow(1, +1, 0, +1)
    ax.text(0, -0.05, "dashed: skip = concatenate the encoder output along channels",
            ha="center", fontsize=9, color="grey")
    ax.set_xlim(-3.3, 3.3)
    ax.set_ylim(-depth - 0.5, 0.5)
    ax.axis("off")
    ax.set_title(f"unet_256 (ngf = {widths[0]}): encoder down the left, decoder up the right"
                 "\n(decoder boxes: skip channels + own channels; dark orange: dropout)")
    return fig


save_figure(draw_unet(G64), LESSON, "unet_diagram")

# %% [markdown]
# Feature maps of the untrained network on a facade label map: even random 4x4 filters,
# applied at stride 2, respond to the colour regions and boundaries of the label map; every
# level halves the resolution. A decoder level's output is half the decoder's own channels
# (rebuilt from the bottleneck: untrained, they are mostly noise) and half the skip, an
# exact copy of the encoder's sharp maps at that size.

# %%
def show_features(features, image):
    levels = ["down[0]", "down[1]", "down[2]", "down[3]", "up[5]", "up[6]"]
    fig, axes = plt.subplots(len(levels), 5, figsize=(10, 2.1 * len(levels)))
    for r, name in enumerate(levels):
        if name.startswith("up"):                     # (own (C, H, W), skip (C', H, W))
            own, skip = features[name]
            shape = (own.shape[0] + skip.shape[0],) + own.shape[1:]
            maps = [(own, " decoder"), (own, " decoder"), (skip, " skip"), (skip, " skip")]
        else:
            f = features[name]                        # (C, H, W)
            shape, maps = f.shape, [(f, "")] * 4
        axes[r, 0].imshow(to_rgb(image))
        axes[r, 0].set_ylabel(f"{name}\n{shape[0]}x{shape[1]}x{shape[2]}", fontsize=8)
        rank = {}
        for c, (f, tag) in enumerate(maps):
            # The channels that vary most over the image (the most informative ones).
            order = rank.setdefault(id(f), list(np.argsort(f.std(axis=(1, 2)))[::-1]))
            ch = order.pop(0)
            axes[r, c + 1].imshow(f[ch], cmap="magma")
            axes[r, c + 1].set_title(f"channel {ch}{tag}", fontsize=7)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("U-Net feature maps (untrained) of a facade label map", y=1.0)
    fig.tight_layout()
    return fig


save_figure(show_features(features, real_A[0]), LESSON, "feature_maps")

# %% [markdown]
# ### A tiny race: U-Net vs encoder-decoder
#
# Same seed, same data, same L1 loss (no discriminator: gan_mode "none"), a few hundred
# steps at 64x64 (unet_64: 6 halvings). The U-Net can copy the label map's edges through
# its skips; the encoder-decoder must rebuild them from the bottleneck (Fig. 5 of the
# paper, in miniature: this budget shows the trend, not the paper's quality).

# %%
SIZE, STEPS = (32, 3) if FAST else (64, 300)
train, test, data_name = facades_or_synthetic(SIZE, real=not FAST)

results = {}
for name, no_skips in (("U-Net", False), ("encoder-decoder", True)):
    model = Pix2Pix(netG=f"unet_{SIZE}", ngf=16, gan_mode="none", no_skips=no_skips, seed=0)
    for step in range(STEPS):
        item = train.get(step % len(train), rng=np.random.default_rng(step))
        model.train_step(item["A"][None], item["B"][None])
    outs = [model.generate(test.get(i)["A"][None])[0] for i in range(3)]
    l1 = np.mean([np.abs(o - test.get(i)["B"]).mean() for i, o in enumerate(outs)])
    results[name] = outs
    print(f"{name:<16} after {STEPS} steps: test L1 = {l1:.3f}")

fig, axes = plt.subplots(3, 4, figsize=(8, 6.3))
for i in range(3):
    item = test.get(i)
    for c, (title, img) in enumerate([("input", item["A"]), ("U-Net", results["U-Net"][i]),
                                      ("encoder-decoder", results["encoder-decoder"][i]),
                                      ("target", item["B"])]):
        axes[i, c].imshow(to_rgb(img))
        axes[i, c].set_title(title if i == 0 else "", fontsize=9)
        axes[i, c].axis("off")
fig.suptitle(f"{STEPS} L1 steps at {SIZE}x{SIZE}: skips carry the layout")
save_figure(fig, LESSON, "skips_vs_no_skips")

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - Encoder block: Conv 4x4 s2 (-> BN) -> LeakyReLU(0.2), halves H and W; decoder block:
#   ReLU -> ConvT 4x4 s2 -> BN (-> Dropout) then concatenate the skip, doubles them.
# - unet_256: 8 halvings 256 -> 1, 7 decoder blocks back to 128, a final ConvT + tanh;
#   54,413,955 parameters for 3 -> 3 channels, most of them in the 512-wide inner levels.
# - Skips carry each encoder level's features to the decoder level of the same size, so
#   the output can follow the input's edges; without them (skips=False) everything goes
#   through a 1x1 bottleneck and details blur away.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 7.1  Write the decoder block: lessons/exercises/ex07_unet.py, class UNetUp
#      (ReLU -> ConvTranspose2d 4x4 s2 p1 -> BatchNorm2d -> Dropout -> cat skip).
#      Grade it:  python -m pytest --exercise 7.1
# 7.2  (no grader) Count unet_256's parameters by hand from 16 C_in C_out + 2 C_out per
#      block and check 54,413,955. Which single block is the largest?
# 7.3  (no grader) Build define_G("unet_128") and print the same table. Which block
#      disappears?
#
# Next: python lessons/08_patchgan.py
