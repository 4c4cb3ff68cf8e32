"""Tensor and reverse-mode automatic differentiation.

A ``Tensor`` wraps an array (``.data``) and, when it was made by an op from tensors
that require gradients, remembers that op (``Function``) and its inputs. Calling
``loss.backward()`` sorts that graph topologically and runs every op's ``backward`` from
the loss towards the leaves, **adding** the gradients that reach a tensor along different
paths.
"""
import contextlib
import threading

import numpy as np

from .backend import device_of, get_array_module, to_device


class _GradMode(threading.local):
    """Whether ops record a graph, per thread (as in PyTorch): one thread's optimiser step
    under no_grad() must not switch off the graph another thread is recording."""
    enabled = True


_grad_mode = _GradMode()


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record no graph (evaluation, optimiser updates)."""
    previous, _grad_mode.enabled = _grad_mode.enabled, False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


class Context:
    """Scratch space an op's forward fills for its backward (``ctx.save_for_backward``)."""

    def __init__(self, needs_input_grad):
        # needs_input_grad[i]: does positional input i need a gradient? Lets an op skip work.
        self.needs_input_grad = needs_input_grad
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """One differentiable op: subclasses write ``forward`` and ``backward`` as staticmethods.

    ``forward(ctx, *inputs, **options)`` gets raw arrays in place of tensors and returns an
    array. ``backward(ctx, grad)`` gets the gradient of the loss w.r.t. the output and
    returns one gradient per positional input (``None`` where there is none).
    """

    @staticmethod
    def forward(ctx, *inputs, **options):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **options):
        needs = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        record = _grad_mode.enabled and any(needs)
        ctx = Context(needs)
        arrays = [t.data if isinstance(t, Tensor) else t for t in inputs]
        out = Tensor(cls.forward(ctx, *arrays, **options), requires_grad=record)
        if record:
            out._op, out._ctx = cls, ctx
            out._parents = tuple(t if isinstance(t, Tensor) else None for t in inputs)
        return out


class Tensor:
    """An array plus the bookkeeping for gradients.

    data: a NumPy or CuPy array. Python numbers and lists become float32 arrays;
    arrays keep their dtype (use float64 for gradient checks).
    """

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        xp = get_array_module(data)
        if not hasattr(data, "dtype"):  # a Python number or list
            data = np.asarray(data, dtype=np.float32)
        self.data = xp.asarray(data)
        self.requires_grad = requires_grad
        self.grad = None
        self._op = None        # the Function that made this tensor (None for a leaf)
        self._ctx = None       # what that Function saved for backward
        self._parents = ()     # its inputs, None for non-tensor inputs

    # --- array-like properties -------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    device = property(lambda self: device_of(self.data))
    is_leaf = property(lambda self: self._op is None)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}, device={self.device}{grad})"

    def numpy(self):
        """The values as a NumPy array (copied from the GPU if needed)."""
        from .backend import to_numpy
        return to_numpy(self.data)

    def item(self):
        return self.data.item()

    def detach(self):
        """The same values, cut from the graph (no gradient flows through)."""
        return Tensor(self.data)

    def to(self, device):
        """A copy on ``device`` ("cpu" or "cuda"): a leaf of the graph."""
        return Tensor(to_device(self.data, device), requires_grad=self.requires_grad)

    # --- autograd ----------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        grad: d(loss)/d(self), same shape as self; may be omitted only for a one-element
        tensor (a scalar loss), where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: "
                               "no input of the ops that made it has requires_grad=True")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient works only on a scalar (one element), "
                    f"but this tensor has shape {self.shape}: reduce it first "
                    f"(e.g. loss.mean()) or pass grad= with shape {self.shape}")
            grad = xp.ones_like(self.data)
        grad = grad.data if isinstance(grad, Tensor) else xp.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape}, tensor has {self.shape}")

        backpropagate(self, grad, retain_graph)

    # --- operators (the ops live in nn/ops; imported lazily to avoid a cycle) ----------
    def __add__(self, other):
        from .ops.arithmetic import add
        return add(self, other)

    def __radd__(self, other):
        from .ops.arithmetic import add
        return add(other, self)

    def __sub__(self, other):
        from .ops.arithmetic import sub
        return sub(self, other)

    def __rsub__(self, other):
        from .ops.arithmetic import sub
        return sub(other, self)

    def __mul__(self, other):
        from .ops.arithmetic import mul
        return mul(self, other)

    def __rmul__(self, other):
        from .ops.arithmetic import mul
        return mul(other, self)

    def __truediv__(self, other):
        from .ops.arithmetic import div
        return div(self, other)

    def __rtruediv__(self, other):
        from .ops.arithmetic import div
        return div(other, self)

    def __neg__(self):
        from .ops.arithmetic import neg
        return neg(self)

    def __pow__(self, exponent):
        from .ops.arithmetic import pow
        return pow(self, exponent)

    def sum(self, axis=None, keepdims=False):
        from .ops.arithmetic import sum
        return sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        from .ops.arithmetic import mean
        return mean(self, axis, keepdims)

    def abs(self):
        from .ops.arithmetic import abs
        return abs(self)

    def exp(self):
        from .ops.arithmetic import exp
        return exp(self)

    def log(self):
        from .ops.arithmetic import log
        return log(self)

    def reshape(self, *shape):
        from .ops.shape import reshape
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape)


def _topological_order(root):
    """Nodes reachable from ``root`` that require grad, every node after its inputs.

    This is the textbook recursive depth-first search (micrograd's), written with an
    explicit stack::

        def visit(node):
            if id(node) not in visited:
                visited.add(id(node))
                for parent in node._parents:
                    visit(parent)
                order.append(node)

    Each stack entry is (node, inputs_done): popped with False, the node is marked and
    pushed back with True beneath its parents, so it is appended only after all of them.
    The stack takes the parents last-first, so the order can differ from visit's; it is
    still topological, which is all backward needs. Why not recurse: ``visit`` nests one Python
    call per op on the longest path, and Python stops at 1,000 (sys.getrecursionlimit()),
    so a chain of 1,000 ops built in a loop raises RecursionError there and works here.
    (A pix2pix step is shallower: G's loss through unet_256 and the 70x70 PatchGAN is 71
    ops deep, 128 nodes.)
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node._parents:
            if parent is not None and parent.requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


### BEGIN SOLUTION 1.2
def backpropagate(root, grad, retain_graph=False):
    """Exercise 1.2 (lesson 1, sections 3, 4 and 6). The tape behind ``Tensor.backward``.

    root: the Tensor backward starts from (it requires grad); grad: d(loss)/d(root), an
    array of root's shape. Every tensor made by an op has ``_op`` (its Function class),
    ``_ctx`` (the Context its forward filled) and ``_parents`` (its inputs, None for a
    non-tensor argument); a leaf has ``_op`` None.

    Call each op's backward exactly once, after every op that used its output has passed
    its gradient back: ``_topological_order(root)`` (given) lists the nodes, each after its
    inputs. Give each leaf that requires grad the gradient of the loss with respect to it
    in ``leaf.grad``:
      - a tensor used twice (the U-Net's skip, D on real and fake) receives the sum;
      - a leaf that already has a .grad from an earlier backward keeps it, plus the new one;
      - inputs that do not require grad, or whose gradient is None, get nothing;
      - with retain_graph=False, set each op node's ``_ctx`` to None once used (frees its
        saved arrays); a later backward through such a node raises RuntimeError.
    It must work on deep graphs (thousands of ops in a row). Returns None.
    Graded: gradients on a diamond graph, a tensor used twice, accumulation over two
    backward calls, inputs without grad, the graph freed, a deep chain.
    """
    pending = {id(root): grad}  # gradients that reached a node, not yet pushed further
    for node in reversed(_topological_order(root)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:  # a leaf: accumulate (never in place: arrays may be shared)
            node.grad = g if node.grad is None else node.grad + g
            continue
        if node._ctx is None:
            raise RuntimeError("backward() through a graph that was already freed by an "
                               "earlier backward(); pass retain_graph=True the first time")
        input_grads = node._op.backward(node._ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, pg in zip(node._parents, input_grads):
            if parent is None or pg is None or not parent.requires_grad:
                continue
            key = id(parent)
            pending[key] = pg if key not in pending else pending[key] + pg
        if not retain_graph:
            node._ctx = None  # free saved activations as soon as they are used
### END SOLUTION
