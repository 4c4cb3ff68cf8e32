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
  5. how to read the four numbers train.py prints: D_real, D_fake, G_GAN, G_L1.

Run:  python lessons/09_objective.py                 (seconds)
      LESSON_FAST=1 python lessons/09_objective.py
"""
# %%
from lessons.common import FAST, list_pictures, save_figure

import math

import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from pix2pix.pix2pix_model import Pix2Pix, gan_loss
from pix2pix.models import define_D
from pix2pix.synthetic import SyntheticFacades

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
#
# ## Exercises
#
# 9.1  Write BCEWithLogits (forward and backward) in lessons/exercises/ex09_objective.py.
#      Grade it:  python -m pytest --exercise 9.1
# 9.2  (no grader) gan_mode "lsgan" replaces BCE by (a - t)^2 (Mao et al. 2017). Add its
#      curves to the picture: does it saturate?
# 9.3  (no grader) Repeat section 5 after 50 training steps: how has the ratio of the two
#      gradients changed?
#
# Next: python lessons/10_training_on_facades.py
