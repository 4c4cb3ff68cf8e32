"""Lesson 1: tensors and reverse-mode automatic differentiation (the tape).

pix2pix is trained by gradient descent (paper Sec. 3.3: "we alternate between one gradient
descent step on D, then one step on G"). Every one of those steps needs the gradient of a
loss with respect to millions of weights, and ``nn`` computes it the way PyTorch does:
each op records itself on a graph while the forward pass runs, and ``loss.backward()``
walks that graph from the loss back to the weights.

What you will see:
  1. a Tensor, and the graph that ops record behind it;
  2. the tape: a topological order of that graph, walked backwards;
  3. why a tensor used twice must receive the SUM of its gradients (the U-Net skip
     connection, and D applied to real and to fake pairs, both rely on it);
  4. Mul's backward with broadcasting, derived step by step, each step checked numerically;
  5. how to write your own op as a ``Function`` with ``forward`` and ``backward``.

Run:  python lessons/01_tensors_and_autograd.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.25): full 1 s, fast 1 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, list_pictures, numeric_grad, save_figure
from nn.ops.arithmetic import unbroadcast
from nn.tensor import _topological_order  # noqa: E402  (private: we only look at it)

LESSON = "01_tensors_and_autograd"
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. A tensor is an array plus bookkeeping
#
# ``nn.Tensor`` wraps a NumPy array (``.data``). With ``requires_grad=True`` it is a *leaf*
# whose gradient we want. Every op applied to it returns a new tensor that remembers the op
# (``_op``) and its inputs (``_parents``): that is the graph.

# %%
x = nn.Tensor(np.array(2.0), requires_grad=True)    # a leaf, float64 (arrays keep their dtype)
y = nn.Tensor(np.array(-3.0), requires_grad=True)   # a second leaf
u = x * y                                           # Mul records (x, y)
print("u =", u, " value", u.item(), " made by", u._op.__name__, " is_leaf:", u.is_leaf)

# %% [markdown]
# ## 2. A tiny graph where one tensor is used twice
#
#     u = x * y          x = 2, y = -3
#     v = u + x          <- x is used a second time
#     L = v * v
#
# So L = (xy + x)^2 = 16, and by the chain rule
#
#     dL/dv = 2v                       = -8
#     dL/du = dL/dv * 1                = -8
#     dL/dy = dL/du * x                = -16
#     dL/dx = dL/du * y  +  dL/dv * 1  = 24 + (-8) = 16     <- one term per use of x

# %%
def build_graph(x_value=2.0, y_value=-3.0):
    """The graph above, on fresh float64 leaves. Returns every tensor by name."""
    x = nn.Tensor(np.array(x_value), requires_grad=True)
    y = nn.Tensor(np.array(y_value), requires_grad=True)
    u = x * y
    v = u + x
    L = v * v
    return dict(x=x, y=y, u=u, v=v, L=L)


g = build_graph()  # try it
print({name: t.item() for name, t in g.items()})

# %% [markdown]
# ## 3. The tape is a topological order
#
# ``backward`` needs every node *after* all the nodes that use it, counted from the loss:
# a node may push its gradient to its inputs only once every use of it has reported. A
# depth-first search from the loss gives an order where each node comes after its inputs;
# backward walks it in reverse.

# %%
names = {id(t): name for name, t in g.items()}
order = _topological_order(g["L"])
print("topological order (inputs first):", [names[id(t)] for t in order])
print("backward visits:                  ", [names[id(t)] for t in reversed(order)])

# %% [markdown]
# ## 4. Walk backward by hand, then let ``.backward()`` do it
#
# We keep a "pending" gradient for every node. Visiting a node, we ask its op for the
# gradients of its inputs (Mul: ``(grad * b, grad * a)``, Add: ``(grad, grad)``) and
# **add** them to the inputs' pending gradients. That ``+=`` is the whole trick.

# %%
def backward_by_hand(g, accumulate=True):
    """The tape for our 3-op graph, written out. accumulate=False overwrites instead of
    adding (the bug early tinygrad had)."""
    x, y, u, v = (g[k].item() for k in "xyuv")
    grad = {"L": 1.0}
    steps = [("L", [("v", lambda d: d * v), ("v", lambda d: d * v)]),  # L = v * v: Mul(v, v)
             ("v", [("u", lambda d: d), ("x", lambda d: d)]),             # v = u + x
             ("u", [("x", lambda d: d * y), ("y", lambda d: d * x)])]     # u = x * y
    for node, inputs in steps:
        for name, local in inputs:
            contribution = local(grad[node])
            if accumulate and name in grad:
                grad[name] += contribution
            else:
                grad[name] = contribution
            sign = "+=" if accumulate else " ="
            print(f"  at {node}: dL/d{name} {sign} {contribution:6.1f}  -> {grad[name]:6.1f}")
    return grad


print("by hand, adding:")
hand = backward_by_hand(g)
g["L"].backward()
print("by .backward():  dL/dx =", g["x"].grad, " dL/dy =", g["y"].grad)
assert np.isclose(g["x"].grad, hand["x"]) and np.isclose(g["y"].grad, hand["y"])

# `v * v` uses v twice as well: Mul returns one gradient per input, v each, 2v in total.
print("\nby hand, overwriting instead of adding:")
wrong = backward_by_hand(build_graph(), accumulate=False)

# The final judge is the definition of a derivative (lesson 2 makes this rigorous):
h = 1e-6
L_of_x = lambda xv: build_graph(x_value=xv)["L"].item()  # noqa: E731
numeric = (L_of_x(2 + h) - L_of_x(2 - h)) / (2 * h)
print(f"\ndL/dx: adding {hand['x']:.1f}, overwriting {wrong['x']:.1f}, "
      f"finite differences {numeric:.4f}")

# %% [markdown]
# ## 5. Picture: the graph, forward values and backward gradients

# %%
def draw_graph(g):
    """Boxes for tensors, arrows for ops; black = value, red = gradient dL/d(node)."""
    pos = {"x": (0, 2), "y": (0, 0), "u": (2, 1), "v": (4, 2), "L": (6, 2)}
    edges = [("x", "u", "*"), ("y", "u", "*"), ("u", "v", "+"), ("x", "v", "+"),
             ("v", "L", "v*v")]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for a, b, op in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        ax.annotate("", xy=(xb - 0.5, yb), xytext=(xa + 0.5, ya),
                    arrowprops=dict(arrowstyle="->", lw=1.5,
                                    color="tab:orange" if a == "x" else "0.3"))
        ax.text((xa + xb) / 2, (ya + yb) / 2 + 0.15, op, ha="center", fontsize=10, color="0.3")
    for name, (px, py) in pos.items():
        t = g[name]
        grad = t.grad if t.is_leaf else hand[name]  # backward keeps only leaves' gradients
        ax.add_patch(plt.Rectangle((px - 0.5, py - 0.4), 1.0, 0.8, fc="white", ec="k"))
        ax.text(px, py + 0.12, f"{name} = {t.item():g}", ha="center", fontsize=11)
        label = f"dL/d{name} = {float(grad):g}"
        ax.text(px, py - 0.22, label, ha="center", fontsize=9, color="tab:red")
    ax.text(0, 2.75, "x is used twice (orange):\nits gradient is 24 + (-8) = 16",
            ha="left", fontsize=9, color="tab:orange")
    ax.set_xlim(-0.7, 6.7)
    ax.set_ylim(-0.7, 3.3)
    ax.axis("off")
    ax.set_title("L = (x*y + x)^2: forward values (black), gradients from backward (red)")
    return fig


save_figure(draw_graph(g), LESSON, "computation_graph")  # try it

# %% [markdown]
# ## 6. Leaf gradients also accumulate across ``backward()`` calls
#
# The same rule holds between calls: ``backward`` adds into ``leaf.grad``. pix2pix's D sees
# a real pair and a fake pair; its weights get the sum of both gradients whether we call
# backward once on (loss_real + loss_fake) or twice. That is why every step starts with
# ``optimizer.zero_grad()``.

# %%
w = nn.Parameter(np.array([1.0, 2.0]))
real, fake = nn.Tensor(np.array([3.0, 1.0])), nn.Tensor(np.array([-1.0, 4.0]))
(w * real).sum().backward()
(w * fake).sum().backward()
print("w.grad after two backward calls:", w.grad, "= real + fake =", real.data + fake.data)
w.grad = None  # what zero_grad() does

# %% [markdown]
# ## 7. Deriving Mul's backward, with broadcasting
#
# Exercise 1.1 asks for ``MulFunction``. Derive its backward one step at a time; after each step
# a cell checks it numerically with centred differences, dL/da_k ~ (L(a + h e_k) -
# L(a - h e_k)) / 2h (lesson 2 makes this check rigorous), which
# ``lessons.common.numeric_grad(f, a)`` computes for every element k of a tiny array.
# Take any loss L of y = a * b
# and write g = dL/dy (the upstream gradient, an array shaped like y). For the checks we
# use L = sum(w * y) with fixed random w, whose dL/dy is exactly w.
#
# **Step 1: same shapes.** y_k = a_k b_k, and a_k appears in y_k only, so
#
#     dL/da_k = sum_j dL/dy_j * dy_j/da_k = g_k * b_k,       dL/da = g * b  (elementwise)

# %%
rng = np.random.default_rng(0)
a = rng.standard_normal((2, 3))                     # (2, 3)
b = rng.standard_normal((2, 3))                     # (2, 3)
w = rng.standard_normal((2, 3))                     # L = sum(w * y), so g = dL/dy = w
step1 = w * b                                       # g * b
print("step 1, same shapes: g * b =\n", step1)
print("max |g * b - finite differences| =",
      f"{np.abs(step1 - numeric_grad(lambda a_: (w * (a_ * b)).sum(), a)).max():.1e}")

# %% [markdown]
# **Step 2: a is stretched.** Now a has shape (1, 3) and b (2, 3): NumPy broadcasting
# copies a's row to both rows, y_ij = a_0j b_ij. So a_0j appears in y_0j *and* y_1j, and
# the chain rule sums over every y it touches:
#
#     dL/da_0j = sum_i g_ij b_ij        i.e.  (g * b).sum(axis=0, keepdims=True)
#
# First the product g * b, shape (2, 3) like y; then the sum over the stretched axis,
# back to a's shape (1, 3). Check both:

# %%
a_row = rng.standard_normal((1, 3))                 # (1, 3): broadcast over 2 rows
product = w * b                                     # (2, 3): one term per use of a_0j
summed = product.sum(axis=0, keepdims=True)         # (1, 3): a's shape again
numeric = numeric_grad(lambda a_: (w * (a_ * b)).sum(), a_row)
print("g * b (one row per use of a):\n", product, "\nsummed over axis 0:", summed)
print(f"max |sum - finite differences| = {np.abs(summed - numeric).max():.1e}")

# %% [markdown]
# **Step 3: the general rule.** Broadcasting can also *add* leading axes ((3,) against
# (2, 3)) and stretch several size-1 axes at once ((1, C, 1, 1) against (N, C, H, W): a
# per-channel scale). Either way each input element is used once per position along the
# added or stretched axes, so its gradient sums over exactly those axes.
# ``nn.ops.arithmetic.unbroadcast(grad, shape)`` does that: sum away extra leading axes,
# then sum (keepdims) every axis where shape has 1. Check it on the per-channel scale:

# %%
scale = rng.standard_normal((1, 3, 1, 1))                          # (1, 3, 1, 1)
feat = rng.standard_normal((2, 3, 2, 2))                           # (2, 3, 2, 2)
w4 = rng.standard_normal((2, 3, 2, 2))                             # g = dL/dy: (2, 3, 2, 2)
by_rule = unbroadcast(w4 * feat, scale.shape)                      # (1, 3, 1, 1)
by_hand = (w4 * feat).sum(axis=(0, 2, 3), keepdims=True)            # the axes it was used on
numeric = numeric_grad(lambda s_: (w4 * (s_ * feat)).sum(), scale)
print("unbroadcast:", by_rule.ravel(), " sum over N, H, W:", by_hand.ravel())
print(f"max |unbroadcast - finite differences| = {np.abs(by_rule - numeric).max():.1e}")
print(f"and b's gradient keeps its shape {feat.shape}: unbroadcast(g * a) is just g * a")

# %% [markdown]
# **Step 4: a and b are the same tensor.** y = x * x: Mul receives x twice and returns
# one gradient per input, g * x and g * x. The tape adds them (section 4): 2 g x, the
# derivative of x^2. Mul itself needs no special case.

# %%
x2 = nn.Tensor(rng.standard_normal(3), requires_grad=True)        # (3,)
(x2 * x2).backward(np.ones(3))                                     # g = 1
print("x * x: backward gives", x2.grad, " 2x =", 2 * x2.data)

fig, axes = plt.subplots(1, 4, figsize=(12, 2.6), gridspec_kw=dict(width_ratios=[3, 3, 3, 3]))
for ax, (m, title) in zip(axes, ((w, "g = dL/dy  (2, 3)"), (b, "b  (2, 3)"),
                                 (product, "g * b  (2, 3)"),
                                 (summed, "dL/da = sum over rows  (1, 3)"))):
    ax.imshow(m, cmap="RdBu_r", vmin=-2.5, vmax=2.5)
    for (r, c), v in np.ndenumerate(m):
        ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=9)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Mul's backward for a (1, 3) broadcast over 2 rows: multiply, then sum the "
             "stretched axis", y=1.05)
save_figure(fig, LESSON, "mul_backward")

# %% [markdown]
# ### If you are stuck on exercise 1.1 (Mul)
#
# - Hint 1: forward must save both inputs (``ctx.save_for_backward(a, b)``): each one's
#   gradient needs the *other* one.
# - Hint 2: before summing, dL/da = grad * b has y's (broadcast) shape; step 3's
#   ``unbroadcast(grad * b, a.shape)`` brings it back to a's shape. Same for b.
# - Hint 3: inputs may be Python floats (x * 2.0): their "shape" is (), and
#   ``getattr(a, "shape", ())`` handles both. Return None where
#   ``ctx.needs_input_grad[i]`` is False.
#
# ### If you are stuck on exercise 1.2 (the tape)
#
# - Hint 1: sections 3 and 4 are the whole algorithm: a topological order (a depth-first
#   search from the loss that appends a node after all of its inputs), walked in reverse.
# - Hint 2: keep one pending gradient per node (a dict keyed by ``id(node)``), start it
#   with dL/dL = 1, and **add** each op's input gradients into it (``+=``; never ``=``:
#   x used twice gets 12 instead of 16 above).
# - Hint 3: only leaves (``requires_grad=True`` and no op) keep ``.grad``, and they add
#   into it across backward calls (section 6).

# %% [markdown]
# ## 8. Write your own op: a ``Function``
#
# An op is a class with two staticmethods. ``forward(ctx, *arrays)`` computes the output
# from plain arrays and saves what backward will need (``ctx.save_for_backward``).
# ``backward(ctx, grad)`` receives dL/d(output) and returns dL/d(input) for each input.
# ``Sin`` is not in the library (pix2pix has no use for it), so it is a fair example:
#
#     y = sin(x),   dL/dx = dL/dy * cos(x)

# %%
class Sin(nn.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)     # cos(x) could be cached instead: either is enough
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return grad * np.cos(x)


# Try it on f(x) = x * sin(x): x is used twice again, so f'(x) = sin(x) + x cos(x).
points = 50 if FAST else 400
xs = nn.Tensor(np.linspace(-6, 6, points), requires_grad=True)   # (points,)
f = xs * Sin.apply(xs)                                           # (points,)
f.sum().backward()   # elementwise f, so d(sum f)/dx_i = f'(x_i): all derivatives at once
exact = np.sin(xs.data) + xs.data * np.cos(xs.data)
print(f"max |autograd - exact| over {points} points: {np.abs(xs.grad - exact).max():.2e}")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xs.data, f.data, label="f(x) = x sin(x)")
ax.plot(xs.data, xs.grad, lw=3, alpha=0.5, label="f'(x) from .backward()")
ax.plot(xs.data, exact, "k--", lw=1, label="sin(x) + x cos(x) (by hand)")
ax.axhline(0, color="0.8", lw=0.8)
ax.set_xlabel("x")
ax.legend(loc="upper center")
ax.set_title("x is used twice: autograd adds the two terms of the product rule")
save_figure(fig, LESSON, "gradient_of_x_sin_x")

# %% [markdown]
# ## 9. Where this matters in pix2pix: the U-Net skip
#
# An encoder feature h goes down the U-Net *and* across the skip, where it is concatenated
# with the decoder's feature of the same size. Its gradient is the sum of both paths.

# %%
x_img = nn.Tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), requires_grad=True)
h = x_img * 2.0                                   # (1, 2, 4, 4): "encoder feature"
deep = h * 3.0                                    # (1, 2, 4, 4): stands for the deeper path
out = F.cat([deep, h], dim=1)                     # (1, 4, 4, 4): decoder input with the skip
out.sum().backward()
print("every element of dL/dx:", np.unique(x_img.grad), "= 2 * (3 + 1)")

# %% [markdown]
# ``nn.no_grad()`` switches recording off (evaluation, optimiser updates), and backward
# frees what each op saved as soon as it is used (``retain_graph=True`` keeps it).

# %%
with nn.no_grad():
    z = x_img * 2.0
print("recorded under no_grad?", z.requires_grad)

list_pictures()

# %% [markdown]
# ## Summary
#
# - A Tensor is an array plus (op, inputs); ops record the graph during the forward pass.
# - ``backward`` sorts the graph topologically and walks it from the loss, asking each op
#   for its input gradients.
# - Gradients that reach a tensor along several paths are **added**: x used twice, a
#   broadcast scale, the U-Net skip, D's real and fake passes. Overwriting gives wrong
#   gradients silently (12 instead of 16 above).
# - An op is a ``Function`` with ``forward(ctx, ...)`` and ``backward(ctx, grad)``.
#
# ## Exercises
#
# Where to write them: in a student release, in the library itself (the holes raise
# NotImplementedError); in this repository, ``python -m lessons.release --stubs`` writes one
# stub file per lesson into lessons/exercises/ (contract included), never overwriting yours.
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 1.1  ``MulFunction`` (y = a * b, with broadcasting): the backward derived in section 7.
#      Grade it:   python -m pytest --exercise 1.1
# 1.2  The tape, ``backpropagate``: walk the topological order of section 3 (given:
#      ``_topological_order``) backwards, accumulating gradients as in section 4.
#      Grade it:   python -m pytest --exercise 1.2
# 1.3  (no grader) Change ``backward_by_hand`` so that it also handles ``L = v * u``.
#
# Next: python lessons/02_gradient_checking.py
