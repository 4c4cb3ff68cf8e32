"""Lesson 9: the pix2pix objective, and how to read GAN losses.

Paper: Isola et al., CVPR 2017, Sec. 3.1 (objective, Eqs. 1-4) and Sec. 3.3 (optimisation:
the non-saturating generator loss, D's objective divided by 2).

What you will see:
  1. the objective, cGAN + lambda * L1 with lambda = 100, term by term;
  2. binary cross-entropy on logits, computed stably (F.binary_cross_entropy_with_logits),
     and log 2 = 0.693: the loss of a D that outputs 0.5 everywhere;
  3. why G maximises log D(x, G(x)) instead of minimising log(1 - D(x, G(x))): the
     gradients when D confidently rejects the fakes (picture);
  4. D's objective halved, and why with Adam that changes almost nothing;
  5. how to read the four numbers train.py prints: D_real, D_fake, G_GAN, G_L1;
  6. the backward of BCE with logits (s - t) and of L1 (sign), derived and checked, and
     why L1 blurs: on a toy with three right answers, L2 gives their mean, L1 their
     median, L1 + cGAN one of them (numbers and a picture).

Run:  python lessons/09_objective.py
      LESSON_FAST=1 python lessons/09_objective.py
Measured run time (2-core CPU, nothing else running, load 0.9): full 4 s, fast 2 s.
"""
# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, list_pictures, numeric_grad, save_figure
from pix2pix.data.synthetic import SyntheticFacades
from pix2pix.models import define_D
from pix2pix.models.pix2pix_model import Pix2Pix, gan_loss

LESSON = "09_objective"

# %% [markdown]
# ## 1. The objective
#
# D outputs a logit a per patch; D(x, y) = sigmoid(a) is its belief that the pair is real.
#
#     L_cGAN(G, D) = E_{x,y}[ log D(x, y) ] + E_x[ log(1 - D(x, G(x))) ]      (Eq. 1)
#     L_L1(G)      = E_{x,y}[ || y - G(x) ||_1 ]                                (Eq. 3)
#     G* = arg min_G max_D  L_cGAN(G, D) + lambda L_L1(G),   lambda = 100       (Eq. 4)
#
# D maximises L_cGAN: log D(x, y) on real pairs, log(1 - D) on fake ones. That is the
# same as minimising binary cross-entropy with target 1 for real and 0 for fake:
#
#     BCE(a, t) = -t log sigmoid(a) - (1 - t) log(1 - sigmoid(a))
#               = max(a, 0) - a t + log(1 + exp(-|a|))        (never overflows)
#
# averaged over every patch of the 30x30 map (and the batch).

# %%
logits = [-100.0, -5.0, 0.0, 5.0, 100.0]
print(f"{'logit a':>8} {'BCE(a, 1)':>12} {'BCE(a, 0)':>12} {'naive -log sigmoid(a)':>24}")
for a in logits:
    t = nn.Tensor(np.array([a], np.float32))                     # one logit, (1,)
    real = F.binary_cross_entropy_with_logits(t, 1.0).item()     # target 1: "real"
    fake = F.binary_cross_entropy_with_logits(t, 0.0).item()     # target 0: "fake"
    with np.errstate(over="ignore", divide="ignore"):
        naive = -np.log(np.float32(1) / (1 + np.exp(np.float32(-a)))) + 0.0
    print(f"{a:>8.1f} {real:>12.4f} {fake:>12.4f} {naive:>24.4f}")
# The naive formula gives inf at a = -100 (sigmoid underflows to 0 in float32, log 0 =
# -inf); the stable one gives the right answer, 100. This is why D returns logits and the
# sigmoid lives inside the loss.

# The reference point: a D that cannot tell (logit 0, D = 0.5 everywhere) scores log 2
# on real and on fake pairs alike.
undecided = nn.Tensor(np.zeros((1, 1, 30, 30), np.float32))     # a 30x30 map of logits
print(f"\nD outputs 0.5 everywhere: gan_loss(real) = {gan_loss(undecided, True).item():.4f}, "
      f"gan_loss(fake) = {gan_loss(undecided, False).item():.4f}, log 2 = {math.log(2):.4f}")

# %% [markdown]
# ## 1b. Deriving the backward of BCE with logits (exercise 9.1)
#
# Per element, with s = sigmoid(a): l(a, t) = -t log s - (1 - t) log(1 - s). Three steps,
# each checked numerically below on a few logits (t may be any number in [0, 1]):
#
#     (i)   ds/da = s (1 - s)                                  (lesson 6)
#     (ii)  dl/ds = -t / s + (1 - t) / (1 - s)
#     (iii) dl/da = dl/ds * ds/da = -t (1 - s) + (1 - t) s = s - t
#
# The two fractions cancel against s (1 - s): the gradient is simply "prediction minus
# target", bounded in [-1, 1], never inf or nan even where log s would be. The stable
# forward max(a, 0) - a t + log(1 + exp(-|a|)) has the same derivative: 1[a > 0] - t -
# sign(a) e^-|a| / (1 + e^-|a|) = s - t (check both signs of a). The loss is the *mean*
# over the M patches, so each element's gradient is (s - t) / M.

# %%
a_small = np.array([-4.0, -0.7, 0.3, 2.5])                  # (4,) logits
t_small = np.array([1.0, 0.0, 1.0, 0.2])                    # targets in [0, 1]
sig = lambda a_: 1 / (1 + np.exp(-a_))                      # noqa: E731
s_small = sig(a_small)
per_elem = lambda s_: -t_small * np.log(s_) - (1 - t_small) * np.log(1 - s_)   # noqa: E731
stable = lambda a_: np.maximum(a_, 0) - a_ * t_small + np.log1p(np.exp(-np.abs(a_)))  # noqa
print("(i)   s (1 - s)      :", s_small * (1 - s_small),
      "\n      numeric        :", numeric_grad(lambda a_: sig(a_).sum(), a_small))
dl_ds = -t_small / s_small + (1 - t_small) / (1 - s_small)
print("(ii)  dl/ds          :", dl_ds,
      "\n      numeric        :", numeric_grad(lambda s_: per_elem(s_).sum(), s_small))
print("(iii) s - t          :", s_small - t_small, "\n      (ii) x (i)     :",
      dl_ds * s_small * (1 - s_small),
      "\n      numeric, stable:", numeric_grad(lambda a_: stable(a_).sum(), a_small))
at = nn.Tensor(a_small, requires_grad=True)
F.binary_cross_entropy_with_logits(at, nn.Tensor(t_small)).backward()
print("library (mean over 4):", at.grad, " = (s - t) / 4:", (s_small - t_small) / 4)

# %% [markdown]
# ### If you are stuck on exercise 9.1 (BCEWithLogits)
#
# - Hint 1: forward returns the mean of max(a, 0) - a t + log1p(exp(-|a|)) (section 1),
#   never log(sigmoid(a)); save a and t for backward.
# - Hint 2: backward is (sigmoid(a) - t) * grad / a.size; compute sigmoid without
#   overflow (``nn.ops.activations.stable_sigmoid``: exp(a) / (1 + exp(a)) for a < 0).
# - Hint 3: the target may be a number (1.0 for "real") or an array; the gradient with
#   respect to t, if anyone asks for it, is -a * grad / a.size.

# %% [markdown]
# ## 1c. Deriving the backward of the L1 loss (exercise 9.2)
#
# L = mean |a - b| over M elements. |u| has derivative sign(u) for u != 0 (and none at
# 0, where the library, like PyTorch, uses 0). With u = a - b:
#
#     dL/da = sign(a - b) / M,      dL/db = -sign(a - b) / M
#
# The size of the error does not matter, only its sign: every pixel pulls with the same
# force, which is why L1 moves G towards the *median* of the possible targets (section 6).
# Checked away from the kink (a != b):

# %%
pa = np.array([0.5, -0.2, 0.9, -0.8])                       # G's output (4,)
pb = np.array([0.1, 0.3, 0.95, -0.9])                       # target (4,)
tb = nn.Tensor(pa, requires_grad=True)
F.l1_loss(tb, nn.Tensor(pb)).backward()
print("sign(a - b) / M:", np.sign(pa - pb) / 4, "\nlibrary        :", tb.grad,
      "\nnumeric        :", numeric_grad(lambda x_: np.abs(x_ - pb).mean(), pa))

# %% [markdown]
# ### If you are stuck on exercise 9.2 (the L1 loss)
#
# - Hint 1: save sign(a - b) in forward (``np.sign``): backward needs nothing else.
# - Hint 2: return (g, -g) with g = sign * grad / M, where M = a.size (the mean); the
#   two inputs must have the same shape (raise otherwise: broadcasting would hide a bug).

# %% [markdown]
# ## 2. The non-saturating trick
#
# Taken literally, Eq. 1 asks G to *minimise* log(1 - D(x, G(x))). Early in training D
# easily rejects the fakes, D(x, G(x)) = sigmoid(a) is near 0, and there
#
#     d/da log(1 - sigmoid(a)) = -sigmoid(a)  ->  0:
#
# G gets almost no gradient exactly when it most needs one. Goodfellow et al. (2014)
# proposed instead to *maximise* log D(x, G(x)), i.e. minimise -log sigmoid(a) =
# BCE(a, 1), whose gradient -(1 - sigmoid(a)) is near -1 there. Same fixed point, strong
# early gradients. pix2pix does this (Sec. 3.3): G's GAN loss is gan_loss(D(x, G(x)), True).
# Our autograd computes both gradients:

# %%
a = nn.Tensor(np.linspace(-8, 8, 801), requires_grad=True)      # logits, float64
saturating = F.log(1 - F.sigmoid(a))                             # G minimises this (Eq. 1)
saturating.sum().backward()                                      # per-element d/da
grad_sat = a.grad.copy()
a.grad = None
non_saturating = -F.log(F.sigmoid(a))                            # = BCE(a, 1) per element
non_saturating.sum().backward()
grad_ns = a.grad.copy()
assert np.allclose(F.binary_cross_entropy_with_logits(a, 1.0).item(),
                   non_saturating.numpy().mean())
d_out = F.sigmoid(a).numpy()                                     # D(x, G(x)) in (0, 1)

print(f"\n{'D(x, G(x))':>11} {'|d/da log(1-D)|':>17} {'|d/da -log D|':>15}")
for p in (0.001, 0.01, 0.1, 0.5, 0.9):
    i = np.argmin(np.abs(d_out - p))
    print(f"{p:>11} {abs(grad_sat[i]):>17.4f} {abs(grad_ns[i]):>15.4f}")

# %% [markdown]
# ## 3. D's objective divided by 2
#
# pix2pix minimises, for D:  0.5 * (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)), "which slows
# down the rate at which D learns relative to G" (Sec. 3.3). With plain SGD the halving
# halves every step. But the paper trains with Adam, whose step is
# lr * m / (sqrt(v) + eps): scale every gradient by 0.5 and m and sqrt(v) both halve,
# so the step is unchanged up to eps = 1e-8. Let us check with one step on a small D.

# %%
def one_step(scale, optimizer):
    """Parameter change of a fresh D after one step on scale * (its BCE loss)."""
    D = define_D("basic", input_nc=6, ndf=8, seed=0)              # (1, 6, 64, 64) -> (1, 1, 6, 6)
    before = [p.data.copy() for p in D.parameters()]
    opt = optimizer(D.parameters())
    pairs = np.random.default_rng(1).uniform(-1, 1, (2, 1, 6, 64, 64)).astype(np.float32)
    loss = (gan_loss(D(nn.Tensor(pairs[0])), True) + gan_loss(D(nn.Tensor(pairs[1])), False))
    (loss * scale).backward()
    opt.step()
    return np.concatenate([(p.data - b).ravel() for p, b in zip(D.parameters(), before)])


for name, optimizer in (("SGD", lambda ps: nn.SGD(ps, lr=0.01)),
                        ("Adam", lambda ps: nn.Adam(ps, lr=2e-4, betas=(0.5, 0.999)))):
    full, half = one_step(1.0, optimizer), one_step(0.5, optimizer)
    print(f"{name:>4}: |step with loss/2| / |step with loss| = "
          f"{np.linalg.norm(half) / np.linalg.norm(full):.6f}")
# So in pix2pix as trained, the 1/2 is mostly a convention: it keeps D's printed loss on
# the same scale as G's GAN loss (each about log 2 when D is undecided).

# %% [markdown]
# ## 4. Reading GAN losses
#
# train.py logs four numbers per iteration: D_real = BCE(D(x, y), 1), D_fake =
# BCE(D(x, G(x)), 0), G_GAN = BCE(D(x, G(x)), 1) and G_L1 = lambda * mean|y - G(x)|.
# They are not minimised towards zero together: D_fake and G_GAN judge the *same*
# logits with opposite targets, so one goes down when the other goes up.
# log 2 = 0.693 is the reference point. Typical situations, with constant logit maps:

# %%
def losses_for(real_logit, fake_logit):
    real = nn.Tensor(np.full((1, 1, 30, 30), real_logit, np.float32))
    fake = nn.Tensor(np.full((1, 1, 30, 30), fake_logit, np.float32))
    return (gan_loss(real, True).item(), gan_loss(fake, False).item(),
            gan_loss(fake, True).item())


print(f"\n{'situation':<42}{'D_real':>8}{'D_fake':>8}{'G_GAN':>8}")
for situation, real_logit, fake_logit in [
        ("D undecided (0.5 everywhere): balance", 0.0, 0.0),
        ("D fairly sure (0.73 vs 0.27): healthy", 1.0, -1.0),
        ("D wins (0.99 vs 0.01): G is losing", 4.6, -4.6),
        ("G fools D (fakes judged 0.95 real)", 1.0, 3.0)]:
    d_real, d_fake, g_gan = losses_for(real_logit, fake_logit)
    print(f"{situation:<42}{d_real:>8.3f}{d_fake:>8.3f}{g_gan:>8.3f}")
# Rules of thumb: D_real and D_fake hovering around 0.3-0.7 and G_GAN around 0.7-2 is a
# game in progress. One loss near zero for a long time means one network dominates: D_fake
# -> 0 with G_GAN large means D wins; G_GAN -> 0 means D is fooled (or broken). Neither
# number says how good the images are: look at them (lesson 10).

# %% [markdown]
# ## 5. The losses of a real model at initialisation
#
# Weights start at N(0, 0.02), so D's logits start near 0 and all three GAN losses near
# log 2. G_L1 is lambda = 100 times the mean absolute error: a few tens at first, far
# larger than G_GAN. What matters for G, though, is the gradient each term sends into
# G's output image:

# %%
size = 32 if FAST else 64
model = Pix2Pix(netG=f"unet_{size}", ngf=16, ndf=16, seed=0)
item = SyntheticFacades(n=1, size=size, train=False).get(0)
real_A, real_B = nn.Tensor(item["A"][None]), nn.Tensor(item["B"][None])
fake_B = nn.Tensor(model.netG(real_A).numpy(), requires_grad=True)   # G's output as a leaf
g_gan = gan_loss(model.netD(F.cat([real_A, fake_B], dim=1)), True)
g_gan.backward()
grad_gan = np.linalg.norm(fake_B.grad)
fake_B.grad = None
g_l1 = F.l1_loss(fake_B, real_B) * model.lambda_L1
g_l1.backward()
grad_l1 = np.linalg.norm(fake_B.grad)
print(f"\nat initialisation: G_GAN = {g_gan.item():.3f}, G_L1 = {g_l1.item():.2f}")
print(f"|gradient on G(x)|: from G_GAN {grad_gan:.2e}, from 100 * L1 {grad_l1:.2e} "
      f"(ratio {grad_l1 / grad_gan:.0f})")
losses = model.train_step(item["A"][None], item["B"][None])      # try it: one full step
print("first train_step:", {k: round(v, 3) for k, v in losses.items()})

# %% [markdown]
# ### Picture: the curves

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
ax = axes[0]
ax.plot(d_out, saturating.numpy(), label="log(1 - D)  (G minimises: saturating)")
ax.plot(d_out, non_saturating.numpy(), label="-log D  (G minimises: non-saturating)")
ax.set_xlabel("D(x, G(x)): D's belief that the fake is real")
ax.set_ylabel("G's GAN loss")
ax.set_title("G's two possible losses")
ax.legend(fontsize=8)
ax = axes[1]
ax.semilogy(d_out, np.abs(grad_sat), label="|d/da log(1 - D)| = D")
ax.semilogy(d_out, np.abs(grad_ns), label="|d/da -log D| = 1 - D")
ax.axvspan(0, 0.05, color="red", alpha=0.1)
ax.text(0.07, 1e-3, "early training:\nD rejects fakes,\nsaturating loss\nhas no gradient",
        fontsize=8)
ax.set_xlabel("D(x, G(x))")
ax.set_ylabel("gradient w.r.t. D's logit a")
ax.set_title("...and their gradients")
ax.legend(fontsize=8)
ax = axes[2]
bce_real = -np.log(d_out)                       # BCE(a, 1) as a function of D = sigmoid(a)
bce_fake = -np.log(1 - d_out)                   # BCE(a, 0)
ax.plot(d_out, bce_real, label="D_real = -log D(x, y)")
ax.plot(d_out, bce_fake, label="D_fake = -log(1 - D(x, G(x)))")
ax.axhline(math.log(2), color="grey", linestyle="--", label="log 2 = 0.693")
ax.axvline(0.5, color="grey", linewidth=0.5)
ax.set_ylim(0, 4)
ax.set_xlabel("D's output (probability 'real')")
ax.set_ylabel("BCE")
ax.set_title("D's losses: both 0.693 at D = 0.5")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, LESSON, "objective_curves")

# %% [markdown]
# ## 6. Why L1 blurs, and what the GAN adds: a toy with several right answers
#
# Sec. 3.1: L1 alone "produces blurry results", and the GAN term makes outputs sharper.
# Here is why, on the smallest conditional problem with several right answers. For one
# fixed input x (think: one patch of a label map), the training targets y are a colour
# patch that is red, blue or green at random (40%, 35%, 25%): all three are correct
# photos of this x. G has to give one answer for this x (no noise, as in pix2pix), so
# G(x) is simply one learnable colour c = tanh(z), z in R^3. (The condition x is the same
# for every sample here, so we leave it out of D's input.)
#
# - **L2**: mean (c - y)^2 is minimised by the *mean* of the targets, per channel;
# - **L1**: mean |c - y| by their *median*, per channel (the sign-only gradient of section
#   1c: c moves until as many targets lie above as below);
# - **L1 + cGAN**: a small D (three 1x1 convolutions) learns to tell real colours from G's,
#   and G is pushed to where D says "real": onto one of the modes.
#
# First the two statistics, from 100,000 samples; then G trained each way, with Adam.

# %%
MODES = 0.9 * np.array([[1, -1, -1], [-1, -1, 1], [-1, 1, -1]], float)   # red, blue, green
MODE_P = [0.4, 0.35, 0.25]
toy_rng = np.random.default_rng(0)


def targets(n):
    """n target colours (n, 3, 1, 1): each red, blue or green with MODE_P."""
    return MODES[toy_rng.choice(3, size=n, p=MODE_P)].reshape(n, 3, 1, 1)


many = targets(100_000)[:, :, 0, 0]                                    # (100000, 3)
print("mean of the targets  :", many.mean(axis=0).round(3))
print("median of the targets:", np.median(many, axis=0).round(3), "(per channel)")

TOY_STEPS, BATCH = (250 if FAST else 600), 64


def tiny_D():
    """Colour (N, 3, 1, 1) -> logit (N, 1, 1, 1): three 1x1 convs with leaky ReLUs."""
    gens = [np.random.default_rng(k) for k in (1, 2, 3)]
    return nn.Sequential(nn.Conv2d(3, 32, 1, dtype=np.float64, generator=gens[0]),
                         nn.LeakyReLU(0.2),
                         nn.Conv2d(32, 32, 1, dtype=np.float64, generator=gens[1]),
                         nn.LeakyReLU(0.2),
                         nn.Conv2d(32, 1, 1, dtype=np.float64, generator=gens[2]))


def train_toy(loss_name, lambda_l1=1.0):
    """G's colour after TOY_STEPS Adam steps on 'L2', 'L1' or 'L1 + cGAN'. Returns (3,)."""
    z = nn.Parameter(np.zeros((1, 3, 1, 1)))                           # c = tanh(z) = grey
    opt_G = nn.Adam([z], lr=0.05, betas=(0.5, 0.999))
    D = tiny_D()
    opt_D = nn.Adam(D.parameters(), lr=0.01, betas=(0.5, 0.999))
    spread = nn.Tensor(np.ones((BATCH, 1, 1, 1)))                      # c for every sample
    for _ in range(TOY_STEPS):
        y = nn.Tensor(targets(BATCH))                                  # (64, 3, 1, 1)
        if loss_name == "L1 + cGAN":                                   # D step first
            fake = nn.Tensor(np.repeat(np.tanh(z.data), BATCH, axis=0))
            opt_D.zero_grad()
            (0.5 * (gan_loss(D(y), True) + gan_loss(D(fake), False))).backward()
            opt_D.step()
        opt_G.zero_grad()
        c = F.tanh(z) * spread                                         # (64, 3, 1, 1)
        if loss_name == "L2":
            loss = F.mse_loss(c, y)
        elif loss_name == "L1":
            loss = F.l1_loss(c, y)
        else:
            loss = gan_loss(D(c), True) + lambda_l1 * F.l1_loss(c, y)
        loss.backward()
        opt_G.step()
    return np.tanh(z.data).ravel()


toy = {name: train_toy(name) for name in ("L2", "L1", "L1 + cGAN")}
toy["L1 + cGAN, lambda 10"] = train_toy("L1 + cGAN", lambda_l1=10.0)
names = ["red", "blue", "green"]
for name, c in toy.items():
    dist = np.linalg.norm(MODES - c, axis=1)
    print(f"{name:<21s} G(x) = {c.round(3)}   nearest real colour: {names[dist.argmin()]} "
          f"at distance {dist.min():.2f}")

fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), gridspec_kw=dict(width_ratios=[3, 2]))
samples = targets(24)[:, :, 0, 0]
axes[0].imshow(np.clip((samples.reshape(2, 12, 3) + 1) / 2, 0, 1))
axes[0].set_title("24 training targets for the same input x (40% red, 35% blue, 25% green)",
                  fontsize=10)
shown = [("mean\n(computed)", many.mean(axis=0)), ("median\n(computed)", np.median(many, 0))]
shown += [(name.replace(", ", "\n"), c) for name, c in toy.items()]
axes[1].imshow(np.clip((np.array([c for _, c in shown])[None] + 1) / 2, 0, 1))
axes[1].set_xticks(range(len(shown)))
axes[1].set_xticklabels([n for n, _ in shown], fontsize=8)
axes[1].set_title("G(x) trained with each loss: L2 -> mean, L1 -> median,\n"
                  "L1 + cGAN -> one real colour", fontsize=10)
for ax in axes:
    ax.set_yticks([])
axes[0].set_xticks([])
fig.tight_layout()
save_figure(fig, LESSON, "bimodal_toy")

# %% [markdown]
# Read it: L2 lands near the mean (up to the noise of 64-sample batches), a muddy colour that no target has; L1 on the
# per-channel median, here a near-black that no target has either (each channel is -0.9
# more often than not). Both are per-pixel compromises between several right answers, and
# in an image, where the right answer varies from pixel to pixel (where exactly a window
# edge lies, which texture a wall has), the compromise is a blur. The GAN term asks a
# different question: "does this look like a real sample?". The compromise colours do not,
# so G is pushed onto one of the modes (which one depends on the run and on lambda:
# see the nearest colour printed above). pix2pix keeps L1 (lambda = 100) for the low frequencies
# and the overall layout, where the compromise is harmless, and lets the PatchGAN sharpen
# the rest (lesson 8). What the toy does not show: a G with no noise commits to one mode
# for a given x; pix2pix's dropout gives it only a little randomness (lesson 6).

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - pix2pix minimises, for G: BCE(D(x, G(x)), 1) + 100 * mean|y - G(x)|; for D:
#   0.5 * (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)), averaged over all patches.
# - BCE on logits, max(a, 0) - a t + log(1 + exp(-|a|)), is exact and stable for any logit.
# - Non-saturating loss: when D rejects fakes (D ~ 0), -log D still has gradient ~1 where
#   log(1 - D) has ~0.
# - Halving D's loss halves SGD steps but leaves Adam steps unchanged.
# - log 2 = 0.693 is a GAN loss when D outputs 0.5; a loss pinned near 0 means one network
#   dominates. G_L1 is on another scale (x 100) and its gradient dominates early on.
# - Backward: BCE on logits gives (sigmoid(a) - t) / M; L1 gives sign(a - b) / M.
# - With several right answers, L2 goes to their mean and L1 to their per-pixel median:
#   compromises that look like no real sample (blur); the GAN term pushes G onto a mode.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 9.1  ``BCEWithLogits`` (forward and backward), sections 1 and 1b.
#      Grade it:  python -m pytest --exercise 9.1
# 9.2  The L1 loss (forward and backward), section 1c.
#      Grade it:  python -m pytest --exercise 9.2
# 9.3  (no grader) gan_mode "lsgan" replaces BCE by (a - t)^2 (Mao et al. 2017). Add its
#      curves to the picture: does it saturate?
# 9.4  (no grader) Repeat section 5 after 50 training steps: how has the ratio of the two
#      gradients changed?
# 9.5  (no grader) In section 6, make the targets 50% red and 50% blue. Where does L1 end
#      up now, and why does its gradient stop pulling anywhere in between?
#
# Next: python lessons/10_training_on_facades.py
