"""Lesson 12: data-parallel SGD, one model trained on N processes, and synchronized batch norm.

pix2pix trains with small batches (1 to 10 in the paper; 1 for facades: 200 epochs are
80,000 iterations), so one image does not keep a big machine busy, and a data set such as
edges2handbags (137k pairs) takes days. Data parallelism runs N copies
of the model, each on its own share of every batch, and averages their gradients before each
step. This lesson derives why that trains *the same* model as one process with N times the
batch (it is one identity), why per-process batch norm breaks the identity (the official
port's users saw "strange results" with --gpu_ids 0,1), and how synchronized batch norm
restores it: its forward and backward need only sums over the batch, and sums can be
added up across processes (an all-reduce).

What you will see:
  1. the mean of per-rank gradients is the gradient of the batch mean (linearity);
  2. per-rank batch norm normalises each image by itself: the identity breaks, by how much;
  3. synchronized batch norm's forward from all-reduced sums [sum x, sum x^2, count];
  4. its backward from two all-reduced sums [sum g, sum g x_hat], derived and checked;
  5. the library's --norm syncbatch on 2 ranks = --norm batch with twice the batch;
  6. the real thing (mpiexec), and what an all-reduce of pix2pix's gradients costs.

The ranks here are simulated in one process: a list of arrays per rank, and Python's sum
standing for the all-reduce (section 5: threads calling the library's all-reduce). No MPI
is needed to run this lesson.

Run:  python lessons/12_data_parallel.py      (add --fast for a quick pass)
Measured run time (2-core CPU, nothing else running, load 2.2): full 2 s, fast 2 s.
"""
# %%
import matplotlib.pyplot as plt
import numpy as np

import nn
import nn.functional as F
from lessons.common import FAST, list_pictures, save_figure
from pix2pix.models import define_D, define_G
from pix2pix.models.pix2pix_model import Pix2Pix
from pix2pix.training.distributed import ThreadRanks, average_gradients

LESSON = "12_data_parallel"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The mean of the ranks' gradients is the gradient of the batch mean
#
# A loss over a batch of B images is the mean of per-image losses, L = (1/B) sum_i l_i(w).
# Split the batch over N ranks, B/N images each; rank r computes the gradient of its own
# mean, g_r = (N/B) sum_{i in r} dl_i/dw. Differentiation is linear, so
#
#     (1/N) sum_r g_r = (1/N) sum_r (N/B) sum_{i in r} dl_i/dw = (1/B) sum_i dl_i/dw = dL/dw
#
# The average of the ranks' gradients *is* the whole batch's gradient: N ranks x batch
# B/N take exactly the step one process takes with batch B. Checked below with a conv
# and the L1 loss, in float64, a batch of 4 on 1, 2 and 4 ranks.

# %%
def conv_l1_gradient(x, target, weight):
    """dL/dweight of L = mean |conv(x) - target| (x: (n, 3, 8, 8), weight (4, 3, 3, 3))."""
    w = nn.Tensor(weight.copy(), requires_grad=True)
    F.l1_loss(F.conv2d(nn.Tensor(x), w, None, 1, 1), nn.Tensor(target)).backward()
    return w.grad


x_batch = rng.standard_normal((4, 3, 8, 8))                 # (B, C, H, W), B = 4
target = rng.standard_normal((4, 4, 8, 8))                  # (B, 4, H, W)
weight = rng.standard_normal((4, 3, 3, 3)) * 0.3
whole = conv_l1_gradient(x_batch, target, weight)            # one process, batch 4
for n_ranks in (1, 2, 4):
    per_rank = [conv_l1_gradient(x_batch[r::n_ranks], target[r::n_ranks], weight)
                for r in range(n_ranks)]                     # rank r: every N-th image
    averaged = sum(per_rank) / n_ranks                       # the all-reduce, then / N
    print(f"{n_ranks} rank(s) x batch {4 // n_ranks}: max |mean of rank gradients - batch "
          f"gradient| = {np.abs(averaged - whole).max():.1e}")

# %% [markdown]
# Round-off only (1e-17 in float64). Two conditions hide in the derivation: every rank
# holds the same number of images (otherwise a plain mean of the g_r weights the images
# unequally: the loader pads the last batch so that all ranks have the same count), and
# every rank starts from the same w (rank 0's weights are broadcast once at the start;
# after that, equal gradients keep them equal).
#
# ## 2. Per-rank batch norm breaks the identity
#
# The argument needs L to be a mean of per-image terms l_i(w). Batch norm breaks that:
# each image is normalised with the mean and variance *of the batch*, so l_i depends on
# the other images too. On N ranks each rank normalises with the statistics of its own
# images only; at batch 1 per rank that is instance norm (lesson 5, section 4), another
# function entirely. Below: a batch of 4 random 3-channel images whose means differ, the
# statistics of the whole batch against those each image would get alone.

# %%
x_bn = rng.standard_normal((4, 3, 6, 6)) * np.array([0.5, 1, 2]).reshape(1, 3, 1, 1) \
    + rng.standard_normal((4, 3, 1, 1))                      # images differ in mean
whole_mean, whole_var = x_bn.mean(axis=(0, 2, 3)), x_bn.var(axis=(0, 2, 3))
rank_means = x_bn.mean(axis=(2, 3))                          # (4 ranks, C): batch 1 each
rank_vars = x_bn.var(axis=(2, 3))
print("channel 0 mean: whole batch", f"{whole_mean[0]:+.3f};", "each rank alone",
      np.round(rank_means[:, 0], 3))
print("channel 0 var:  whole batch", f"{whole_var[0]:.3f};", "each rank alone",
      np.round(rank_vars[:, 0], 3))
print("mean of the ranks' variances", f"{rank_vars[:, 0].mean():.3f}",
      "(not the batch variance: the spread between the ranks' means is missing)")


def bn_gradient(x, upstream, gamma, beta):
    """dL/dx of L = sum(upstream * batch_norm(x)), training mode, float64."""
    X = nn.Tensor(x.copy(), requires_grad=True)
    (F.batch_norm(X, nn.Tensor(gamma), nn.Tensor(beta)) * nn.Tensor(upstream)).sum().backward()
    return X.grad


upstream = rng.standard_normal(x_bn.shape)
gamma, beta = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
dx_whole = bn_gradient(x_bn, upstream, gamma, beta)
dx_ranks = np.concatenate([bn_gradient(x_bn[r:r + 1], upstream[r:r + 1], gamma, beta)
                           for r in range(4)])
print(f"dL/dx, 4 ranks each with its own statistics vs the whole batch: relative "
      f"difference {np.abs(dx_ranks - dx_whole).max() / np.abs(dx_whole).max():.2f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), constrained_layout=True)
for ax, values, whole_value, what in ((axes[0], rank_means, whole_mean, "mean"),
                                      (axes[1], rank_vars, whole_var, "variance")):
    for c in range(3):
        ax.plot(np.full(4, c) + np.linspace(-0.15, 0.15, 4), values[:, c], "o",
                color=f"C{c}", label="rank alone (batch 1)" if c == 0 else None)
        ax.plot([c - 0.3, c + 0.3], [whole_value[c]] * 2, "k-",
                label="whole batch" if c == 0 else None)
    ax.set_xticks(range(3))
    ax.set_xticklabels([f"channel {c}" for c in range(3)])
    ax.set_title(f"per-channel {what}: each rank's vs the batch's", fontsize=9)
    ax.legend(fontsize=8)
save_figure(fig, LESSON, "per_rank_statistics")

# %% [markdown]
# ## 3. Synchronized batch norm, forward: all-reduce three sums
#
# The batch statistics are sums over the samples, and sums split over ranks:
#
#     M = sum_r n_r,   mean = (sum_r S1_r) / M,   var = (sum_r S2_r) / M - mean^2
#
# with S1_r = sum of rank r's x and S2_r = sum of its x^2, per channel. So each rank sends
# [S1_r, S2_r, n_r] (2C + 1 numbers) to one all-reduce and gets back the totals. Never
# average the ranks' means and variances: the mean of variances printed above misses the
# spread between the ranks' means, and a mean of means weights unequal ranks wrongly.
# (The library sums in float64: var = E[x^2] - mean^2 cancels digits when the mean is
# large against the spread.)

# %%
ranks_x = [x_bn[r::2] for r in range(2)]                    # 2 ranks, 2 images each
local = [np.concatenate([x.sum(axis=(0, 2, 3)), (x * x).sum(axis=(0, 2, 3)),
                         [x.size // x.shape[1]]]) for x in ranks_x]   # (2C + 1,) each
total = sum(local)                                          # the all-reduce
C, M = 3, total[-1]
sync_mean = total[:C] / M
sync_var = total[C:2 * C] / M - sync_mean ** 2
print(f"count M = {M:.0f}; |mean - batch mean| = {np.abs(sync_mean - whole_mean).max():.1e}, "
      f"|var - batch var| = {np.abs(sync_var - whole_var).max():.1e}")

# %% [markdown]
# ## 4. Synchronized batch norm, backward: all-reduce two sums
#
# Lesson 5 (section 1b) derived the training-mode backward for one channel of n values:
#
#     dx = gamma r (g - sum(g)/n - x_hat sum(g x_hat)/n),    r = 1/sqrt(var + eps)
#
# The two sums run over *every value the statistics were computed from*: over all ranks.
# Each rank holds its own g and x_hat, computes its two partial sums per channel, and one
# all-reduce of [sum g, sum g x_hat] (2C numbers) gives the totals; M replaces n. The
# gradients of gamma (sum g x_hat) and beta (sum g) stay per rank: they are parameter
# gradients, which the data-parallel average of section 1 adds up like any other.

# %%
def sync_bn_backward(ranks_g, ranks_x_hat, gamma, inv_std, count, reduce_both=True):
    """Each rank's dx from its g and x_hat (n_r, C, H, W); the all-reduce is a sum over
    the list. reduce_both=False all-reduces sum(g) only (exercise 12.1's classic slip)."""
    axes = (0, 2, 3)
    sum_g = sum(g.sum(axis=axes) for g in ranks_g)                       # all-reduce 1
    sum_gx = [(g * xh).sum(axis=axes) for g, xh in zip(ranks_g, ranks_x_hat)]
    sum_gx = [sum(sum_gx)] * len(ranks_g) if reduce_both else sum_gx     # all-reduce 2
    c = lambda v: v.reshape(1, -1, 1, 1)  # noqa: E731 -- per channel
    return [c(gamma * inv_std) * (g - c(sum_g / count) - xh * c(s / count))
            for g, xh, s in zip(ranks_g, ranks_x_hat, sum_gx)]


inv_std = 1 / np.sqrt(sync_var + 1e-5)
ranks_x_hat = [(x - sync_mean.reshape(1, -1, 1, 1)) * inv_std.reshape(1, -1, 1, 1)
               for x in ranks_x]
ranks_g = [upstream[r::2] for r in range(2)]
for both in (True, False):
    dx = sync_bn_backward(ranks_g, ranks_x_hat, gamma, inv_std, M, reduce_both=both)
    merged = np.empty_like(x_bn)
    merged[0::2], merged[1::2] = dx
    print(f"all-reduce {'both sums' if both else 'sum(g) only'}: relative difference to "
          f"the whole batch's dx {np.abs(merged - dx_whole).max() / np.abs(dx_whole).max():.1e}")

# %% [markdown]
# ### If you are stuck on exercise 12.1 (SyncBatchNormFunction)
#
# - Hint 1: forward: build one float64 vector [sum x per channel, sum x^2 per channel,
#   count] (2C + 1 values), all-reduce it once, then mean = S1 / M and
#   var = S2 / M - mean^2 (section 3). The running variance uses M / (M - 1).
# - Hint 2: save x_hat, gamma, 1/sqrt(var + eps), the allreduce and M in ctx; backward
#   all-reduces [sum g, sum g x_hat] (2C values) in one call and uses M where lesson 5
#   used n (section 4).
# - Hint 3: return this rank's own sum(g) and sum(g x_hat) as dbeta and dgamma, not the
#   all-reduced ones: the optimiser's gradient average adds the ranks' parts.

# %% [markdown]
# Both sums are needed: with only sum(g) all-reduced, the projection onto x_hat uses one
# rank's share and the gradient is off (by 9% of its largest value here).
#
# ## 5. The library: SyncBatchNorm2d and --norm syncbatch
#
# `nn.SyncBatchNorm2d` does sections 3 and 4 with a real all-reduce (mpi4py's under
# mpiexec; in one process, no all-reduce at all: it is exactly BatchNorm2d). Here the
# ranks are threads (`ThreadRanks`) calling the same all-reduce. First the op alone
# against the sums above, then two whole pix2pix models, one per rank, each on every
# 2nd image of a batch of 4, against one model on the whole batch.

# %%
def op_on_rank(rank):
    X = nn.Tensor(ranks_x[rank.rank].copy(), requires_grad=True)
    y = F.sync_batch_norm(X, nn.Tensor(gamma), nn.Tensor(beta), None, None,
                          rank.allreduce_sum)
    (y * nn.Tensor(ranks_g[rank.rank])).sum().backward()
    return X.grad


library_dx = ThreadRanks(2).run(op_on_rank)
expected = sync_bn_backward(ranks_g, ranks_x_hat, gamma, inv_std, M)
print("library's sync_batch_norm dx vs section 4:",
      f"{max(np.abs(a - b).max() for a, b in zip(library_dx, expected)):.1e}")

# %%
SIZE, WIDTH, STEPS = 32, 8, (2 if FAST else 4)
pairs = rng.uniform(-1, 1, (STEPS, 2, 4, 3, SIZE, SIZE)).astype(np.float32)  # A, B batches


def pix2pix_model(norm):
    """The same initial weights on every rank (same seed; mpiexec broadcasts rank 0's)."""
    return Pix2Pix(netG=f"unet_{SIZE}", ngf=WIDTH, ndf=WIDTH, norm=norm, no_dropout=True)


def train_on_rank(rank, model, n_ranks):
    for net in model.networks().values():          # what distributed.connect() does
        for m in net.modules():
            if isinstance(m, nn.SyncBatchNorm2d):
                m.allreduce = rank.allreduce_sum
    model.average_gradients = lambda params, losses, name: average_gradients(
        rank, params, losses, name)
    for a, b in pairs:                                # rank r: images r, r + N, ...
        model.train_step(a[rank.rank::n_ranks], b[rank.rank::n_ranks])
    return {f"{k}.{n}": v for k, net in model.networks().items()
            for n, v in net.state_dict().items()}          # parameters and running stats


def worst_difference(a, b):
    return max(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max() for k in b)


one_process = ThreadRanks(1).run(lambda rank: train_on_rank(rank, pix2pix_model("batch"), 1))[0]
results = {}
for norm in ("syncbatch", "batch"):
    models = [pix2pix_model(norm) for _ in range(2)]
    states = ThreadRanks(2).run(lambda rank: train_on_rank(rank, models[rank.rank], 2))
    differing = sorted({k.rsplit(".", 1)[1] for k in states[0]
                        if not np.array_equal(states[0][k], states[1][k])})
    print(f"--norm {norm}: arrays that differ between the ranks: {differing or 'none'}")
    results[norm] = worst_difference(states[0], one_process)
    print(f"  2 ranks x batch 2 vs 1 process x batch 4 after {STEPS} steps: worst relative "
          f"weight difference {results[norm]:.1e}")

fig, ax = plt.subplots(figsize=(6.5, 3.2), constrained_layout=True)
ax.bar(["--norm syncbatch\n(all-reduced statistics)", "--norm batch\n(per-rank statistics)"],
       [results["syncbatch"], results["batch"]], color=["C2", "C3"])
ax.set_yscale("log")
ax.set_ylabel("worst relative weight difference")
ax.set_title(f"2 ranks x batch 2 vs 1 process x batch 4, {STEPS} pix2pix steps", fontsize=9)
save_figure(fig, LESSON, "equivalence")

# %% [markdown]
# With synchronized statistics the two runs agree to float32 round-off (Adam, which divides
# each gradient by its own running size, amplifies round-off in tiny gradients somewhat),
# and both ranks hold the same arrays. Per-rank statistics give another model; its
# parameters still agree between the ranks (the averaged gradients see to that), but each
# rank's running statistics are its own images'. The MPI tests
# (tests/pix2pix/training/test_distributed.py) check the same with `mpiexec -n 2`.
#
# ## 6. The real thing, and what it costs
#
#     pip install -e ".[distributed]"
#     mpiexec -n 2 python train.py --norm syncbatch --batch_size 1   # effective batch 2
#
# Every step all-reduces each network's gradients once: one flat buffer of all its
# parameters. How many floats is that for the paper's networks? Counted from the
# architecture (each 4x4 conv has in x out x 16 weights; batch norm 2 per channel), and
# the count checked against a small network the library builds:

# %%
def unet_parameters(num_downs, ngf, input_nc=3, output_nc=3):
    widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
    count = 0
    for i in range(num_downs):                                    # encoder
        count += (input_nc if i == 0 else widths[i - 1]) * widths[i] * 16
        count += 2 * widths[i] if 0 < i < num_downs - 1 else 0     # batch norm
    for j in range(num_downs - 1):                                # decoder
        level = num_downs - 2 - j
        count += widths[level + 1] * (2 if j > 0 else 1) * widths[level] * 16
        count += 2 * widths[level]
    return count + widths[0] * 2 * output_nc * 16 + output_nc     # final conv + bias


def patchgan_parameters(ndf, input_nc=6, n_layers=3):
    widths = [ndf * min(2 ** i, 8) for i in range(n_layers + 1)]
    count = input_nc * ndf * 16 + ndf                             # C64: conv + bias
    for i in range(1, n_layers + 1):
        count += widths[i - 1] * widths[i] * 16 + 2 * widths[i]   # conv + batch norm
    return count + widths[-1] * 16 + 1                            # last conv + bias


def built(net):
    return sum(p.data.size for p in net.parameters())


print("check on small nets:", unet_parameters(5, 8) == built(define_G("unet_32", ngf=8)),
      patchgan_parameters(8) == built(define_D("basic", 6, 8)))
G_floats, D_floats = unet_parameters(8, 64), patchgan_parameters(64)
print(f"paper networks: G {G_floats / 1e6:.1f} M floats, D {D_floats / 1e6:.1f} M floats: "
      f"{4 * (G_floats + D_floats) / 1e6:.0f} MB of float32 gradients per step")

# %% [markdown]
# A ring all-reduce (what MPI libraries use for large buffers) sends and receives
# 2 (N - 1) / N times the buffer on each rank, so its time is almost independent of N.
# With the links' nominal bandwidths (one direction): PCIe 4.0 x16 about 32 GB/s; NVLink
# on an H100 about 450 GB/s; 100 Gb/s InfiniBand 12.5 GB/s; 10 Gb Ethernet 1.25 GB/s.

# %%
volume = 4 * (G_floats + D_floats)                              # bytes per step
links = {"NVLink (H100)": 450e9, "PCIe 4.0 x16": 32e9, "InfiniBand 100 Gb/s": 12.5e9,
         "Ethernet 10 Gb/s": 1.25e9}
for n_ranks in (2, 8):
    times = ", ".join(f"{name} {2 * (n_ranks - 1) / n_ranks * volume / bw * 1e3:.0f} ms"
                      for name, bw in links.items())
    print(f"N = {n_ranks}: all-reduce per step: {times}")

# %% [markdown]
# Set that against one step's compute: about 1.2 s on this 2-core CPU for the paper's
# configuration (README, Performance). On CPU nodes even 10 Gb Ethernet (0.2-0.3 s) leaves
# most of the speed-up; a GPU's step is far shorter, so GPUs need the faster links, or the
# all-reduce takes longer than the step. The README's section "Training on several
# processes or GPUs" turns this into the paper's schedule.
#
# On one machine the question is another: N ranks against one process whose BLAS already
# uses the N cores. That section measures both, and PyTorch's DDP beside ours: on 2 idle
# cores the threaded process wins for both libraries, on 2 busy cores the ranks do.

# %%
list_pictures()

# %% [markdown]
# ## Summary
#
# - Average the ranks' gradients (one all-reduce) and N ranks x batch b take exactly the
#   step of one process with batch N b: the gradient of a mean is the mean of gradients.
# - The conditions: the same initial weights (broadcast once), equal shares of each batch,
#   one global data order, every decision (NaN guard, stop) taken on reduced values.
# - Batch norm makes each image's loss depend on the others: per-rank statistics (batch 1:
#   instance norm) train another model.
# - Synchronized batch norm all-reduces sums, never means: [sum x, sum x^2, count] forward,
#   [sum g, sum g x_hat] backward; gamma's and beta's gradients join the usual average.
#
# ## Exercises
#
# In a student release this lesson runs on your own code: pass these, then run it again.
#
# 12.1  Write SyncBatchNormFunction's forward and backward in the exercises
#       (lessons/exercises/ex12_data_parallel.py). Grade it:
#           python -m pytest --exercise 12.1
# 12.2  (no grader) A rank's last batch is smaller when the data set does not split
#       evenly. Which weighting of the ranks' gradients keeps section 1's identity?
#       (Weight each g_r by n_r / B instead of 1 / N.)
# 12.3  (no grader) Run section 5 with 3 ranks and a batch of 6. Does anything change?
#
# This is the last lesson. Back to the start: python lessons/01_tensors_and_autograd.py
