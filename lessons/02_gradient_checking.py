"""Lesson 2: gradient checking, the test every hand-written backward must pass.

Every op in ``nn`` has a backward written by hand, and a wrong one does not crash: it
trains badly, or not at all, and a GAN that trains badly looks much like one with a bug.
The only reliable test is to compare backward with the definition of a derivative. This
lesson builds that comparison piece by piece (all of it is what ``nn.gradcheck`` does):

  1. centered differences, and why their error is O(eps^2);
  2. why float64: the error-versus-eps "V" on a log-log plot;
  3. relative error, with a floor for gradients that are 0;
  4. nn.gradcheck, and a bug it catches;
  5. why the upstream gradient must be random: a wrong BatchNorm backward that passes a
     check with an all-ones upstream gradient (paper appendix 6.1: every Ck block has a
     BatchNorm, so this bug would sit in every layer of G and D).

Run:  python lessons/02_gradient_checking.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.25): full 1 s, fast 1 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, list_pictures, save_figure
from nn.gradcheck import GradcheckError
from nn.ops.activations import LeakyReLUFunction
from nn.ops.batchnorm import _AXES, BatchNormFunction, _per_channel

LESSON = "02_gradient_checking"

# %% [markdown]
# ## 1. Centered differences
#
# Taylor: f(x + e) = f(x) + e f'(x) + e^2/2 f''(x) + e^3/6 f'''(x) + ...
#
#     forward:   (f(x + e) - f(x)) / e        = f'(x) + e/2 f''(x)   + ...   error O(e)
#     centered:  (f(x + e) - f(x - e)) / 2e   = f'(x) + e^2/6 f'''(x) + ...   error O(e^2)
#
# The even terms cancel in the centered form, so it is far more accurate for the same
# e, at the price of two evaluations. Try it on tanh (G's last layer) at x = 0.5.

# %%
def tanh_of(value, dtype=np.float64):
    """tanh through the library's op, in the given precision, as a Python float."""
    return float(F.tanh(nn.Tensor(np.array(value, dtype=dtype))).data)


x0 = 0.5
exact = 1 - np.tanh(x0) ** 2   # tanh' = 1 - tanh^2
e = 1e-3
forward_diff = (tanh_of(x0 + e) - tanh_of(x0)) / e
centered_diff = (tanh_of(x0 + e) - tanh_of(x0 - e)) / (2 * e)
print(f"tanh'(0.5) = {exact:.12f}")
print(f"forward  difference, e=1e-3: error {abs(forward_diff - exact):.1e}   (~ e/2 |f''|)")
print(f"centered difference, e=1e-3: error {abs(centered_diff - exact):.1e}   (~ e^2/6 |f'''|)")

# %% [markdown]
# ## 2. Why float64: the V
#
# Shrinking e lowers the truncation error (~e^2) but raises the rounding error: f(x + e)
# and f(x - e) agree in most digits, and their difference keeps only what is left, about
# (machine epsilon * |f|) / e. The total error is a V on a log-log plot, with its bottom
# near e = (machine epsilon)^(1/3). We measure it on 50 points x in [0.1, 1] at once and
# plot the median relative error.

# %%
xs = np.linspace(0.1, 1.0, 50)                     # (50,) points where we differentiate
exact_xs = 1 - np.tanh(xs) ** 2                     # tanh' in float64


def centered_error(eps, dtype):
    """Median relative error over xs of the centered difference of tanh, in ``dtype``."""
    plus = nn.Tensor(xs.astype(dtype) + dtype(eps))   # x + eps, rounded to dtype
    minus = nn.Tensor(xs.astype(dtype) - dtype(eps))
    numeric = (F.tanh(plus).data.astype(np.float64) - F.tanh(minus).data) / (2 * eps)
    return np.median(np.abs(numeric - exact_xs) / exact_xs)


epsilons = np.logspace(-13, -0.5, 30 if FAST else 100)
errors = {dt: np.array([centered_error(e, dt) for e in epsilons])
          for dt in (np.float32, np.float64)}
at_1e6 = np.abs(np.log10(epsilons) + 6).argmin()
for dt, err in errors.items():
    best = err.argmin()
    print(f"{dt.__name__}: best median relative error {err[best]:.0e} at eps = {epsilons[best]:.0e}"
          f" (machine eps^(1/3) = {np.finfo(dt).eps ** (1 / 3):.0e}); at eps = 1e-6: "
          f"{err[at_1e6]:.0e}")

fig, ax = plt.subplots(figsize=(7, 4.2))
for dt, color in ((np.float32, "tab:red"), (np.float64, "tab:blue")):
    machine = np.finfo(dt).eps
    ax.loglog(epsilons, np.maximum(errors[dt], 1e-17), ".-", color=color, lw=1, ms=3,
              label=f"{dt.__name__} (machine eps {machine:.0e})")
    ax.loglog(epsilons, machine / epsilons, ":", color=color, lw=1,
              label=f"rounding ~ {machine:.0e} / eps")
ax.loglog(epsilons, epsilons ** 2 * 0.6, "k--", lw=1, label="truncation ~ eps^2")
ax.axvline(1e-6, color="0.6", lw=0.8)
ax.text(1.2e-6, 3e-16, "nn.gradcheck's eps", fontsize=8, color="0.4")
ax.set_ylim(1e-16, 10)
ax.set_xlabel("eps")
ax.set_ylabel("relative error of the centered difference")
ax.set_title("d tanh/dx: rounding error vs truncation error, float32 and float64")
ax.legend(fontsize=8, loc="lower left")
save_figure(fig, LESSON, "error_vs_eps")

# %% [markdown]
# float32 cannot do better than a few 1e-6, and at gradcheck's eps = 1e-6 it is off by
# about 1%: too coarse to tell a right backward from a slightly wrong one. float64
# reaches about 1e-11. Gradient checks therefore run in float64 (``nn.gradcheck`` refuses
# anything else), even though training runs in float32.

# %% [markdown]
# ## 3. Relative error, with a floor
#
# Gradients range over many orders of magnitude, so we compare them relatively:
#
#     rel_error(a, b) = |a - b| / max(|a| + |b|, floor)
#
# Without the floor, a gradient that is exactly 0 (a dead ReLU unit, a zero weight)
# against a finite difference of 3e-14 (pure rounding noise) scores 1.0, a "failure".
# The floor (1e-8) says: below this size, differences are noise.

# %%
print(f"rel_error(0, 3e-14), no floor  : {nn.rel_error(0.0, 3e-14, floor=0.0):.1e}")
print(f"rel_error(0, 3e-14), floor 1e-8: {nn.rel_error(0.0, 3e-14):.1e}")
print(f"rel_error(1.0, 1.001)          : {nn.rel_error(1.0, 1.001):.1e}")

# %% [markdown]
# ## 4. Checking a whole op: <f(x), u>
#
# An op maps an array to an array. We turn it into one number with an upstream gradient
# u: L(x) = sum(f(x) * u). Then ``f(x).backward(u)`` gives dL/dx, and each element of
# dL/dx can be estimated by nudging that element of x by +-eps. Here it is by hand:

# %%
def numeric_gradient(fn, x, upstream, eps=1e-6):
    """Centered differences of L(x) = sum(fn(x) * upstream) for every element of x."""
    grad = np.zeros_like(x.data)
    flat, out = x.data.reshape(-1), grad.reshape(-1)   # views: nudging flat nudges x
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = float((fn(x).data * upstream).sum())
        flat[i] = original - eps
        minus = float((fn(x).data * upstream).sum())
        flat[i] = original
        out[i] = (plus - minus) / (2 * eps)
    return grad


def analytic_gradient(fn, x, upstream):
    """What backward says dL/dx is."""
    x.grad = None
    fn(x).backward(upstream)
    return x.grad


rng = np.random.default_rng(0)
x = nn.Tensor(rng.standard_normal((2, 3)), requires_grad=True)     # (2, 3), float64
u = rng.standard_normal((2, 3))
leaky = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
err = nn.rel_error(analytic_gradient(leaky, x, u), numeric_gradient(leaky, x, u)).max()
print(f"leaky ReLU, by hand: max relative error {err:.1e}")

# %% [markdown]
# ``nn.gradcheck(fn, inputs)`` does exactly this for every input that requires a gradient,
# with a random u, in float64, and raises when the relative error exceeds ``tol`` (1e-5).
# Remember to **keep inputs away from kinks**: at x = 0 leaky ReLU has no derivative, and
# a finite difference straddling 0 averages the two slopes.

# %%
x = nn.Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)   # (1, 2, 5, 5)
w = nn.Tensor(rng.standard_normal((3, 2, 4, 4)), requires_grad=True)   # (3, 2, 4, 4)
conv = lambda x, w: F.conv2d(x, w, stride=2, padding=1)  # noqa: E731  (1, 2, 5, 5) -> (1, 3, 2, 2)
report = nn.gradcheck(conv, [x, w])
print(f"conv 4x4 s2: {report['checked']} elements checked, "
      f"max relative error {report['max_rel_error']:.1e}")

# %% [markdown]
# Every test must be able to fail, so break a backward on purpose once and watch:
# here leaky ReLU's backward forgets to scale the negative side by the slope.

# %%
class BrokenLeakyReLU(LeakyReLUFunction):
    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved
        return np.where(positive, grad, grad)   # bug: slope 1 on the negative side


x = nn.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
try:
    nn.gradcheck(lambda t: BrokenLeakyReLU.apply(t, negative_slope=0.2), [x])
except GradcheckError as error:
    print("caught:", error)

# %% [markdown]
# ## 5. The all-ones trap: BatchNorm
#
# In training mode BatchNorm computes y = gamma * x_hat + beta with x_hat = (x - mean) /
# sigma, and the mean and sigma of the batch depend on x. Its input gradient is
#
#     dL/dx = gamma / sigma * (g - mean(g) - x_hat * mean(g * x_hat))      (per channel)
#
# A classic bug forgets that sigma depends on x and drops the last term. Now check with
# g = all ones, the "obvious" choice: then sum(y) = count * beta + gamma * sum(x_hat),
# and sum(x_hat) = 0 always, so the TRUE gradient is exactly 0. The buggy formula gives
# gamma / sigma * (1 - 1) = 0 as well. Both agree with finite differences, whose
# rounding noise is ~1e-8 here.

# %%
class ForgetsVarianceBatchNorm(BatchNormFunction):
    """BatchNorm whose backward treats sigma as a constant (a bug, on purpose)."""

    @staticmethod
    def backward(ctx, grad):
        x_hat, gamma, inv_std = ctx.saved
        count = grad.size // grad.shape[1]
        grad_beta = grad.sum(axis=_AXES)
        grad_gamma = (grad * x_hat).sum(axis=_AXES)
        grad_x = (grad - _per_channel(grad_beta / count)) * _per_channel(gamma * inv_std)
        return grad_x, grad_gamma, grad_beta, None, None   # missing: - x_hat * mean(g x_hat)


shape = (2, 3, 3, 3) if FAST else (4, 3, 4, 4)                 # (N, C, H, W)
gamma = nn.Tensor(rng.uniform(0.5, 1.5, 3))                     # (3,)
beta = nn.Tensor(rng.standard_normal(3))                        # (3,)
x = nn.Tensor(rng.standard_normal(shape) * 2 + 1, requires_grad=True)


def bn_with(Function):
    """x -> BatchNorm(x) in training mode, with the given Function (right or buggy)."""
    return lambda t: Function.apply(t, gamma, beta, None, None, training=True)


ones, random = np.ones(shape), rng.standard_normal(shape)
results = {}
for name, Function in (("correct", BatchNormFunction), ("buggy", ForgetsVarianceBatchNorm)):
    for upstream_name, upstream in (("all-ones", ones), ("random", random)):
        a = analytic_gradient(bn_with(Function), x, upstream)
        n = numeric_gradient(bn_with(Function), x, upstream)
        results[name, upstream_name] = (a, n)
        print(f"{name:7s} backward, {upstream_name:8s} upstream: "
              f"max|backward| {np.abs(a).max():.1e}"
              f"  max|numeric| {np.abs(n).max():.1e}  max|difference| {np.abs(a - n).max():.1e}"
              f"  -> {'agree' if np.allclose(a, n, atol=1e-6) else 'DISAGREE'}")

# %% [markdown]
# With all ones both rows read "agree": the check compared 0 with 0 and proved nothing
# (the relative error of two near-zeros is noise either way). With a random upstream the
# bug is plain, and ``nn.gradcheck``, which always draws a random upstream, refuses it.
#
# Which upstream gradients hide the bug? The buggy backward differs from the true one by
# exactly the dropped term, gamma / sigma * x_hat * mean(g * x_hat) per channel. So a g
# hides the bug if and only if mean(g * x_hat) = 0 in every channel: all ones does (its
# mean(x_hat) is 0), and so does any g that does not correlate with x_hat. An affine
# g = 0.7 + 1.3 x_hat does NOT: mean(g * x_hat) = 1.3 mean(x_hat^2) = 1.3. Computed:

# %%
x_hat = (x.data - x.data.mean(axis=_AXES, keepdims=True)) / np.sqrt(
    x.data.var(axis=_AXES, keepdims=True) + 1e-5)                # (N, C, H, W)
decorrelated = random - x_hat * (random * x_hat).mean(axis=_AXES, keepdims=True) / (
    x_hat ** 2).mean(axis=_AXES, keepdims=True)                  # mean(g * x_hat) = 0
for name, upstream in (("all ones", ones), ("0.7 + 1.3 x_hat", 0.7 + 1.3 * x_hat),
                       ("random", random), ("random, x_hat part removed", decorrelated)):
    buggy = analytic_gradient(bn_with(ForgetsVarianceBatchNorm), x, upstream)
    true = analytic_gradient(bn_with(BatchNormFunction), x, upstream)
    corr = np.abs((upstream * x_hat).mean(axis=_AXES)).max()
    print(f"g = {name:<27s} max|mean(g x_hat)| {corr:.2f}   max|buggy - true| "
          f"{np.abs(buggy - true).max():.2e}  -> {'exposed' if np.abs(buggy - true).max() > 1e-6 else 'hidden'}")

# %%
try:
    nn.gradcheck(bn_with(ForgetsVarianceBatchNorm), [x], max_elements=20)
except GradcheckError as error:
    print("nn.gradcheck on the buggy BatchNorm:", error)
report = nn.gradcheck(bn_with(BatchNormFunction), [x], max_elements=20)
print(f"nn.gradcheck on the library's BatchNorm: max relative error {report['max_rel_error']:.1e}")

fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), constrained_layout=True)
for ax, upstream_name in zip(axes, ("all-ones", "random")):
    for name, color, marker in (("buggy", "tab:red", "x"), ("correct", "tab:blue", "o")):
        a, n = results[name, upstream_name]
        ax.scatter(n.ravel(), a.ravel(), s=14, color=color, marker=marker, label=f"{name} backward")
    lim = max(np.abs(results["buggy", "random"][0]).max(), 1e-3) * 1.1
    ax.plot([-lim, lim], [-lim, lim], color="0.7", lw=0.8, zorder=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("finite differences")
    ax.set_ylabel("backward")
    ax.set_title(f"{upstream_name} upstream gradient")
    ax.legend(fontsize=8)
axes[0].text(0, -0.6 * lim, "every point sits at (0, 0):\nthe check cannot tell them apart",
             ha="center", fontsize=9)
fig.suptitle("BatchNorm input gradient: a backward that forgets d sigma / dx")
save_figure(fig, LESSON, "batchnorm_all_ones_trap")

# %% [markdown]
# ## 6. Big blocks: one random direction
#
# Checking every element costs two forward passes per element: fine for a (2, 3, 3, 3)
# input, hopeless for a U-Net. ``nn.gradcheck_direction`` checks <dL/dx, d> for one random
# direction d over all inputs at once: two forward passes in total. A wrong gradient
# almost surely shows in a random direction.

# %%
block = nn.Sequential(
    nn.Conv2d(3, 4, 4, stride=2, padding=1, dtype=np.float64),   # (2, 3, 8, 8) -> (2, 4, 4, 4)
    nn.BatchNorm2d(4, dtype=np.float64),                        # (2, 4, 4, 4)
    nn.LeakyReLU(0.2),                                          # (2, 4, 4, 4)
)
x = nn.Tensor(rng.standard_normal((2, 3, 8, 8)), requires_grad=True)
result = nn.gradcheck_direction(lambda x, *params: block(x), [x, *block.parameters()])
print(f"Conv-BatchNorm-LeakyReLU block, one direction: relative error {result['rel_error']:.1e}")

list_pictures()

# %% [markdown]
# ## Summary
#
# - Compare backward with centered differences (error O(eps^2)), in **float64**: in
#   float32 the rounding error swamps the comparison (the V's bottom is ~3e-6).
# - Measure relative error with a floor (1e-8) and assert a threshold (1e-5) in code.
# - Use a **random** upstream gradient: with all ones, BatchNorm's true input gradient is
#   exactly 0 and a backward that forgets d sigma/dx passes.
# - Keep inputs away from kinks; break the backward once to see the check fail.
# - Every element on tiny shapes; one random direction for whole networks.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 2.1  ``numerical_gradient(f, x, positions, eps)``: the centred differences at the heart
#      of ``gradcheck`` (sections 1-2), which ``nn.gradcheck.gradcheck`` then compares with
#      every backward (sections 3-5). Grade it:   python -m pytest --exercise 2.1
# 2.2  (no grader) Plot the V for the *forward* difference as well. Where is its bottom,
#      and why at about sqrt(machine eps)?
# 2.3  (no grader) Write another wrong BatchNorm backward that an all-ones upstream
#      *does* catch (hint: drop the mean(g) term instead). Why does it?
#
# ### If you are stuck on exercise 2.1 (the numerical gradient)
#
# - Hint 1: one position at a time: change x[k] in place, call f(), change it again,
#   call f() again. f reads x itself, so it needs no argument.
# - Hint 2: the centred difference is (F(x + eps e_k) - F(x - eps e_k)) / (2 eps), in
#   float64, with eps around 1e-6 (section 2's V).
# - Hint 3: restore x[k] by assigning the value you saved, not by adding eps back:
#   (v + eps) - eps is not always v in floating point, and the grader checks bit for bit.
#   (The rest of ``gradcheck`` is section 3's relative error |a - n| / max(|a| + |n|,
#   1e-8) and section 4's random upstream gradient.)
#
# Next: python lessons/03_convolution.py
