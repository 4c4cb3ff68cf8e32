"""Optimisers: SGD (with momentum) and Adam, updating parameters in place."""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .backend import get_array_module, to_numpy
from .tensor import no_grad


class Optimizer:
    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def state_dict(self):
        raise NotImplementedError

    def load_state_dict(self, state):
        raise NotImplementedError

    def _load_slots(self, state, names):
        """Copy per-parameter arrays ``state[f"{name}.{i}"]`` back, checking count and shapes."""
        for name in names:
            for i, p in enumerate(self.params):
                key = f"{name}.{i}"
                if key not in state:
                    raise ValueError(f"optimizer state has no {key!r}: it was saved for "
                                     f"another set of parameters")
                slot = getattr(self, name)
                if tuple(state[key].shape) != tuple(p.shape):
                    raise ValueError(f"optimizer state {key!r} has shape {tuple(state[key].shape)}"
                                     f", parameter {i} has {tuple(p.shape)}")
                xp = get_array_module(p.data)
                slot[i] = xp.asarray(state[key], dtype=p.dtype)


class SGD(Optimizer):
    """p <- p - lr * v, v <- momentum * v + grad (PyTorch's form)."""

    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = [None] * len(self.params)

    @no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            update = p.grad
            if self.momentum:
                v = self.velocity[i]
                self.velocity[i] = update if v is None else self.momentum * v + update
                update = self.velocity[i]
            p.data -= self.lr * update


### BEGIN SOLUTION 6b.1
def adam_step_reference(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                        eps=1e-8):
    """Exercise 6b.1 (lesson 6b, sections 4 and 5). One Adam step (Kingma & Ba 2015,
    Algorithm 1) on plain arrays, as torch.optim.Adam computes it, the textbook way
    (``Adam`` computes the same numbers in place, tested equal; in a student release
    ``Adam`` calls this function).

    param, grad, exp_avg (the running mean of the gradient, m), exp_avg_sq (the running
    mean of its square, v): arrays of one shape, float32 or float64. step: t = 1 for the
    first update, 2 for the second, ... (m and v start at zero). betas = (beta1, beta2).
    Returns the new (param, exp_avg, exp_avg_sq) as new arrays; the inputs are unchanged.
    eps is added to the square root of the corrected second moment (PyTorch's place).
    Graded: several steps against torch's numbers, the first step's size, bias correction,
    inputs left unchanged, float32 kept float32, betas (0.5, 0.999) as pix2pix uses.
    """
    xp = get_array_module(param)
    b1, b2 = betas
    m = b1 * exp_avg + (1 - b1) * grad              # running mean of the gradient
    v = b2 * exp_avg_sq + (1 - b2) * grad * grad    # running mean of its square
    m_hat = m / (1 - b1 ** step)                    # bias correction: m and v start at 0
    v_hat = v / (1 - b2 ** step)
    return param - lr * m_hat / (xp.sqrt(v_hat) + eps), m, v
### END SOLUTION


class Adam(Optimizer):
    """Adam (Kingma & Ba), exactly as ``torch.optim.Adam`` computes it:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    These are the numbers of ``adam_step_reference``, computed in place (tested equal). t
    counts the calls of step(); a parameter without a gradient is left as it is (m and v too).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = tuple(betas), eps
        self.step_count = 0
        self.exp_avg = [get_array_module(p.data).zeros_like(p.data) for p in self.params]
        self.exp_avg_sq = [get_array_module(p.data).zeros_like(p.data) for p in self.params]

    @no_grad()
    def step(self):
        self.step_count += 1
        groups = self._groups()
        if len(groups) == 1:
            self._update(groups[0])
        else:
            # On the CPU NumPy releases the GIL inside its loops, so a few threads update
            # disjoint sets of parameters at the same time (like torch's multi-threaded Adam).
            list(self._pool.map(self._update, groups))

    def _update_with_adam_step(self, group):
        """The same update through ``adam_step_reference`` (new arrays, copied back in
        place): what a student release runs, so that training uses exercise 6b.1."""
        for i in group[0]:
            p, m, v = self.params[i], self.exp_avg[i], self.exp_avg_sq[i]
            if p.grad is None:
                continue
            new_p, new_m, new_v = adam_step_reference(p.data, p.grad, m, v, self.step_count,
                                                      self.lr, self.betas, self.eps)
            p.data[...], m[...], v[...] = new_p, new_m, new_v

    ### BEGIN FAST 6b.1: _update = _update_with_adam_step
    def _update(self, group):
        """Adam for the parameters in ``group`` (indices), with that group's scratch buffer.

        Every update goes into existing arrays (out=, in place): no allocation per step.
        """
        b1, b2 = self.betas
        t = self.step_count
        step_size = self.lr / (1 - b1 ** t)
        # p -= step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps), with step_size folded into
        # the denominator to save one pass over the parameters.
        denom_scale = 1 / ((1 - b2 ** t) ** 0.5 * step_size)
        denom_shift = self.eps / step_size
        indices, buffer = group
        for i in indices:
            p, m, v = self.params[i], self.exp_avg[i], self.exp_avg_sq[i]
            if p.grad is None:
                continue
            xp = get_array_module(p.data)
            g = p.grad
            tmp = buffer[:p.data.size].reshape(p.shape)
            xp.subtract(g, m, out=tmp)                # m <- m + (1 - b1)(g - m)
            tmp *= 1 - b1
            m += tmp
            xp.multiply(g, g, out=tmp)                # v <- b2 v + (1 - b2) g^2
            tmp *= 1 - b2
            v *= b2
            v += tmp
            xp.sqrt(v, out=tmp)                       # (sqrt(v_hat) + eps) / step_size
            tmp *= denom_scale
            tmp += denom_shift
            xp.divide(m, tmp, out=tmp)
            p.data -= tmp                             # in place: p.data keeps its identity
    ### END FAST

    def _groups(self):
        """Parameters split into one group per CPU core (one group on a GPU), balanced by
        size, each with a reusable scratch buffer as large as its largest parameter."""
        cached = getattr(self, "_cached_groups", None)
        if cached is not None:
            return cached
        xp = get_array_module(self.params[0].data)
        n = 1 if xp is not np else min(os.cpu_count() or 1, 4, len(self.params))
        order = sorted(range(len(self.params)), key=lambda i: -self.params[i].size)
        members, loads = [[] for _ in range(n)], [0] * n
        for i in order:                               # greedy: biggest to the lightest group
            g = loads.index(min(loads))
            members[g].append(i)
            loads[g] += self.params[i].size
        self._cached_groups = [
            (idx, xp.empty(max(self.params[i].size for i in idx), dtype=self.params[idx[0]].dtype))
            for idx in members if idx]
        if len(self._cached_groups) > 1:
            self._pool = ThreadPoolExecutor(max_workers=len(self._cached_groups))
        return self._cached_groups

    def state_dict(self):
        state = {"step": self.step_count, "lr": self.lr, "beta1": self.betas[0],
                 "beta2": self.betas[1], "eps": self.eps}
        for i, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq)):
            state[f"exp_avg.{i}"] = to_numpy(m)
            state[f"exp_avg_sq.{i}"] = to_numpy(v)
        return state

    def load_state_dict(self, state):
        self._load_slots(state, ("exp_avg", "exp_avg_sq"))
        self.step_count = int(state["step"])
        self.lr = float(state["lr"])
        self.betas = (float(state["beta1"]), float(state["beta2"]))
        self.eps = float(state["eps"])
