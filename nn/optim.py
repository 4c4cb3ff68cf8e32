"""Optimisers: SGD (with momentum) and Adam, updating parameters in place."""
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


class Adam(Optimizer):
    """Adam (Kingma & Ba), exactly as ``torch.optim.Adam`` computes it:

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
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
        b1, b2 = self.betas
        t = self.step_count
        step_size = self.lr / (1 - b1 ** t)
        inv_root_bias2 = 1 / (1 - b2 ** t) ** 0.5
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            xp = get_array_module(p.data)
            g = p.grad
            # Every update is written into existing arrays (out=, in-place): the
            # optimiser allocates nothing per step, which matters for 54M parameters.
            tmp = self._scratch(p.data)
            xp.subtract(g, m, out=tmp)                # m <- m + (1 - b1)(g - m)
            tmp *= 1 - b1
            m += tmp
            xp.multiply(g, g, out=tmp)                # v <- b2 v + (1 - b2) g^2
            tmp *= 1 - b2
            v *= b2
            v += tmp
            xp.sqrt(v, out=tmp)                       # sqrt(v_hat) + eps
            tmp *= inv_root_bias2
            tmp += self.eps
            xp.divide(m, tmp, out=tmp)                # m / (sqrt(v_hat) + eps)
            tmp *= step_size
            p.data -= tmp                             # in place: p.data keeps its identity

    def _scratch(self, like):
        """A reusable buffer shaped like ``like`` (one flat buffer for every parameter)."""
        xp = get_array_module(like)
        buffer = getattr(self, "_buffer", None)
        if buffer is None or buffer.size < like.size or buffer.dtype != like.dtype \
                or get_array_module(buffer) is not xp:
            size = max(p.data.size for p in self.params)
            buffer = self._buffer = xp.empty(size, dtype=like.dtype)
        return buffer[:like.size].reshape(like.shape)

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
