"""Lesson 6b: optimisation, from SGD to Adam.

Paper Sec. 3.3: "we use minibatch SGD and apply the Adam solver [Kingma and Ba], with a
learning rate of 0.0002, and momentum parameters beta1 = 0.5, beta2 = 0.999". Every
pix2pix step from lesson 10 on is an Adam step; this lesson builds it from plain gradient
descent, one idea at a time, in a few lines of NumPy each.

What you will see:
  1. a small 2-D loss with one steep and one shallow direction, and plain SGD on it;
  2. momentum: a running average of the gradients;
  3. RMS scaling: dividing each coordinate by the root mean square of its gradients;
  4. bias correction: why m and v, started at 0, must be divided by 1 - beta^t;
  5. Adam = all three, in four lines; checked against the library's
     ``nn.optim.adam_step_reference`` and the fast ``nn.optim.Adam``;
  6. the trajectories of all of them, as a picture, and how the curvature ratio decides
     whether momentum pays;
  7. why GANs use beta1 = 0.5 (the DCGAN practice), and a toy GAN that shows the effect.

Run:  python lessons/06b_optimisation.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.37): full 1 s, fast 1 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
from lessons.common import FAST, list_pictures, save_figure
from nn.optim import adam_step_reference

LESSON = "06b_optimisation"
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. A loss with a steep and a shallow direction
#
#     f(w) = 0.5 * (w_0^2 + 25 w_1^2),      grad f(w) = (w_0, 25 w_1)
#
# The minimum is at 0. Along w_1 the loss is 25 times steeper than along w_0: the
# gradient's size says little about how far to go.
#
# Plain (stochastic) gradient descent: w <- w - lr * g. On w_1 that multiplies the error
# by (1 - 25 lr) every step, so it diverges once lr > 2/25 = 0.08; on w_0 it shrinks by
# only (1 - lr). The steep direction caps the step size, and the shallow one crawls.

# %%
CURV = np.array([1.0, 25.0])                   # the two curvatures


def loss(w, curv=CURV):
    """f(w) for w: (..., 2)."""
    return 0.5 * (curv * w ** 2).sum(axis=-1)


def grad(w, curv=CURV):
    return curv * w


START = np.array([-4.0, 1.0])
STEPS = 60 if FAST else 150


def run(update, steps=STEPS, w=START, curv=CURV):
    """Apply update(w, g, t) -> w for t = 1..steps from START on the loss with curvatures
    curv. Returns the path (steps+1, 2)."""
    path = [w]
    for t in range(1, steps + 1):
        w = update(w, grad(w, curv), t)
        path.append(w)
    return np.array(path)


def sgd(lr):
    return lambda w, g, t: w - lr * g


for lr in (0.03, 0.07, 0.09):
    path = run(sgd(lr))
    print(f"SGD lr {lr}: loss after {STEPS} steps {loss(path[-1]):.2e}   "
          f"(w_1 factor per step |1 - 25 lr| = {abs(1 - 25 * lr):.2f})")

# %% [markdown]
# ## 2. Momentum: average the gradients
#
# Keep a running average of past gradients and step along it (Polyak's heavy ball; the
# form of ``torch.optim.SGD(momentum=mu)``):
#
#     v <- mu v + g,      w <- w - lr v
#
# On w_1 the gradient flips sign every step (the zigzag) and the average cancels it out;
# on w_0 it always points the same way and the average builds up to g / (1 - mu). The
# update needs state: one array v the size of w.

# %%
def momentum(lr, mu):
    state = {"v": np.zeros(2)}

    def update(w, g, t):
        state["v"] = mu * state["v"] + g
        return w - lr * state["v"]
    return update


g_const = 1.0                                  # a constant gradient: v approaches g/(1-mu)
v = 0.0
for t in range(50):
    v = 0.9 * v + g_const
print(f"momentum 0.9, constant gradient 1: v after 50 steps = {v:.3f}, 1/(1 - 0.9) = 10")
path = run(momentum(0.03, 0.9))
print(f"momentum lr 0.03, mu 0.9: loss after {STEPS} steps {loss(path[-1]):.2e}")

# %% [markdown]
# ## 3. RMS scaling: one step size per coordinate
#
# Divide each coordinate's gradient by the root mean square of its recent gradients
# (Hinton's RMSProp):
#
#     s <- beta2 s + (1 - beta2) g^2,     w <- w - lr g / (sqrt(s) + eps)
#
# If g is about constant, g / sqrt(s) is about +-1 whatever g's scale: every coordinate
# moves by about lr per step, the steep one and the shallow one alike. The check below
# multiplies the loss by 1000: SGD's steps grow 1000-fold, RMS-scaled steps do not change.

# %%
def rms_scaled(lr, beta2=0.999, eps=1e-8, correct=True):
    state = {"s": np.zeros(2)}

    def update(w, g, t):
        state["s"] = beta2 * state["s"] + (1 - beta2) * g * g
        s = state["s"] / (1 - beta2 ** t) if correct else state["s"]
        return w - lr * g / (np.sqrt(s) + eps)
    return update


for scale in (1.0, 1000.0):
    g = scale * grad(START)
    step_sgd = 0.03 * g
    step_rms = START - rms_scaled(0.03)(START, g, 1)
    print(f"loss x {scale:g}: first SGD step {step_sgd}, first RMS-scaled step {step_rms}")

# %% [markdown]
# ## 4. Bias correction
#
# m and v start at 0, so for the first steps they are too small: with a constant gradient
# g, after t steps
#
#     m_t = (1 - beta) (g + beta g + ... + beta^(t-1) g) = (1 - beta^t) g
#
# Dividing by (1 - beta^t) gives back exactly g. Without it, v is tiny early on
# (1 - 0.999^1 = 0.001 of g^2 at step 1), and g / sqrt(v) is sqrt(1000) = 31.6 times too
# large: the first RMS-scaled steps would be 31.6 lr. Computed, then drawn:

# %%
T = np.arange(1, 201)
m_raw = {b: np.zeros(len(T)) for b in (0.5, 0.9, 0.999)}
for b in m_raw:
    m = 0.0
    for i in range(len(T)):
        m = b * m + (1 - b) * g_const                 # constant gradient g = 1
        m_raw[b][i] = m
for b in m_raw:
    formula = 1 - b ** T
    print(f"beta {b}: max |m_t - (1 - beta^t) g| = {np.abs(m_raw[b] - formula).max():.1e}; "
          f"corrected m_1 = {m_raw[b][0] / (1 - b):.4f}")
step_uncorrected = START - rms_scaled(0.03, correct=False)(START, grad(START), 1)
print(f"first RMS-scaled step without correction: {step_uncorrected} "
      f"(= 31.6 x lr = {0.03 * np.sqrt(1000):.3f} per coordinate)")

fig, ax = plt.subplots(figsize=(8, 3.8))
for b, color in zip(m_raw, ("tab:blue", "tab:orange", "tab:green")):
    ax.plot(T, m_raw[b], color=color, label=f"m_t, beta = {b}")
    ax.plot(T, m_raw[b] / (1 - b ** T), color=color, ls="--", lw=1,
            label=f"m_t / (1 - beta^t), beta = {b}")
ax.set_xscale("log")
ax.set_xlabel("step t")
ax.set_ylabel("estimate of the gradient (true value 1)")
ax.set_title("Running averages started at 0 lag behind; bias correction removes the lag")
ax.legend(fontsize=7, ncol=2)
save_figure(fig, LESSON, "bias_correction")

# %% [markdown]
# ## 5. Adam: momentum + RMS scaling + bias correction
#
#     m <- beta1 m + (1 - beta1) g                  the gradient's running mean
#     v <- beta2 v + (1 - beta2) g^2                its square's running mean
#     m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
#     w <- w - lr m_hat / (sqrt(v_hat) + eps)
#
# (Kingma and Ba 2015, Algorithm 1.) ``nn.optim.adam_step_reference`` is exactly these
# lines on plain arrays; ``nn.optim.Adam`` computes the same numbers in place, without
# temporaries, for millions of weights (tests/nn/test_optim.py checks the two agree). We
# write it once more here and compare all three over a few steps.

# %% [markdown]
# Exercise 6b.1: write these four lines as ``adam_step_reference`` now, before the worked
# cell below (grade it: python -m pytest --exercise 6b.1); then compare.
#
# ### If you are stuck on exercise 6b.1 (the Adam step)
#
# - Hint 1: the state is two arrays the shape of the parameter, m and v, both zero
#   before step 1, and the step counter t starts at 1, not 0 (1 - beta^0 = 0).
# - Hint 2: update m and v first, then bias-correct copies of them (m_hat, v_hat); store
#   the uncorrected m and v for the next step.
# - Hint 3: eps is added to sqrt(v_hat), not to v_hat inside the square root (PyTorch's
#   convention; the two differ when v is tiny).

# %%
def adam_by_hand(w, g, m, v, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


w_hand = w_ref = START.copy()
m_h = v_h = m_r = v_r = np.zeros(2)
param = nn.Parameter(START.copy())                    # the fast optimiser on a Parameter
fast = nn.optim.Adam([param], lr=0.1, betas=(0.5, 0.999))
for t in range(1, 6):
    w_hand, m_h, v_h = adam_by_hand(w_hand, grad(w_hand), m_h, v_h, t, lr=0.1, b1=0.5)
    w_ref, m_r, v_r = adam_step_reference(w_ref, grad(w_ref), m_r, v_r, t, lr=0.1,
                                          betas=(0.5, 0.999))
    param.grad = grad(param.data)
    fast.step()
    print(f"step {t}: by hand {w_hand}, reference {w_ref}, nn.optim.Adam {param.data}")
assert np.allclose(w_hand, w_ref, rtol=1e-12) and np.allclose(w_ref, param.data, rtol=1e-12)


def adam(lr, b1, b2=0.999):
    state = {"m": np.zeros(2), "v": np.zeros(2)}

    def update(w, g, t):
        w, state["m"], state["v"] = adam_step_reference(w, g, state["m"], state["v"], t,
                                                        lr=lr, betas=(b1, b2))
        return w
    return update

# %% [markdown]
# ## 6. Trajectories
#
# Each optimiser at a learning rate that suits it (SGD and momentum are limited by the
# steep direction; Adam's steps are about lr per coordinate whatever the curvature).

# %%
runs = {"SGD, lr 0.07": run(sgd(0.07)),
        "momentum 0.9, lr 0.02": run(momentum(0.02, 0.9)),
        "RMS scaling, lr 0.1": run(rms_scaled(0.1)),
        "Adam beta1 0.9, lr 0.3": run(adam(0.3, 0.9)),
        "Adam beta1 0.5, lr 0.3": run(adam(0.3, 0.5))}
for name, path in runs.items():
    below = np.nonzero(loss(path) < 1e-3)[0]
    print(f"{name:<24} loss after {STEPS} steps {loss(path[-1]):.1e}; "
          f"first below 1e-3 at step {below[0] if below.size else 'never'}")

# %% [markdown]
# Read the printed steps before the picture: on this loss plain SGD, at its best lr, keeps
# up. It reaches 1e-3 about when momentum and Adam with beta1 = 0.9 do and ends lower than
# both; only Adam with beta1 = 0.5 gets there clearly sooner. A curvature ratio of 25 is
# mild. Momentum's advantage grows with the ratio kappa: at its best lr (2 / (1 + kappa),
# the same factor on both directions) SGD shrinks the error by (kappa - 1)/(kappa + 1), about
# 1 - 2/kappa, per step, so it needs steps in proportion to kappa; tuned momentum (Polyak's
# lr = 4 / (1 + sqrt kappa)^2, mu = ((sqrt kappa - 1)/(sqrt kappa + 1))^2) shrinks it by
# (sqrt kappa - 1)/(sqrt kappa + 1), so it needs steps in proportion to sqrt kappa. Made
# steeper and steeper along w_1, each at its best settings:

# %%
for kappa in (25, 100, 400):
    curv, root = np.array([1.0, kappa]), np.sqrt(kappa)
    tuned = {"SGD": sgd(2 / (1 + kappa)),
             "momentum": momentum(4 / (1 + root) ** 2, ((root - 1) / (root + 1)) ** 2)}
    first = {name: np.argmax(loss(run(update, 3000, curv=curv), curv) < 1e-3)
             for name, update in tuned.items()}
    print(f"kappa {kappa:>3}: first below 1e-3 at step {first['SGD']:>4} (SGD), "
          f"{first['momentum']:>3} (momentum); ratio {first['SGD'] / first['momentum']:.1f}")

# %% [markdown]
# Each 4x in kappa multiplies SGD's steps by about 4 and tuned momentum's by about 2, as
# the two factors predict. Tuned momentum beats SGD even at kappa = 25; the momentum run of
# the table above (mu 0.9, lr 0.02) was not tuned for this loss, which is why it only
# matched SGD there. A network's loss has curvature ratios far beyond 400, and no time to
# tune lr and mu per direction: that is where momentum, and Adam's per-coordinate steps,
# pay off.

# %% [markdown]
# ## 7. Why pix2pix uses beta1 = 0.5
#
# A GAN is not one loss going down: D's loss surface moves every time G steps, and G's
# every time D steps. Momentum keeps stepping in the direction of gradients that are
# ~1/(1 - beta1) steps old: 10 steps for beta1 = 0.9, 2 for 0.5. DCGAN (Radford, Metz and
# Chintala 2016, Sec. 4) reports: "leaving the momentum term beta1 at the suggested value
# of 0.9 resulted in training oscillation and instability while reducing it to 0.5 helped
# stabilize training"; pix2pix took that setting over. That is practice, not a theorem.
#
# A toy shows the effect (the "Dirac GAN" of Mescheder, Geiger and Nowozin 2018): the real
# data is the single point 0, G outputs one number theta, D is a logit psi * x. The
# equilibrium is theta = psi = 0. Alternate one Adam step on D and one on G (with
# pix2pix's non-saturating G loss) and watch the distance from equilibrium.

# %%
def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def dirac_gan(beta1, steps, lr=0.01):
    """Alternating Adam steps on D (psi) then G (theta). Returns the path (steps+1, 2)."""
    theta, psi = np.array(1.0), np.array(1.0)
    state = {"G": [0.0, 0.0], "D": [0.0, 0.0]}
    path = [(1.0, 1.0)]
    for t in range(1, steps + 1):
        g_psi = sigmoid(psi * theta) * theta            # D: -log(1 - sigmoid(psi*theta))
        psi, *state["D"] = adam_step_reference(psi, g_psi, *state["D"], t, lr=lr,
                                               betas=(beta1, 0.999))
        g_theta = -(1 - sigmoid(psi * theta)) * psi     # G: -log sigmoid(psi*theta)
        theta, *state["G"] = adam_step_reference(theta, g_theta, *state["G"], t, lr=lr,
                                                 betas=(beta1, 0.999))
        path.append((float(theta), float(psi)))
    return np.array(path)


GAN_STEPS = 1000 if FAST else 3000
games = {b1: dirac_gan(b1, GAN_STEPS) for b1 in (0.0, 0.5, 0.9)}
last = slice(-GAN_STEPS // 4, None)
for b1, path in games.items():
    radius = np.hypot(path[:, 0], path[:, 1])
    print(f"Dirac GAN, beta1 {b1}: distance from equilibrium over the last quarter "
          f"of {GAN_STEPS} steps: mean {radius[last].mean():.3f}")

fig, axes = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
grid = np.linspace(-4.5, 1.5, 200), np.linspace(-1.5, 1.5, 120)
X, Y = np.meshgrid(*grid)
axes[0].contour(X, Y, loss(np.stack([X, Y], -1)), levels=np.geomspace(1e-2, 40, 12),
                colors="0.8", linewidths=0.8)
for name, path in runs.items():
    axes[0].plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
axes[0].plot(0, 0, "k*", ms=12)
axes[0].set_xlabel("w_0 (shallow)")
axes[0].set_ylabel("w_1 (25x steeper)")
axes[0].set_title(f"f(w) = 0.5 (w_0^2 + 25 w_1^2): {STEPS} steps from ({START[0]:g}, {START[1]:g})")
axes[0].legend(fontsize=8)
for b1, path in games.items():
    axes[1].plot(path[:, 0], path[:, 1], lw=0.8, label=f"Adam, beta1 = {b1}")
axes[1].plot(0, 0, "k*", ms=12, label="equilibrium")
axes[1].set_xlabel("theta (G's output)")
axes[1].set_ylabel("psi (D's weight)")
axes[1].set_aspect("equal")
axes[1].set_title(f"Dirac GAN, {GAN_STEPS} alternating steps, lr 0.01")
axes[1].legend(fontsize=8)
save_figure(fig, LESSON, "trajectories")

# %% [markdown]
# Read the right panel: every setting circles the equilibrium (a GAN's gradients rotate
# around it rather than point at it), and the more momentum, the wider it keeps
# circling in this toy. That is one toy, with one learning rate; it agrees with the
# DCGAN practice but does not prove it for real networks.

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - SGD: w <- w - lr g; the steepest direction caps lr (2 / curvature), so shallow
#   directions crawl: steps grow like the curvature ratio kappa. At kappa = 25 tuned SGD
#   still keeps up with untuned momentum and Adam (beta1 0.9).
# - Momentum averages gradients: zigzags cancel, consistent directions build up; tuned,
#   its steps grow like sqrt(kappa) (10.7x fewer than SGD's at kappa = 400).
# - RMS scaling divides each coordinate by its gradient's RMS: steps of about lr whatever
#   the gradient's scale.
# - Running averages started at 0 are biased low by (1 - beta^t); dividing by it fixes
#   the first steps (31.6x too large for v without it).
# - Adam = momentum (beta1) + RMS scaling (beta2) + bias correction. pix2pix: lr 2e-4,
#   beta1 = 0.5 (DCGAN's practice: shorter memory for a loss surface that moves),
#   beta2 = 0.999.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 6b.1  Write the Adam step with bias correction in the exercises (lessons/exercises/).
#       Grade it:   python -m pytest --exercise 6b.1
# 6b.2  (no grader) Rotate the loss by 45 degrees (w -> R w). Which optimisers lose
#       their advantage, and why? (RMS scaling is per coordinate.)
#
# Next: python lessons/07_unet.py
