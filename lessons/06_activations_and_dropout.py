"""Lesson 6: activations (ReLU, leaky ReLU) and dropout as pix2pix's noise z.

Paper appendix 6.1: "All ReLUs in the encoder are leaky, with slope 0.2, while ReLUs in
the decoder are not leaky", and the discriminator's ReLUs are all leaky. And Sec. 3.1:
"for our final models, we provide noise only in the form of dropout, applied on several
layers of our generator at both training and test time. Despite the dropout noise, we
observe only minor stochasticity in the output of our nets."

What you will see:
  1. ReLU and leaky ReLU, and their gradients (from the library's backward), with the
     backward of leaky ReLU derived and checked;
  2. inverted dropout: p = probability of DROPPING, kept values scaled by 1/(1-p), and the
     mask drawn from a generator passed in, so a seed repeats a run; its backward, and
     tanh's and sigmoid's (1 - y^2 and y (1 - y)), derived and checked;
  3. dropout as z: one small U-Net run several times on the same input, with dropout on
     (the paper's test time) and off (eval mode), and the per-pixel variance it causes,
     before and after a little training.

Run:  python lessons/06_activations_and_dropout.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.31): full 3 s, fast 2 s.
"""
# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, REPO, list_pictures, numeric_grad, save_figure
from nn.ops.activations import DropoutFunction
from pix2pix.data.images import load_ab_image
from pix2pix.data.pairs import make_pair
from pix2pix.data.synthetic import make_ab_image
from pix2pix.models.pix2pix_model import Pix2Pix, paper_inference

LESSON = "06_activations_and_dropout"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. ReLU and leaky ReLU
#
#     relu(x)       = max(x, 0)                       gradient 1 (x > 0) or 0
#     leaky_relu(x) = x if x > 0 else 0.2 x            gradient 1 or 0.2
#
# A ReLU passes no gradient where its input is negative: about half of the units, on any
# one input. The discriminator uses leaky ReLUs so that G receives a gradient through D
# for every pixel, and so does the encoder. The gradients below come from ``backward``
# (the grid avoids x = 0 exactly, where neither has a derivative).

# %%
x = nn.Tensor(np.linspace(-3, 3, 600), requires_grad=True)      # (600,), 0 is not on the grid
curves = {}
for name, fn in (("ReLU", F.relu), ("leaky ReLU, slope 0.2", lambda t: F.leaky_relu(t, 0.2))):
    x.grad = None
    y = fn(x)                                                    # (600,)
    y.sum().backward()                                           # elementwise: grad = f'(x)
    curves[name] = (y.data.copy(), x.grad.copy())

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
for (name, (y, grad)), style in zip(curves.items(), (dict(lw=4, alpha=0.5), dict(lw=1.5))):
    axes[0].plot(x.data, y, label=name, **style)
    axes[1].plot(x.data, grad, label=name, **style)
axes[0].set_title("activation")
axes[1].set_title("gradient, from backward()")
for ax in axes:
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set_xlabel("x")
    ax.legend()
save_figure(fig, LESSON, "relu_vs_leaky_relu")

z = nn.Tensor(rng.standard_normal(100_000), requires_grad=True)  # pre-activations ~ N(0, 1)
F.relu(z).sum().backward()
dead = np.mean(z.grad == 0)
z.grad = None
F.leaky_relu(z, 0.2).sum().backward()
print(f"share of zero gradients on N(0, 1) inputs: ReLU {dead:.1%}, "
      f"leaky ReLU {np.mean(z.grad == 0):.1%}")


# %% [markdown]
# ### Deriving the backward of leaky ReLU (exercise 6.1)
#
# y = x for x > 0 and y = a x otherwise (a = negative_slope). Each piece is linear, so
# dy/dx = 1 or a, and with the chain rule
#
#     dL/dx = g * (1 if x > 0 else a)            (g = dL/dy, elementwise)
#
# At x = 0 exactly there is no derivative; like PyTorch we take the slope a there (x > 0
# is False). Backward needs only the mask x > 0, not x: save that (a boolean is a quarter
# of a float32's memory). Check on a tiny array, away from 0 where differences are valid:

# %%
xs = np.array([-1.5, -0.3, 0.4, 2.0])                    # (4,), no value near 0
gs = rng.standard_normal(4)                              # dL/dy, L = sum(g * y)
slope = 0.2
mask = xs > 0                                            # what forward saves
derived = gs * np.where(mask, 1.0, slope)
xt = nn.Tensor(xs, requires_grad=True)
F.leaky_relu(xt, slope).backward(gs)
num = numeric_grad(lambda a: (gs * np.where(a > 0, a, slope * a)).sum(), xs)
print("g * (1 or a):", derived, "\nlibrary     :", xt.grad, "\nnumeric     :", num)

# %% [markdown]
# ### If you are stuck on exercise 6.1 (LeakyReLU)
#
# - Hint 1: forward: ``np.where(x > 0, x, negative_slope * x)``; save the mask x > 0 and
#   remember the slope on ctx (it is a number, not an array to save).
# - Hint 2: backward: ``np.where(mask, grad, negative_slope * grad)``. Backward returns
#   one gradient per *tensor* input: the slope gets none.

# %% [markdown]
# ## 2. Dropout
#
# Dropout zeroes each element with probability p (pix2pix: p = 0.5) and multiplies the
# survivors by 1/(1 - p), so that the expected output equals the input ("inverted"
# dropout: nothing to rescale at test time). ``p`` is the probability of *dropping*, as in
# PyTorch. The mask comes from a ``numpy.random.Generator`` passed in: the same seed gives
# the same mask, on the CPU and the GPU. Backward multiplies by the same saved mask.

# %%
ones = nn.Tensor(np.ones(100_000, np.float32))                     # (100000,)
out = F.dropout(ones, p=0.5, generator=np.random.default_rng(1))  # (100000,)
print(f"p = 0.5: kept {np.mean(out.data != 0):.3f} of the elements, kept values "
      f"{np.unique(out.data[out.data != 0])}, mean {out.data.mean():.3f} (input mean 1)")
same = [F.dropout(ones, 0.5, generator=np.random.default_rng(7)).data for _ in range(2)]
print("same seed, same mask:", np.array_equal(*same))

x = nn.Tensor(rng.uniform(1, 2, (2, 6)), requires_grad=True)      # (2, 6)
y = DropoutFunction.apply(x, p=0.5, generator=np.random.default_rng(3))   # (2, 6)
y.backward(np.ones(y.shape))
print("output :", y.data[0].round(2), "\ngradient:", x.grad[0], "(2 where kept, 0 where dropped)")

# %% [markdown]
# ### Deriving the backward of dropout (exercise 6.2)
#
# For a *fixed* mask m (m_i = 1 with probability 1 - p, else 0) dropout is linear:
#
#     y_i = x_i m_i / (1 - p),     so  dy_i/dx_i = m_i / (1 - p),   dL/dx = g * m / (1 - p)
#
# The mask is random, but it is drawn once in forward and the backward must use the
# *same* one: save the scaled mask m / (1 - p) (one array), not the generator. And
# E[y_i] = x_i (1 - p) / (1 - p) = x_i: no rescaling at test time. Checked on a tiny
# array with the mask held fixed (the same seed for every forward pass):

# %%
xd = rng.uniform(1, 2, 6)                                             # (6,)
gd = rng.standard_normal(6)                                           # dL/dy
drop = lambda a: DropoutFunction.apply(nn.Tensor(a), p=0.5,  # noqa: E731
                               generator=np.random.default_rng(5)).data
scaled_mask = drop(np.ones(6))                                        # m / (1 - p): 0 or 2
num = numeric_grad(lambda a: (gd * drop(a)).sum(), xd)
print("g * m / (1 - p):", gd * scaled_mask, "\nnumeric        :", num)
means = [F.dropout(nn.Tensor(np.full(100_000, 3.0)), 0.5,
                   generator=np.random.default_rng(s_)).data.mean() for s_ in range(3)]
print("E[y] for x = 3, three masks of 100000:", np.round(means, 3))

# %% [markdown]
# ### If you are stuck on exercise 6.2 (Dropout)
#
# - Hint 1: p is the probability of *dropping*; keep where
#   ``generator.random(x.shape, dtype=np.float32) >= p`` (the generator passed in, never
#   the global one: the same seed must give the library's mask), scale by 1 / (1 - p).
# - Hint 2: build the scaled mask in x's dtype, save it, return x * mask; backward is
#   grad * the saved mask. With p = 0 every element is kept and y = x.

# %% [markdown]
# ### Tanh and sigmoid (exercises 6.3 and 6.4)
#
# G's last layer is a tanh (outputs in [-1, 1], like the images), and D's logits go
# through a sigmoid inside the BCE loss (lesson 9). Both derivatives can be written with
# the *output* alone, which is what backward saves:
#
#     tanh(x) = (e^x - e^-x) / (e^x + e^-x).  Quotient rule:
#       d tanh/dx = ((e^x + e^-x)^2 - (e^x - e^-x)^2) / (e^x + e^-x)^2 = 1 - tanh(x)^2
#     sigmoid(x) = 1 / (1 + e^-x).  Chain rule:
#       d sigmoid/dx = e^-x / (1 + e^-x)^2 = sigmoid(x) (1 - sigmoid(x))
#
# So dL/dx = g (1 - y^2) for tanh and g y (1 - y) for sigmoid, with y the saved output.

# %%
xa = np.array([-3.0, -0.5, 0.0, 0.7, 2.5])                         # (5,)
ga = rng.standard_normal(5)
for name, fn, f_np, local in (
        ("tanh", F.tanh, np.tanh, lambda y_: 1 - y_ ** 2),
        ("sigmoid", F.sigmoid, lambda a: 1 / (1 + np.exp(-a)), lambda y_: y_ * (1 - y_))):
    xt = nn.Tensor(xa, requires_grad=True)
    y = fn(xt)
    y.backward(ga)
    derived = ga * local(y.data)
    num = numeric_grad(lambda a: (ga * f_np(a)).sum(), xa)
    print(f"{name:<8s} g * local: {derived}\n{'':8s} library:   {xt.grad}\n"
          f"{'':8s} max |derived - numeric| {np.abs(derived - num).max():.1e}")

grid = nn.Tensor(np.linspace(-5, 5, 400), requires_grad=True)     # (400,)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
for ax, (name, fn) in zip(axes, (("tanh", F.tanh), ("sigmoid", F.sigmoid))):
    grid.grad = None
    y = fn(grid)
    y.sum().backward()
    ax.plot(grid.data, y.data, label=name)
    ax.plot(grid.data, grid.grad, lw=3, alpha=0.5, label="derivative, from backward()")
    ax.plot(grid.data, 1 - y.data ** 2 if name == "tanh" else y.data * (1 - y.data), "k--",
            lw=1, label="1 - y^2" if name == "tanh" else "y (1 - y)")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_title(f"{name}: the derivative from the output alone", fontsize=10)
    ax.set_xlabel("x")
    ax.legend(fontsize=8)
save_figure(fig, LESSON, "tanh_and_sigmoid")

# %% [markdown]
# Both derivatives vanish for large |x| (saturation: a tanh output at +-1 passes almost no
# gradient), which is one reason pix2pix computes the GAN loss from logits (lesson 9).
#
# ### If you are stuck on exercise 6.3 (tanh)
#
# - Hint 1: save the output y, not x: the derivative of tanh is a function of y alone.
# - Hint 2: backward is grad * (1 - y * y); ``xp.tanh`` itself does not overflow.
#
# ### If you are stuck on exercise 6.4 (sigmoid)
#
# - Hint 1: save the output y, not x: backward is grad * y * (1 - y).
# - Hint 2: for large negative x, 1 / (1 + exp(-x)) overflows exp; compute sigmoid as
#   exp(x) / (1 + exp(x)) where x < 0 (``nn.ops.activations.stable_sigmoid``).

# %% [markdown]
# ## 3. Dropout as the noise z
#
# A conditional GAN could take a noise image z next to x, but the paper found that G
# learns to ignore it; the only noise left is dropout, in the first three decoder blocks,
# kept on at test time. We build a small U-Net for 64x64 images (``unet_64``: 6
# halvings, ngf = 8 filters in the first layer instead of 64) and look where dropout sits.

# %%
def labels_and_photo(size=64):
    """facades/train/1.jpg as (labels (1, 3, size, size), photo (1, 3, size, size)) in
    [-1, 1]: labels -> photo is the paper's direction (BtoA). Synthetic if absent."""
    repo = REPO
    for path in (repo.parent / "shared/facades/train/1.jpg", repo / "datasets/facades/train/1.jpg"):
        if path.exists():
            ab = load_ab_image(path)
            break
    else:
        ab = make_ab_image(0, size)
    labels, photo = make_pair(ab, "BtoA", train=False, crop_size=size)
    return labels[None], photo[None]


real_A, real_B = labels_and_photo()  # try it
print("input (labels)", real_A.shape, " target (photo)", real_B.shape)

# lr 10x the paper's 2e-4, to get somewhere in a few seconds; L1 only (gan_mode "none").
model = Pix2Pix(netG="unet_64", ngf=8, gan_mode="none", lr=2e-3, seed=0)
G = model.netG                                   # (1, 3, 64, 64) -> (1, 3, 64, 64)
for j, block in enumerate(G.up):                 # decoder block j outputs 2^(j+1) pixels
    size = 2 ** (j + 1)
    print(f"decoder block {j}: output {size:2d}x{size:<2d} {block.conv.out_channels:3d} "
          f"channels + skip  {'Dropout(0.5)' if block.dropout is not None else ''}")

# %% [markdown]
# Run G K times on the same input, the paper's way (``paper_inference``: training mode,
# dropout on, BatchNorm on the test batch, nothing in G changed afterwards), and measure the
# per-pixel variance over the K outputs. Then in eval mode: no dropout, variance exactly 0.

# %%
K = 4 if FAST else 12


def samples(G, x, k=K):
    """k outputs of G for the same input, dropout on: (k, 3, H, W)."""
    with paper_inference(G):
        return np.stack([G(nn.Tensor(x)).data[0] for _ in range(k)])


at_init = samples(G, real_A)                                       # (K, 3, 64, 64)
steps = 15 if FAST else 150
start = time.perf_counter()
for step in range(steps):
    losses = model.train_step(real_A, real_B)
print(f"{steps} training steps (L1 only) in {time.perf_counter() - start:.1f} s; "
      f"100 * L1 now {losses['G_L1']:.1f}")
trained = samples(G, real_A)                                       # (K, 3, 64, 64)
G.eval()
with nn.no_grad():
    eval_runs = np.stack([G(nn.Tensor(real_A)).data[0] for _ in range(K)])   # (K, 3, 64, 64)
G.train()

std_init = at_init.std(axis=0).mean(axis=0)       # (64, 64): per-pixel std, averaged over RGB
std_trained = trained.std(axis=0).mean(axis=0)
diff_eval = np.abs(eval_runs - eval_runs[0]).max(axis=0).mean(axis=0)   # exactly 0 if identical
print(f"per-pixel std over {K} runs (outputs lie in [-1, 1]): at init {std_init.mean():.4f}, "
      f"after training {std_trained.mean():.4f}")
print("eval mode: all runs identical:", all(np.array_equal(eval_runs[0], r) for r in eval_runs))
print(f"on this one pair, {steps} steps changed the dropout std by a factor "
      f"{std_trained.mean() / std_init.mean():.2f}")

to_rgb = lambda a: np.clip((a.transpose(1, 2, 0) + 1) / 2, 0, 1)  # noqa: E731
fig, axes = plt.subplots(2, 4, figsize=(13, 7), constrained_layout=True)
panels = [(to_rgb(real_A[0]), "input: label map"), (to_rgb(real_B[0]), "target: photo"),
          (to_rgb(trained[0]), f"G, dropout on: run 1 ({steps} steps)"),
          (to_rgb(trained[1]), "same input: run 2")]
for ax, (img, title) in zip(axes[0], panels):
    ax.imshow(img)
    ax.set_title(title, fontsize=9)
for ax, (std, title) in zip(axes[1], ((std_init, "per-pixel std, at init"),
                                      (std_trained, f"per-pixel std, after {steps} steps"),
                                      (np.abs(trained[0] - trained[1]).mean(axis=0),
                                       "|run 1 - run 2|"),
                                      (diff_eval, "max |run k - run 1|, eval mode"))):
    im = ax.imshow(std, cmap="inferno", vmin=0, vmax=max(std.max(), 1e-6))
    ax.set_title(f"{title}\nmean {std.mean():.4f}", fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.75)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Dropout as z: {K} runs of a unet_64 on one input (colour scales differ per panel)")
save_figure(fig, LESSON, "dropout_variance")

# %% [markdown]
# Read the numbers for what they are: one input, one seed, a few seconds of L1-only
# training on that single pair. The printed per-pixel std says whether, *here*, the
# output became less sensitive to the dropout mask. That is not evidence for the paper's
# "only minor stochasticity" after full training on a data set, which this lesson does not
# reproduce: the paper observes it, we do not generalise from one image. In eval mode the
# output is deterministic. ``paper_inference`` also rewinds G's dropout generator
# afterwards, so the same K samples come back next time:

# %%
print("paper_inference repeats its samples:", np.array_equal(samples(G, real_A), trained))

list_pictures()

# %% [markdown]
# ## Summary
#
# - ReLU passes no gradient for negative inputs (half of them); leaky ReLU (slope 0.2)
#   always passes some, which is why D and the encoder use it.
# - Dropout(p) drops with probability p and scales the rest by 1/(1-p); its mask comes from
#   a generator, and backward reuses it: dL/dx = g * m / (1 - p).
# - tanh' = 1 - tanh^2 and sigmoid' = s (1 - s): backward needs only the output.
# - pix2pix's only noise z is dropout in three decoder blocks, on at test time (the
#   paper reports that it causes only minor stochasticity). Eval mode turns it off.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 6.1  ``LeakyReLUFunction`` (forward(ctx, x, negative_slope=0.01), backward), section 1.
#      Grade it:  python -m pytest --exercise 6.1
# 6.2  ``DropoutFunction`` (forward(ctx, x, p=0.5, generator=None), backward), section 2.
#      Grade it:  python -m pytest --exercise 6.2
# 6.3  ``TanhFunction``, section 2.
#      Grade it:  python -m pytest --exercise 6.3
# 6.4  ``SigmoidFunction``, section 2.
#      Grade it:  python -m pytest --exercise 6.4
# 6.5  (no grader) Build G with dropout_placement="pytorch" (Pix2Pix(...,
#      dropout_placement="pytorch")) and compare its variance map with the paper's.
#
# Next: python lessons/06b_optimisation.py
