"""Lesson 5: batch normalisation, in training, in eval, and at batch size 1.

Almost every block of pix2pix is Conv-BatchNorm-ReLU ("Ck" in paper appendix 6.1), and the
paper makes an unusual choice at test time (Sec. 3.3): "we apply batch normalization using
the statistics of the test batch, rather than aggregated statistics of the training
batch. This approach to batch normalization, when the batch size is set to 1, has been
termed 'instance normalization'". This lesson takes that sentence apart.

What you will see:
  1. training mode: each channel normalised with its batch mean and variance;
  1b. the training-mode backward, through the mean and the variance, step by step down to
      the three-term formula, each step checked numerically;
  2. running averages (momentum 0.1, unbiased variance) for eval mode;
  3. train and eval mode side by side;
  4. batch size 1 = instance normalisation, verified numerically;
  5. the paper's test-time choice, and why the U-Net's 1x1 bottleneck has no BatchNorm.

Run:  python lessons/05_batch_normalisation.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 0.31): full 1 s, fast 1 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
from lessons.common import FAST, REPO, list_pictures, numeric_grad, save_figure
from pix2pix.data.images import load_ab_image
from pix2pix.data.pairs import split_ab, transform_half
from pix2pix.data.synthetic import make_ab_image
from pix2pix.models.pix2pix_model import paper_inference

LESSON = "05_batch_normalisation"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Training mode: the batch's own statistics
#
# For each channel c of x (N, C, H, W), over all N*H*W values of that channel:
#
#     mean_c = average of x[:, c],   var_c = average of (x[:, c] - mean_c)^2   (biased)
#     y[:, c] = gamma_c * (x[:, c] - mean_c) / sqrt(var_c + eps) + beta_c
#
# gamma and beta are learned (pix2pix initialises gamma ~ N(1, 0.02), beta = 0), so the
# layer can undo the normalisation if that helps. We look at the activations of a 4x4 s2
# conv on real facade photos, before and after BatchNorm. The conv has PyTorch's default
# init, and we give its 4 channels biases -0.3, -0.1, 0.1, 0.3 so that you can tell them
# apart. (pix2pix's convs that feed a BatchNorm have no bias at all: BN subtracts the
# mean, and any bias with it.)

# %%
def load_facades(n, size):
    """n facade photos (n, 3, size, size) float32 in [-1, 1] from facades/train (synthetic
    facades from pix2pix.data.synthetic when the data set is absent), and their source."""
    repo = REPO
    for folder in (repo.parent / "shared/facades/train", repo / "datasets/facades/train"):
        paths = [folder / f"{i}.jpg" for i in range(1, n + 1)]
        if all(p.exists() for p in paths):
            photos = [split_ab(load_ab_image(p))[0] for p in paths]
            return np.stack([transform_half(p, size) for p in photos]), str(folder)
    photos = [split_ab(make_ab_image(i, size))[0] for i in range(n)]
    return np.stack([transform_half(p, size) for p in photos]), "synthetic facades"


size = 64 if FAST else 128
images, source = load_facades(4, size)  # try it
print("images", images.shape, "from", source)

conv = nn.Conv2d(3, 4, 4, stride=2, padding=1,            # (4, 3, S, S) -> (4, 4, S/2, S/2)
                 generator=np.random.default_rng(3))
conv.bias.data[...] = [-0.3, -0.1, 0.1, 0.3]
bn = nn.BatchNorm2d(4)                                       # (4, 4, S/2, S/2), same shape
with nn.no_grad():
    before = conv(nn.Tensor(images))                         # (4, 4, S/2, S/2)
    after = bn(before)                                       # (4, 4, S/2, S/2)
for c in range(4):
    b, a = before.data[:, c], after.data[:, c]
    print(f"channel {c}: before mean {b.mean():+.4f} std {b.std():.4f}  ->  "
          f"after mean {a.mean():+.1e} std {a.std():.4f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
for c in range(4):
    axes[0].hist(before.data[:, c].ravel(), bins=80, histtype="step", lw=1.5, label=f"channel {c}")
    axes[1].hist(after.data[:, c].ravel(), bins=80, histtype="step", lw=1.5, label=f"channel {c}")
axes[0].set_title("conv output (before BatchNorm): each channel its own centre and scale",
                  fontsize=9)
axes[1].set_title("after BatchNorm (training mode): mean 0, std 1 per channel", fontsize=9)
for ax in axes:
    ax.set_xlabel("activation")
    ax.legend(fontsize=8)
save_figure(fig, LESSON, "histograms_before_after")

# %% [markdown]
# ## 1b. Deriving the training-mode backward, step by step
#
# Exercise 5.1 asks for this backward. In training mode the mean and the variance are
# computed *from x*, so every x_i reaches the loss three ways: directly, through the mean
# mu and through the variance. Follow the chain rule through each, for one channel with n
# values (the channels are independent), and check every step numerically in the cell
# below it. Write g = dL/dy and r = 1 / sqrt(var + eps):
#
#     mu = mean(x),   var = mean((x - mu)^2),   x_hat = (x - mu) r,   y = gamma x_hat + beta
#
# **Step 1, the affine part.** dL/dbeta = sum(g), dL/dgamma = sum(g x_hat), and
# dL/dx_hat = gamma g (call it d).

# %%
n = 6
xc = rng.normal(2.0, 1.5, n)                    # one channel: n values
gc = rng.standard_normal(n)                     # dL/dy, L = sum(g * y)
gamma_c, beta_c, eps = 1.3, -0.4, 1e-5


def forward_parts(x, mu=None, var=None, gamma=gamma_c, beta=beta_c):
    """y for one channel; mu and var may be given (held fixed) to take partial derivatives."""
    mu = x.mean() if mu is None else mu
    var = ((x - mu) ** 2).mean() if var is None else var
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


mu, var = xc.mean(), xc.var()
r = 1 / np.sqrt(var + eps)
x_hat = (xc - mu) * r
d = gamma_c * gc                                             # dL/dx_hat
L = lambda **kw: (gc * forward_parts(xc, **kw)).sum()        # noqa: E731
print(f"dL/dbeta  = sum(g)         {gc.sum():+.6f}  numeric {numeric_grad(lambda b: L(beta=b), beta_c):+.6f}")
print(f"dL/dgamma = sum(g x_hat)   {(gc * x_hat).sum():+.6f}  "
      f"numeric {numeric_grad(lambda c: L(gamma=c), gamma_c):+.6f}")

# %% [markdown]
# **Step 2, through the variance** (mu held fixed): x_hat_i = (x_i - mu)(var + eps)^(-1/2)
# depends on var through the power -1/2, so
#
#     dL/dvar = sum_i d_i (x_i - mu) * (-1/2) (var + eps)^(-3/2) = -(r^3 / 2) sum_i d_i (x_i - mu)

# %%
dvar = -0.5 * r ** 3 * (d * (xc - mu)).sum()
print(f"dL/dvar = {dvar:+.6f}   numeric (mu fixed) {numeric_grad(lambda v: L(mu=mu, var=v), var):+.6f}")

# %% [markdown]
# **Step 3, through the mean.** mu appears in every x_hat_i (with derivative -r) and in
# var (d var / d mu = -2 mean(x - mu), which is 0 because the deviations from the mean
# sum to 0). So only the first part survives:
#
#     dL/dmu = -r sum_i d_i + dL/dvar * (-2 mean(x - mu)) = -r sum_i d_i

# %%
dmu = -r * d.sum() + dvar * (-2 * (xc - mu).mean())
num_mu = numeric_grad(lambda m: (gc * forward_parts(xc, mu=m, var=((xc - m) ** 2).mean())).sum(), mu)
print(f"dL/dmu = {dmu:+.6f}  (second term {dvar * (-2 * (xc - mu).mean()):+.1e})   numeric {num_mu:+.6f}")

# %% [markdown]
# **Step 4, back to x.** x_i reaches L directly (d x_hat_i / d x_i = r, with mu and var
# fixed), through var (d var / d x_i = 2 (x_i - mu) / n) and through mu (1 / n):
#
#     dL/dx_i = d_i r + dL/dvar * 2 (x_i - mu) / n + dL/dmu / n

# %%
dx_chain = d * r + dvar * 2 * (xc - mu) / n + dmu / n
print("chain rule  :", dx_chain)
print("numeric     :", numeric_grad(lambda x_: (gc * forward_parts(x_)).sum(), xc))

# %% [markdown]
# **Step 5, the three-term formula.** Substitute step 2 and step 3 into step 4, and use
# (x_i - mu) r = x_hat_i:
#
#     dvar * 2 (x_i - mu) / n = -(r^3 / n) (x_i - mu) sum_j d_j (x_j - mu) = -r x_hat_i mean(d x_hat)
#     dmu / n                 = -r mean(d)
#
# so dL/dx = r (d - mean(d) - x_hat mean(d x_hat)), and with d = gamma g:
#
#     dL/dx = gamma / sigma * (g - mean(g) - x_hat * mean(g * x_hat))        (sigma = 1/r)
#
# The gradient loses its mean and its component along x_hat: exactly the two directions
# in which normalisation makes y insensitive to x (a shift of x, and a scaling of x - mu).

# %%
dx_three = gamma_c * r * (gc - gc.mean() - x_hat * (gc * x_hat).mean())
xt = nn.Tensor(xc.reshape(1, 1, n, 1), requires_grad=True)            # (N=1, C=1, n, 1)
bn_c = nn.BatchNorm2d(1, dtype=np.float64)
bn_c.weight.data[:], bn_c.bias.data[:] = gamma_c, beta_c
bn_c(xt).backward(gc.reshape(1, 1, n, 1))
print("three terms :", dx_three)
print(f"max |three terms - chain rule| = {np.abs(dx_three - dx_chain).max():.1e}, "
      f"- library BatchNorm2d = {np.abs(dx_three - xt.grad.ravel()).max():.1e}")
print(f"shift invariance: sum of dL/dx = {dx_three.sum():.1e}; "
      f"scale: sum of dL/dx * x_hat = {(dx_three * x_hat).sum():.1e} (not 0 only because of eps)")

# %% [markdown]
# ### If you are stuck on exercise 5.1 (BatchNorm)
#
# - Hint 1: per channel means over axes (0, 2, 3); reshape (C,) vectors to (1, C, 1, 1)
#   to broadcast. The variance is the *biased* one (divide by n); only the running
#   variance uses n / (n - 1) (section 2).
# - Hint 2: save x_hat, gamma and r = 1/sqrt(var + eps) in forward: the three-term
#   formula needs nothing else (no need to keep x, mu or var).
# - Hint 3: in eval mode mu and var are constants (the running ones), so steps 2 and 3
#   vanish and dL/dx = gamma r g. dL/dgamma and dL/dbeta are the same in both modes.

# %% [markdown]
# ## 2. Running averages, for eval mode
#
# In eval mode there may be no batch to take statistics from, so BatchNorm keeps running
# averages during training (PyTorch's convention, which ``nn`` follows):
#
#     running_mean = (1 - momentum) * running_mean + momentum * mean          momentum = 0.1
#     running_var  = (1 - momentum) * running_var  + momentum * var * n/(n-1)
#
# n = N*H*W values per channel; n/(n-1) turns the biased batch variance into the unbiased
# estimate. The start (mean 0, var 1) still weighs 0.9^t after t steps: 0.9^22 = 10%,
# 0.9^44 = 1%. Watch it on batches (2, 1, 2, 2) drawn from N(3, 2^2): n = 8, so the
# correction n/(n-1) = 8/7 is large enough to see.

# %%
steps = 60 if FAST else 600
bn = nn.BatchNorm2d(1, dtype=np.float64)                     # (2, 1, 2, 2), same shape
history = {"running_mean": [], "running_var": [], "biased": []}
biased_average = 1.0
for t in range(steps):
    x = rng.normal(3.0, 2.0, (2, 1, 2, 2))                  # (2, 1, 2, 2)
    bn(nn.Tensor(x))                                         # training mode updates in place
    biased_average = 0.9 * biased_average + 0.1 * x.var()   # what dropping n/(n-1) would give
    history["running_mean"].append(bn.running_mean[0])
    history["running_var"].append(bn.running_var[0])
    history["biased"].append(biased_average)
tail = slice(steps // 2, None)
print(f"after {steps} steps: running_mean {bn.running_mean[0]:.3f}, running_var "
      f"{bn.running_var[0]:.3f} (true 3 and 4; one batch of 8 values is a noisy estimate)")
print(f"averaged over the second half: running_mean {np.mean(history['running_mean'][tail]):.3f}, "
      f"running_var {np.mean(history['running_var'][tail]):.3f}, without n/(n-1) "
      f"{np.mean(history['biased'][tail]):.3f} (expected 4 * 7/8 = 3.5)")
print(f"running_var / average of biased variances at the end: "
      f"{bn.running_var[0] / biased_average:.4f} (n/(n-1) = 8/7 = {8 / 7:.4f}, "
      "once the start has faded)")

fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(history["running_mean"], label="running_mean")
ax.plot(history["running_var"], label="running_var (unbiased, n/(n-1) = 8/7)")
ax.plot(history["biased"], lw=1, alpha=0.7, label="average of the biased variance")
ax.axhline(3.0, color="tab:blue", ls="--", lw=0.8)
ax.axhline(4.0, color="tab:orange", ls="--", lw=0.8)
ax.axhline(3.5, color="tab:green", ls=":", lw=0.8)
t = np.arange(steps)
ax.plot(t, 3 * (1 - 0.9 ** (t + 1)), "k:", lw=1, label="3 (1 - 0.9^t): where the mean should be")
ax.set_xlabel("training step")
ax.set_title("Running statistics, momentum 0.1, batches of n = 8 values from N(3, 2^2)")
ax.legend(fontsize=8)
save_figure(fig, LESSON, "running_statistics")

# %% [markdown]
# ## 3. Train and eval mode side by side
#
# Training mode: a sample's output depends on the other samples in its batch. Eval mode:
# the running statistics replace the batch's, each sample is normalised on its own, and the
# running statistics are left alone.

# %%
x_a = nn.Tensor(rng.normal(3.0, 2.0, (2, 1, 2, 2)))          # sample 0 with one companion
x_b = nn.Tensor(np.concatenate([x_a.data[:1], rng.normal(9.0, 2.0, (1, 1, 2, 2))]))  # another
bn.train()
print("train mode, sample 0 in batch A:", bn(x_a).data[0, 0, 0].round(3),
      " in batch B:", bn(x_b).data[0, 0, 0].round(3))
bn.eval()
frozen = bn.running_mean.copy()
print("eval mode,  sample 0 in batch A:", bn(x_a).data[0, 0, 0].round(3),
      " in batch B:", bn(x_b).data[0, 0, 0].round(3),
      " running mean unchanged:", np.array_equal(frozen, bn.running_mean))

# %% [markdown]
# ## 4. Batch size 1 is instance normalisation
#
# pix2pix trains facades with batch size 1. Then N = 1 and the "batch" statistics of a
# channel are the mean and variance over that one image's H x W pixels: instance
# normalisation (Ulyanov et al. 2016). Check it against the formula, by hand:

# %%
one = images[:1].astype(np.float64)                                   # (1, 3, S, S)
bn1 = nn.BatchNorm2d(3, dtype=np.float64)                             # (1, 3, S, S), same shape
y = bn1(nn.Tensor(one)).data                                          # training mode
mean = one.mean(axis=(2, 3), keepdims=True)                           # (1, 3, 1, 1)
var = one.var(axis=(2, 3), keepdims=True)                             # (1, 3, 1, 1)
instance_norm = (one - mean) / np.sqrt(var + bn1.eps)
print(f"BatchNorm (N = 1, training) vs instance norm by hand: max difference "
      f"{np.abs(y - instance_norm).max():.1e}")

# Each image is normalised on its own: its overall brightness and contrast are gone
# (up to eps, which matters only where the variance is tiny).
y_scaled = bn1(nn.Tensor(3.0 * one + 5.0)).data
print(f"BN(x) vs BN(3x + 5) at batch size 1: max difference {np.abs(y - y_scaled).max():.1e}")

# And a batch of 4 is NOT instance norm: the statistics mix the 4 photos.
y4 = bn1(nn.Tensor(images.astype(np.float64))).data                   # (4, 3, S, S)
print(f"first photo normalised in a batch of 4 vs alone: max difference "
      f"{np.abs(y4[:1] - y).max():.2f}")

# %% [markdown]
# ## 5. The paper's test time: the test batch's statistics
#
# At test time the paper runs G exactly as in training: BatchNorm in training mode on the
# test batch. With batch size 1 that is instance norm, the same normalisation G saw on
# every training step, so the running averages are never used. ``paper_inference(G)`` in
# pix2pix/pix2pix_model.py does this without disturbing training: it switches to training mode
# with momentum 0, so the running statistics are not updated.

# %%
net = nn.Sequential(conv, nn.BatchNorm2d(4))      # (1, 3, S, S) -> (1, 4, S/2, S/2)
with nn.no_grad():                                # "train" (no weight updates): 40 passes
    for _ in range(10 if FAST else 40):           # over the photos fill the running stats
        for i in range(len(images)):
            net(nn.Tensor(images[i:i + 1]))
stats = net[1].running_mean.copy(), net[1].running_var.copy()
test = nn.Tensor(images[:1] * 0.5 - 0.3)          # a darker, low-contrast "test photo"
with paper_inference(net):
    paper = net(test).data                        # test-batch statistics = instance norm
net.eval()
with nn.no_grad():
    running = net(test).data                      # the running averages from training
net.train()
print("running statistics untouched by paper_inference:",
      all(np.array_equal(a, b) for a, b in zip(stats, (net[1].running_mean, net[1].running_var))))
print(f"paper mode: output mean {paper.mean():+.3f}, std {paper.std():.3f} "
      "(normalised whatever the photo)")
print(f"eval mode:  output mean {running.mean():+.3f}, std {running.std():.3f} "
      "(depends on how the test "
      f"photo compares with the training photos)")

# %% [markdown]
# One catch: at batch size 1, the U-Net's innermost feature map is 1x1. One value per
# channel has no variance: x - mean = 0, BatchNorm would output beta for every image and
# wipe out the bottleneck. Both reference implementations leave that layer without
# BatchNorm, and ``nn`` refuses the case outright:

# %%
try:
    nn.BatchNorm2d(8)(nn.Tensor(np.ones((1, 8, 1, 1), np.float32)))   # (1, 8, 1, 1)
except ValueError as error:
    print("BatchNorm2d on (1, 8, 1, 1):", error)

list_pictures()

# %% [markdown]
# ## Summary
#
# - Training mode normalises each channel with the batch's mean and biased variance over
#   (N, H, W), then scales by gamma and shifts by beta.
# - Running averages (momentum 0.1, unbiased variance n/(n-1)) serve eval mode; their
#   start value fades as 0.9^t.
# - Batch size 1 in training mode is instance normalisation: each image normalised alone,
#   blind to its own overall brightness and contrast.
# - The paper tests in training mode (test-batch statistics), i.e. instance norm for
#   facades; ``paper_inference`` does this without touching the running statistics. A 1x1
#   map at batch size 1 must not be batch-normalised.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 5.1  Write ``BatchNormFunction`` in lessons/exercises/ex05_batchnorm.py: forward in
#      training mode (batch statistics, update the running ones in place with momentum
#      and n/(n-1)) and in eval mode, and the backward derived in section 1b.
#      Grade it:   python -m pytest --exercise 5.1
# 5.2  (no grader) With what momentum would the running mean reach 99% of the true mean
#      within 10 steps? What happens to its noise?
#
# Next: python lessons/06_activations_and_dropout.py
