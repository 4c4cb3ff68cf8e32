"""Lesson 10: training pix2pix on facades, watching it learn, saving and reloading it.

Paper: Isola et al., CVPR 2017, Sec. 3.3 (optimisation and inference), Sec. 4 and
appendix 6.2 (random jitter: resize to 286, random 256 crop, mirroring; batch size 1 for
facades; Adam, lr 0.0002, beta1 0.5).

What you will see:
  1. the random jitter: one A|B pair jittered four times, with the same crop and flip for
     the label map and the photo;
  2. the training loop, written out: Pix2Pix.train_step (one D step, then one G step) on
     minibatches from the deterministic DataLoader; the lr schedule (exercise 10.1) and
     why D's step sees G's output detached (exercise 10.2);
  3. samples of fixed validation images over a few hundred iterations: the held-out L1
     stops falling early while the samples keep changing (L1 cannot see sharpness), and
     the loss curves, read with log 2 = 0.693 in mind (lesson 9);
  4. a checkpoint saved with save_checkpoint and loaded into a fresh model: identical
     outputs, in eval mode and in the paper's inference mode.

Full mode trains the network of `train.py --preset cpu` (unet_128, ngf = ndf = 32) on the
real facades at 128x128 (if ../shared/facades or datasets/facades is present, otherwise on
pix2pix.data.synthetic.SyntheticFacades) for 600 iterations, 1.5 epochs. Fast mode trains
unet_64 (ngf = ndf = 16) on synthetic facades at 64x64 for 300 iterations: enough for
visibly structured samples and a falling held-out L1.
The paper trains for 200 epochs; expect blurry but recognisable facades, not the paper's
results.

Run:  python lessons/10_training_on_facades.py
      LESSON_FAST=1 python lessons/10_training_on_facades.py   (64x64 synthetic facades)
Measured run time (2-core CPU, nothing else running, load 0.9): full 103 s (1.7 min), fast 12 s.
"""
# %%
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import nn
from lessons.common import (
    FAST,
    facades_or_synthetic,
    held_out_l1,
    image_grid,
    list_pictures,
    save_figure,
    to_rgb,
    train_iterations,
    write_numbers,
)
from pix2pix.data.loader import DataLoader
from pix2pix.data.pairs import jitter_params
from pix2pix.evaluation.visualize import LOG2, moving_average
from pix2pix.files.checkpoint import load_checkpoint, save_checkpoint
from pix2pix.models.pix2pix_model import Pix2Pix

LESSON = "10_training_on_facades"


# %% [markdown]
# ## Settings
#
# The paper: 256x256 crops of 286x286 images, unet_256, ngf = ndf = 64, 200 epochs of 400
# images. Here: the same recipe at 128x128 (crops of 143x143, the paper's ratio) with
# narrower networks, for a few hundred iterations.

# %%
SIZE = 64 if FAST else 128               # crop size (the network's input is SIZE x SIZE)
LOAD = round(SIZE * 286 / 256)           # resize to this first, then crop SIZE
NGF = NDF = 16 if FAST else 32
ITERS = 300 if FAST else 600
SNAPSHOTS = [0, 50, 150, 300] if FAST else [0, 50, 150, 300, 600]
N_HELD_OUT = 4 if FAST else 20           # validation images for the held-out L1
# Fast mode trains on synthetic facades (pix2pix.data.synthetic): simple enough to be learnt,
# visibly, in 300 iterations at 64x64.
train_set, val_set, data_name = facades_or_synthetic(SIZE, n_train=16, n_val=N_HELD_OUT,
                                                     real=not FAST)
print(f"data: {data_name}, {SIZE}x{SIZE} crops of {LOAD}x{LOAD}; {ITERS} iterations")

# %% [markdown]
# ## 1. Random jitter
#
# Each training pair is resized to LOAD x LOAD, cropped at a random corner (x, y) to
# SIZE x SIZE and flipped left-right with probability 1/2. The label map and the photo
# must get the *same* (x, y, flip), or the input would no longer describe the target.
# The jitter of an item comes from the generator passed in, so it can be repeated.
# Facades' files hold the photo on the left (the file's A side) and the label map on the
# right (B); the lessons train B -> A (direction "BtoA"), so the dataset's item["A"], the
# network's input, is the label map from the file's right half.

# %%
fig, axes = plt.subplots(3, 4, figsize=(9, 7))
for k in range(4):
    jitter = jitter_params(np.random.default_rng(k), LOAD, SIZE)     # what get() will draw
    item = train_set.get(0, rng=np.random.default_rng(k))            # A: (3, SIZE, SIZE)
    print(f"jitter {k}: crop corner (x, y) = {jitter[:2]}, flip = {jitter[2]}")
    blend = 0.5 * to_rgb(item["A"]) + 0.5 * to_rgb(item["B"])
    for r, (img, name) in enumerate(((to_rgb(item["A"]), "label map (input;\nfile's right half)"),
                                     (to_rgb(item["B"]), "photo (target;\nfile's left half)"),
                                     (blend, "50/50 blend: aligned"))):
        axes[r, k].imshow(img)
        axes[r, k].set_xticks([])
        axes[r, k].set_yticks([])
        if k == 0:
            axes[r, k].set_ylabel(name, fontsize=9)
    axes[0, k].set_title(f"x={jitter[0]} y={jitter[1]}{' flip' if jitter[2] else ''}",
                         fontsize=9)
fig.suptitle("One training pair, jittered four times (same crop and flip for input and target)")
save_figure(fig, LESSON, "jitter")

# %% [markdown]
# ## 2. The training loop
#
# Everything below is what `python train.py` does, minus logs and pages. One iteration
# (Pix2Pix.train_step, paper Sec. 3.3):
#
#   D step:  loss_D = 0.5 * (BCE(D(x, y), 1) + BCE(D(x, G(x).detach()), 0))
#   G step:  loss_G = BCE(D(x, G(x)), 1) + 100 * mean|y - G(x)|
#
# both with Adam(lr = 0.0002, betas = (0.5, 0.999)), batch size 1. The DataLoader shuffles
# with a seed per epoch and jitters each item from (seed, epoch, position), so the run is
# repeatable. Samples are made the paper's way (model.generate: dropout on, BatchNorm on
# the test image's own statistics).

# %%
model = Pix2Pix(netG=f"unet_{SIZE}", ngf=NGF, ndf=NDF, seed=0)    # (1, 3, S, S) -> same
print(f"G: {sum(p.size for p in model.netG.parameters()):,} parameters, "
      f"D: {sum(p.size for p in model.netD.parameters()):,}")
loader = DataLoader(train_set, batch_size=1, shuffle=True, seed=0)
fixed = [val_set.get(i) for i in range(3)]                         # the same 3 every time
held_out = [val_set.get(i) for i in range(min(N_HELD_OUT, len(val_set)))]
snapshots, l1_curve, edge_curve = {}, {}, {}


def edge_strength(images):
    """Mean |difference| between neighbouring pixels, across and down, of (3, S, S) images:
    near 0 for a blur, larger for sharp edges and texture."""
    return float(np.mean([0.5 * (np.abs(np.diff(im, axis=1)).mean()
                                 + np.abs(np.diff(im, axis=2)).mean()) for im in images]))


target_edges = edge_strength([item["B"] for item in fixed])


def snapshot(iteration):
    """Samples of the fixed images, their edge strength and the held-out L1, at this iteration."""
    snapshots[iteration] = [model.generate(item["A"][None])[0] for item in fixed]
    l1_curve[iteration] = held_out_l1(model, held_out)
    edge_curve[iteration] = edge_strength(snapshots[iteration]) / target_edges
    print(f"iter {iteration:>4}: held-out L1 {l1_curve[iteration]:.3f}, samples' edge strength "
          f"{edge_curve[iteration]:.2f} x the targets'"
          + (f"  [{(time.perf_counter() - start) / iteration:.3f} s/iter]" if iteration else ""))


start = time.perf_counter()
snapshot(0)
records = train_iterations(model, loader, ITERS, every=1,
                           on_every=lambda it: snapshot(it) if it in SNAPSHOTS else None)
it = len(records)
print(f"trained {it} iterations in {time.perf_counter() - start:.0f} s")
recent = {k: np.mean([r[k] for r in records[-50:]]) for k in records[-1]}
print("last 50 iterations:", "  ".join(f"{k} {v:.3f}" for k, v in recent.items()))
write_numbers(LESSON, {"data": data_name, "size": SIZE, "iterations": SNAPSHOTS,
                       "held_out_l1": [l1_curve[s] for s in SNAPSHOTS],
                       "edge_strength": [edge_curve[s] for s in SNAPSHOTS]})

# %% [markdown]
# ## 2b. The learning-rate schedule (exercise 10.1)
#
# The paper keeps lr = 0.0002 for the first half of training and then lowers it linearly
# towards 0 (the official port: 100 epochs constant, 100 decaying; --n_epochs and
# --n_epochs_decay). The loop above is one epoch's worth; ``train.py`` multiplies --lr by
# ``pix2pix.training.schedule.linear_factor(epoch, n_epochs, n_epochs_decay)`` at the start
# of each epoch. Exercise 10.1 asks for that factor; its docstring is the contract. Grade it:
# python -m pytest --exercise 10.1
#
# ### If you are stuck on exercise 10.1 (linear_factor)
#
# - Hint 1: write the paper's run out by hand first: epochs 0..99 give 1.0, epoch 100
#   gives 100/101, epoch 199 (the last) 1/101. Which count of "decay epochs so far" gives
#   1 at epoch 100 and 100 at epoch 199?
# - Hint 2: that count is negative during the constant phase: clamp it at 0.
# - Hint 3: divide with /, not //: floor division jumps from 1 to 0 with no steps between.

# %% [markdown]
# ## 2c. D's step: G's output detached (exercise 10.2)
#
# The D step of section 2 scores two pairs: (x, y) against 1 and (x, G(x)) against 0, and
# halves the sum (lesson 9, section 3: with Adam the halving changes almost nothing).
# G(x) comes out of G's graph, and the G step backpropagates through it right after. Why
# must D's loss see G(x) *detached*, a leaf with the same values and no history?
#
# 1. D's step must not train G. Through G(x), D's fake term pushes G's logit a the wrong
#    way: d BCE(a, 0) / da = sigmoid(a) > 0, while G's own loss has d BCE(a, 1) / da =
#    sigmoid(a) - 1 < 0. (Pix2Pix.train_step zeroes G's gradients before the G step, so
#    the harm would be a whole wasted backward through G, the bigger network, but...)
# 2. ...the tape frees a graph once it has run backward through it (lesson 1): the G step's
#    backward through the same G(x) would then fail. A tiny graph shows both:

# %%
logit = 0.8                                                        # one logit of D on (x, G(x))
sig = 1 / (1 + np.exp(-logit))
print(f"d BCE(a, 0)/da = sigmoid(a) = {sig:.3f} (D's fake term);  d BCE(a, 1)/da = "
      f"sigmoid(a) - 1 = {sig - 1:.3f} (G's loss): opposite signs")
weight = nn.Tensor(np.array([2.0]), requires_grad=True)            # stands for G's weights
d_weight = nn.Tensor(np.array([5.0]), requires_grad=True)          # stands for D's weights
g_out = weight * 3.0                                               # stands for G(x), (1,)
(g_out.detach() * d_weight).sum().backward()                       # D's loss, G(x) detached
print(f"D's loss on g_out.detach(): D's grad {d_weight.grad}, G's grad {weight.grad}")
(g_out * d_weight).sum().backward()                                # the same, not detached
print(f"D's loss on g_out itself:   G's grad {weight.grad} (and g_out's graph is freed)")
try:
    (g_out * 7.0).sum().backward()                                 # "the G step": g_out again
except RuntimeError as error:
    print(f"a second backward through g_out: RuntimeError: {error}")

# %% [markdown]
# D also has to see the *pair*: the input x concatenated with the image along the
# channels, x first, as the G step's pairs (Pix2Pix._discriminate) and the port's weights
# have it; an unconditional D (conditional_D=False, lesson 11, exercise 11.1) sees the
# image alone. And D scores the fake pair first, then the real one: in training mode its
# batch norm normalises each call with that batch's own statistics (the order changes no
# loss), but its running statistics are updated call by call, in the port's order.
#
# Exercise 10.2 asks for ``pix2pix.models.pix2pix_model.discriminator_loss``, which
# Pix2Pix.backward_D calls; its docstring is the contract. Grade it:
# python -m pytest --exercise 10.2
#
# ### If you are stuck on exercise 10.2 (discriminator_loss)
#
# - Hint 1: two calls of netD, one per pair, each scored by gan_loss with the target the
#   pair deserves; return their mean and the two terms, as Tensors (backward_D calls
#   .backward() on the first).
# - Hint 2: a pair is F.cat([real_A, image], dim=1) (conditional) or the image alone.
# - Hint 3: detach G's output once, before building the fake pair. Not D's logits (D must
#   learn from the fake term too), and not by setting fake_B.requires_grad = False (that
#   changes the caller's tensor: the G step would get no gradient through G(x)).

# %% [markdown]
# ## 3. Watching it learn
#
# Untrained, G outputs a grey haze. Within tens of iterations it learns the average facade
# colours, then the layout of the label map (the skips make that quick), and only much
# later textures and sharp detail: that is what the remaining 199 epochs are for. The
# column titles give the held-out L1 (mean |G(x) - y| over N_HELD_OUT validation images,
# never trained on) and the samples' edge strength (mean |neighbour difference|, as a
# fraction of the targets') at each snapshot.
#
# Read the two printed columns together. The held-out L1 falls while G learns colours and
# layout, within about 50 iterations, then stays about flat. The edge strength starts high
# (an untrained G outputs noise, which is all edges), drops while G settles on a blurry
# average, then moves a little while L1 stays flat (one full run on the facades printed
# edge strength 1.72, 0.74, 0.65, 0.75, 0.73 against L1 0.400, 0.342, 0.338, 0.343, 0.340
# at 0, 50, 150, 300 and 600 iterations: read your own columns and the samples, not a
# promise of steady sharpening). Whatever detail the later samples gain or lose, L1 does
# not see it. L1 cannot see sharpness. A sharp edge drawn a few
# pixels off costs as much L1 as a wide blur centred on the right place, so once the blur
# is right, sharpening buys L1 nothing. Computed on one row, a step of height 1 between
# two flat regions:

# %%
row = np.arange(64)
step_edge = (row >= 32).astype(float)                              # the target: a sharp step
for width in (4, 8, 16):
    ramp = np.clip((row - 32 + width / 2) / width, 0, 1)          # a blur, centred right
    print(f"blur {width:>2} px wide, centred right:  L1 {np.abs(ramp - step_edge).sum():.2f}")
for shift in (1, 2, 4):
    print(f"sharp step {shift} px off:              L1 "
          f"{np.abs((row >= 32 + shift) - step_edge).sum():.2f}")

# %% [markdown]
# A blur w pixels wide costs w/4 and a sharp step d pixels off costs d: a step 2 pixels off
# costs as much as an 8-pixel blur. Where G is unsure of the exact place of a window edge,
# L1 prefers the blur. That is the paper's point (Sec. 3.1 and Fig. 4): L1 alone gives
# blurry results, and the GAN term is what pays for sharpness. So judge sharpness by eye and
# by the edge strength, not by L1; lesson 11 measures it with SSIM and colour statistics.

# %%
cols = (["input"] + [f"iter {s}\nheld-out L1 {l1_curve[s]:.3f}\nedges {edge_curve[s]:.2f}"
                     for s in SNAPSHOTS]
        + ["target"])
fig, _ = image_grid([[item["A"]] + [snapshots[s][r] for s in SNAPSHOTS] + [item["B"]]
                     for r, item in enumerate(fixed)], cols, cell=(1.9, 2.0))
fig.suptitle(f"validation samples during training ({data_name}, {SIZE}x{SIZE})")
fig.tight_layout()
save_figure(fig, LESSON, "samples_over_time")

# How to read the curves (lesson 9): the three GAN losses start at log 2 (D undecided);
# D_real and D_fake well below it with G_GAN well above means D is winning, which is common
# early on (telling a blurry fake from a photo is easy); it is a problem only if D_fake
# stays pinned near 0 for good. G_L1 (100 x mean |y - G(x)|) falls quickly at first, then
# slowly, and is noisy: each point is one image.
x = np.arange(1, len(records) + 1)
window = max(1, len(records) // 20)
fig, (ax_gan, ax_l1) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
for key, color in (("G_GAN", "tab:blue"), ("D_real", "tab:green"), ("D_fake", "tab:red")):
    y = np.array([r[key] for r in records])
    ax_gan.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
    ax_gan.plot(x, moving_average(y, window), color=color, linewidth=2, label=key)
ax_gan.axhline(LOG2, color="grey", linestyle="--", label="log 2 = 0.693 (D undecided)")
ax_gan.set_ylabel("GAN losses (BCE)")
ax_gan.legend(fontsize=8, loc="upper left")
y = np.array([r["G_L1"] for r in records])
ax_l1.plot(x, y, color="tab:purple", alpha=0.25, linewidth=0.8)
ax_l1.plot(x, moving_average(y, window), color="tab:purple", linewidth=2, label="G_L1 = 100 x L1")
ax_l1.set_ylabel("L1 term")
ax_l1.set_xlabel("iteration")
ax_l1.legend(fontsize=8)
ax_gan.set_title(f"losses, moving average over {window} iterations")
save_figure(fig, LESSON, "loss_curves")

# %% [markdown]
# ## 4. Checkpoints
#
# save_checkpoint writes one .npz: G's and D's parameters and BatchNorm running
# statistics, both Adam states, the dropout generator's state and the options; it writes
# to a temporary file and renames it, so a crash never leaves half a checkpoint.
# load_checkpoint checks that the options describe the same architecture. A fresh model
# with different initial weights, after loading, must give *identical* outputs.

# %%
options = dict(netG=f"unet_{SIZE}", ngf=NGF, ndf=NDF)            # Pix2Pix's arguments
with tempfile.TemporaryDirectory() as folder:                    # not kept: it is large
    path = os.path.join(folder, "latest.npz")
    save_checkpoint(path, model, epoch=it // len(loader), epoch_iter=it % len(loader),
                    total_iters=it, options=options)
    print(f"\ncheckpoint: {os.path.getsize(path) / 1e6:.1f} MB (weights + Adam's two moments)")
    restored = Pix2Pix(**options, seed=123)                      # other initial weights
    A = fixed[0]["A"][None]
    before = np.abs(restored.generate(A, eval_mode=True) - model.generate(A, eval_mode=True))
    meta = load_checkpoint(path, restored, options=options)
print(f"loaded: {meta['epoch']} epochs + {meta['epoch_iter']} iterations done, "
      f"{meta['total_iters']} in all")
print(f"before loading: max |difference| = {before.max():.3f}")

# Two ways to run G at test time. eval_mode=True: BatchNorm uses its running statistics and
# dropout is off (deterministic). The paper's way (default): dropout on and BatchNorm on the
# test batch, as in training; the dropout generator's state is in the checkpoint, so even
# that is reproduced exactly. To compare the two on drawings of your own, with a seed for
# the paper's noise: the demo (README, "Try it in the browser"), python -m pix2pix.demo.
rows = []
for item in fixed:
    A = item["A"][None]
    rows.append((item["A"],
                 model.generate(A, eval_mode=True)[0], restored.generate(A, eval_mode=True)[0],
                 model.generate(A)[0], restored.generate(A)[0],       # the paper's way
                 item["B"]))
diff_eval = max(np.abs(r[1] - r[2]).max() for r in rows)
diff_paper = max(np.abs(r[3] - r[4]).max() for r in rows)
print(f"after loading: max |difference| eval mode {diff_eval:.1e}, paper mode {diff_paper:.1e}")
print(f"eval mode vs the paper's mode, same model: mean |difference| = "
      f"{np.mean([np.abs(r[1] - r[3]).mean() for r in rows]):.3f}")
assert diff_eval == 0 and diff_paper == 0

titles = ["input", "trained (eval)", "reloaded (eval)", "trained (paper)",
          "reloaded (paper)", "target"]
fig, _ = image_grid(rows, titles, cell=(2.0, 2.1))
fig.suptitle(f"checkpoint round trip: identical outputs (max |diff| {diff_eval:.0f} and "
             f"{diff_paper:.0f}); eval mode and the paper's mode differ from each other")
fig.tight_layout()
save_figure(fig, LESSON, "checkpoint_roundtrip")

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - Jitter: resize, random crop, random flip; the same for input and target.
# - One iteration = one D step (halved BCE on real and fake pairs) and one G step
#   (non-saturating GAN loss + 100 * L1), each with Adam(2e-4, beta1 = 0.5).
# - Samples learn colours first, layout next, detail last; the held-out L1 falls with the
#   colours and layout, then stays about flat while the samples still change: L1 cannot see
#   sharpness (a step d pixels off costs d, a centred blur w wide costs w/4). GAN losses
#   are read against log 2.
# - A checkpoint holds weights, running statistics, optimiser moments and the dropout
#   generator: reloading reproduces the outputs exactly, in either inference mode.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 10.1 ``linear_factor``, the paper's lr schedule (section 2b).
#      Grade it:  python -m pytest --exercise 10.1
# 10.2 ``discriminator_loss``, D's loss with G's output detached (section 2c).
#      Grade it:  python -m pytest --exercise 10.2
#
# The next ones have no grader: they are experiments.
#
# 10.3 Train with --no_flip style jitter (pass no_flip=True to the dataset) and compare the
#      samples at the same iteration. Does the flip matter this early?
# 10.4 Resume: save at iteration 300, load into a fresh model and train 300 more. Are the
#      losses identical to the uninterrupted run? (They should be: the loader's order and
#      jitter depend only on (seed, epoch, position); use loader.iter_from(k).)
# 10.5 The full run: python train.py --preset cpu --name my_facades, then watch
#      checkpoints/my_facades/index.html.
#
# Next: python lessons/11_evaluation_and_ablations.py
