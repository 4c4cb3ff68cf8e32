"""Wrong solutions of 1.1 (Mul), 1.2 (the tape) and 2.1 (the numerical gradient)."""
import numpy as np

from nn.ops.arithmetic import MulFunction, unbroadcast
from nn.tensor import _topological_order


class MulNoUnbroadcast(MulFunction):
    """Returns grad * b without summing back to a's shape (broadcasting forgotten)."""
    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * b, grad * a


class MulSwapsTheFactors(MulFunction):
    """dL/da = grad * a (the factor of the wrong input)."""
    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return unbroadcast(grad * a, np.shape(a)), unbroadcast(grad * b, np.shape(b))


class MulForgetsTheUpstream(MulFunction):
    """dL/da = b, as if the upstream gradient were always 1."""
    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        ones = np.ones_like(grad)
        return unbroadcast(ones * b, np.shape(a)), unbroadcast(ones * a, np.shape(b))


def _run(order, root, grad, retain_graph, combine):
    pending = {id(root): grad}
    for node in order:
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if node._op is None:
            node.grad = combine(node.grad, g)
            continue
        if node._ctx is None:
            raise RuntimeError("graph freed")
        grads = node._op.backward(node._ctx, g)
        grads = grads if isinstance(grads, tuple) else (grads,)
        for parent, pg in zip(node._parents, grads):
            if parent is not None and pg is not None and parent.requires_grad:
                pending[id(parent)] = combine(pending.get(id(parent)), pg)
        if not retain_graph:
            node._ctx = None


def tape_overwrites_gradients(root, grad, retain_graph=False):
    """g = new instead of g += new (early tinygrad): a tensor used twice loses a gradient."""
    _run(list(reversed(_topological_order(root))), root, grad, retain_graph,
         lambda old, new: new)


def tape_in_forward_order(root, grad, retain_graph=False):
    """Walks the topological order forwards: inputs are visited before the ops using them."""
    _run(_topological_order(root), root, grad, retain_graph,
         lambda old, new: new if old is None else old + new)


def tape_resets_leaf_gradients(root, grad, retain_graph=False):
    """Accumulates within one backward but overwrites what an earlier backward left."""
    seen = set()

    def combine(old, new):
        return new if old is None else old + new
    order = list(reversed(_topological_order(root)))
    for node in order:
        if node._op is None and id(node) not in seen:
            node.grad, _ = None, seen.add(id(node))
    _run(order, root, grad, retain_graph, combine)


def _add_in_place(old, new):
    if old is None:
        return new
    old += new
    return old


def tape_accumulates_in_place(root, grad, retain_graph=False):
    """pending += new, in place: the array it adds into may be another node's gradient
    too (an add passes one array to both inputs) or the caller's, so on a diamond graph
    (u = x + y; v = u + x) one gradient is counted twice."""
    _run(list(reversed(_topological_order(root))), root, grad, retain_graph, _add_in_place)


def tape_never_frees(root, grad, retain_graph=False):
    """Ignores retain_graph: the graph is never freed."""
    _run(list(reversed(_topological_order(root))), root, grad, True,
         lambda old, new: new if old is None else old + new)


def numerical_gradient_one_sided(f, x, positions, eps=1e-6):
    """Forward difference (f(x + eps) - f(x)) / eps: error O(eps), not O(eps^2)."""
    out = np.empty(len(positions))
    for n, pos in enumerate(positions):
        base = f()
        keep = x[pos]
        x[pos] = keep + eps
        out[n] = (f() - base) / eps
        x[pos] = keep
    return out


def numerical_gradient_no_restore(f, x, positions, eps=1e-6):
    """Leaves x at x - eps after each position."""
    out = np.empty(len(positions))
    for n, pos in enumerate(positions):
        keep = x[pos]
        x[pos] = keep + eps
        plus = f()
        x[pos] = keep - eps
        out[n] = (plus - f()) / (2 * eps)
    return out


def numerical_gradient_divides_by_eps(f, x, positions, eps=1e-6):
    """Centered difference divided by eps instead of 2 eps: twice the derivative."""
    out = np.empty(len(positions))
    for n, pos in enumerate(positions):
        keep = x[pos]
        x[pos] = keep + eps
        plus = f()
        x[pos] = keep - eps
        out[n] = (plus - f()) / eps
        x[pos] = keep
    return out


def numerical_gradient_restores_by_adding(f, x, positions, eps=1e-6):
    """Restores x with x += eps, which is not exact in floating point."""
    out = np.empty(len(positions))
    for n, pos in enumerate(positions):
        x[pos] += eps
        plus = f()
        x[pos] -= 2 * eps
        out[n] = (plus - f()) / (2 * eps)
        x[pos] += eps
    return out


WRONG = {
    "1.1": [MulNoUnbroadcast, MulSwapsTheFactors, MulForgetsTheUpstream],
    "1.2": [tape_overwrites_gradients, tape_in_forward_order, tape_resets_leaf_gradients,
            tape_never_frees, tape_accumulates_in_place],
    "2.1": [numerical_gradient_one_sided, numerical_gradient_no_restore,
            numerical_gradient_divides_by_eps, numerical_gradient_restores_by_adding],
}
