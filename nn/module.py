"""Module, Parameter and Sequential: the containers layers and networks are built from."""
from collections import OrderedDict

from .backend import get_array_module, to_device
from .tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module learns: requires_grad=True and listed by ``parameters()``."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of layers and networks, after ``torch.nn.Module``.

    Assigning a Parameter or a Module to an attribute registers it; buffers (running
    statistics) are registered with ``register_buffer`` and saved in ``state_dict``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               "before assigning attributes")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            return self.register_buffer(name, value)  # an array stays a buffer, as in PyTorch
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """A non-learned array saved with the model (e.g. BatchNorm's running mean)."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal ---------------------------------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self):
        for prefix, module in self.named_modules():
            for name, p in module._parameters.items():
                yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        for prefix, module in self.named_modules():
            for name, b in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), b

    # --- modes and gradients -----------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, device):
        """Move parameters and buffers to ``device`` ("cpu" or "cuda"), in place."""
        for p in self.parameters():
            p.data = to_device(p.data, device)
            if p.grad is not None:
                p.grad = to_device(p.grad, device)
        for prefix, module in self.named_modules():
            for name in list(module._buffers):
                module.register_buffer(name, to_device(module._buffers[name], device))
        return self

    # --- saving and loading ------------------------------------------------------------
    def state_dict(self):
        """Names -> arrays (parameters and buffers), the arrays themselves, not copies."""
        state = OrderedDict((name, p.data) for name, p in self.named_parameters())
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers, checking names and shapes.

        With strict=True every key must match; the error lists missing, unexpected and
        mis-shaped keys together. Returns (missing, unexpected) key lists.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        misshaped = [f"{k}: checkpoint {tuple(state_dict[k].shape)}, model {tuple(own[k].shape)}"
                     for k in own if k in state_dict
                     and tuple(state_dict[k].shape) != tuple(own[k].shape)]
        if misshaped or (strict and (missing or unexpected)):
            problems = []
            for title, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                ("shape mismatches", misshaped)):
                if keys and (strict or title == "shape mismatches"):
                    shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)"
                                                     if len(keys) > 10 else "")
                    problems.append(f"{title}: {shown}")
            raise ValueError(f"cannot load state dict into {type(self).__name__}: "
                             + "; ".join(problems))
        for name, target in own.items():
            if name not in state_dict:
                continue
            xp = get_array_module(target)
            target[...] = xp.asarray(state_dict[name], dtype=target.dtype)
        return missing, unexpected

    # --- printing ----------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + ("\n)" if self._modules else ")")


class Sequential(Module):
    """Apply modules in order; children are named "0", "1", ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x
