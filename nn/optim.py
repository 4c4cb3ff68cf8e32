"""Optimisers: SGD (with momentum) and Adam, updating parameters in place."""
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .backend import get_array_module, to_numpy
from .flat import FlatParameters
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
                slot[i][...] = xp.asarray(state[key], dtype=p.dtype)   # views stay views


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


def _adam_update(p, g, m, v, b1, b2, denom_scale, denom_shift):
    """One Adam step on arrays of one shape (a parameter or whole flat buffers), in place.

    ``g`` is overwritten: once m and v have taken the gradient, its memory holds the
    update, so a step allocates nothing (a scratch buffer as large as all the parameters
    would raise the peak memory of every iteration).
    """
    xp = get_array_module(p)
    m *= b1                                   # m <- b1 m + (1 - b1) g
    v *= b2                                   # v <- b2 v + (1 - b2) g^2
    g *= 1 - b1
    m += g
    g *= g                                    # (1 - b1)^2 g^2
    g *= (1 - b2) / (1 - b1) ** 2
    v += g
    xp.sqrt(v, out=g)                         # (sqrt(v_hat) + eps) / step_size
    g *= denom_scale
    g += denom_shift
    xp.divide(m, g, out=g)
    p -= g                                    # in place: the parameters see it


class Adam(Optimizer):
    """Adam (Kingma & Ba), exactly as ``torch.optim.Adam`` computes it:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    These are the numbers of ``adam_step_reference``, computed in place (tested equal). t
    counts the calls of step(); a parameter without a gradient is left as it is (m and v too).

    The parameters' values move into one flat buffer when the optimiser is built (each
    ``p.data`` becomes a view of it, see nn/flat.py), and m and v live in two more: a step
    is one copy of the gradients (into a buffer of the step's own, which then serves as
    scratch) and a dozen whole-buffer operations. After a step,
    ``gradient_total`` is the sum of the gradients it used, a 0-d array on the device
    (NaN or Inf if any gradient was): a check that needs no host synchronisation.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = tuple(betas), eps
        self.step_count = 0
        self.gradient_total = None
        self._attach()

    def _attach(self, old=None):
        """Build the flat buffers; ``old`` (m and v views) are copied in when p.data had
        been replaced (a model moved to another device after its optimiser was built)."""
        self._flat = FlatParameters(self.params)
        self._m, self._v = self._flat.zeros(), self._flat.zeros()
        self.exp_avg, self.exp_avg_sq = self._flat.views(self._m), self._flat.views(self._v)
        for views, old_views in zip((self.exp_avg, self.exp_avg_sq), old or ()):
            for view, old_view in zip(views, old_views):
                view[...] = self._flat.xp.asarray(old_view)

    @no_grad()
    def step(self):
        self.step_count += 1
        if not self._flat.attached():
            self._attach(old=(self.exp_avg, self.exp_avg_sq))
        grad = self._flat.gather_grads()              # None if a parameter has no gradient
        with_grad = [i for i, p in enumerate(self.params) if p.grad is not None]
        # Summed before grad serves as scratch; on the device, for a NaN check without a sync.
        self.gradient_total = grad.sum() if grad is not None else \
            sum(self.params[i].grad.sum() for i in with_grad)
        self._update((with_grad, grad))

    def _constants(self):
        """(b1, b2, denom_scale, denom_shift) of this step: p -= step_size * m /
        (sqrt(v) / sqrt(1 - b2^t) + eps), with step_size folded into the denominator to
        save one pass over the parameters."""
        b1, b2 = self.betas
        t = self.step_count
        step_size = self.lr / (1 - b1 ** t)
        return b1, b2, 1 / ((1 - b2 ** t) ** 0.5 * step_size), self.eps / step_size

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
        """group: (indices of the parameters with a gradient, the step's gathered flat
        gradient or None). With it, Adam on the whole flat buffers, a dozen operations;
        without (some parameter got no gradient: rare), one parameter at a time."""
        indices, grad = group
        constants = self._constants()
        if grad is None:
            for i in indices:
                p = self.params[i]
                _adam_update(p.data, p.grad.copy(), self.exp_avg[i], self.exp_avg_sq[i],
                             *constants)
            return
        arrays = (self._flat.data, grad, self._m, self._v)
        chunks = self._chunks()
        if len(chunks) == 1:
            _adam_update(*arrays, *constants)
        else:
            # On the CPU NumPy releases the GIL inside its loops, so a few threads update
            # disjoint slices of the buffers at once (like torch's multi-threaded Adam).
            list(self._pool.map(lambda c: _adam_update(*(a[c] for a in arrays), *constants),
                                chunks))
    ### END FAST

    def _chunks(self):
        """Slices of the flat buffers, one per thread: one on a GPU or for small models."""
        cached = getattr(self, "_cached_chunks", None)
        if cached is not None and cached[0] is self._flat:
            return cached[1]
        total = self._flat.size
        n = 1 if self._flat.xp is not np or total < 2 ** 16 else min(os.cpu_count() or 1, 4)
        bounds = [total * k // n for k in range(n + 1)]
        chunks = [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]
        if n > 1 and getattr(self, "_pool", None) is None:
            self._pool = ThreadPoolExecutor(max_workers=n)
        self._cached_chunks = (self._flat, chunks)
        return chunks

    def state_dict(self):
        state = {"step": self.step_count, "lr": self.lr, "beta1": self.betas[0],
                 "beta2": self.betas[1], "eps": self.eps}
        for i, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq)):
            state[f"exp_avg.{i}"] = to_numpy(m)
            state[f"exp_avg_sq.{i}"] = to_numpy(v)
        return state

    def load_state_dict(self, state):
        self._load_slots(state, ("exp_avg", "exp_avg_sq"))
        self.step_count = int(_scalar(state, "step", lambda t: t >= 0, ">= 0", integer=True))
        self.lr = _scalar(state, "lr", lambda lr: lr > 0, "> 0")
        # beta2 = 1 divides by 1 - beta2^t = 0; eps = 0 divides by sqrt(v) = 0.
        self.betas = (_scalar(state, "beta1", lambda b: 0 <= b < 1, "in [0, 1)"),
                      _scalar(state, "beta2", lambda b: 0 <= b < 1, "in [0, 1)"))
        self.eps = _scalar(state, "eps", lambda e: e > 0, "> 0")


def _scalar(state, key, allowed, rule, integer=False):
    """state[key] as a Python number: one finite number (0-d) of the right kind for which
    allowed(value) holds, else ValueError naming the key and the rule."""
    kinds = "iu" if integer else "iuf"
    value = np.asarray(state.get(key)) if key in state else None
    if value is None or value.shape != () or value.dtype.kind not in kinds:
        raise ValueError(f"optimizer state {key!r} must be one {'integer' if integer else 'number'}"
                         f", got {'nothing' if value is None else f'{value.dtype} {value.shape}'}")
    number = value.item()
    if not (math.isfinite(number) and allowed(number)):
        raise ValueError(f"optimizer state {key!r} must be {rule}, got {number}")
    return number
