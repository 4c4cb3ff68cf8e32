"""Elementwise arithmetic and reductions, with NumPy-style broadcasting."""
from ..backend import get_array_module
from ..tensor import Function, Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``.

    Example: x (3,) + y (2, 3) -> out (2, 3); x's gradient is grad.sum(axis=0).
    """
    if grad.shape == tuple(shape):
        return grad
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _shape(value):
    return getattr(value, "shape", ())


class AddFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(grad, sb)


class SubFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        return unbroadcast(grad, sa), unbroadcast(-grad, sb)


### BEGIN SOLUTION 1.1
class MulFunction(Function):
    """Exercise 1.1 (lesson 1, section 7). y = a * b, elementwise, with NumPy broadcasting.

    forward(ctx, a, b): a, b arrays of broadcast-compatible shapes, e.g. (2, 3) and (3,),
        or (1, C, 1, 1) and (N, C, H, W) -> y with the broadcast shape. Save what backward
        needs with ctx.save_for_backward(...); it comes back as ctx.saved.
    backward(ctx, grad): grad = dL/dy (the broadcast shape) -> (dL/da, dL/db), each with
        exactly its input's shape and dtype (``unbroadcast`` sums a gradient back to a
        shape). Return None for an input whose ``ctx.needs_input_grad[i]`` is False. a and
        b may be the same tensor (x * x): return a gradient for each argument anyway.
    Graded: forward values, both gradients (float64, random upstream), broadcasting in
    either argument, x * x, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = unbroadcast(grad * b, _shape(a)) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(grad * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
### END SOLUTION


class DivFunction(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        grad_a = unbroadcast(grad / b, _shape(a)) if ctx.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class NegFunction(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class PowFunction(Function):
    """a ** p for a constant exponent p."""

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save_for_backward(a)
        ctx.exponent = exponent
        return a ** exponent

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        p = ctx.exponent
        return grad * p * a ** (p - 1), None


class ExpFunction(Function):
    @staticmethod
    def forward(ctx, a):
        out = get_array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out


class LogFunction(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return get_array_module(a).log(a)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved
        return grad / a


class AbsFunction(Function):
    @staticmethod
    def forward(ctx, a):
        xp = get_array_module(a)
        ctx.save_for_backward(xp.sign(a))
        return xp.abs(a)

    @staticmethod
    def backward(ctx, grad):
        (sign,) = ctx.saved
        return grad * sign  # the subgradient 0 at a == 0


class SumFunction(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        if ctx.axis is not None and not ctx.keepdims:
            grad = xp.expand_dims(grad, ctx.axis)
        return xp.broadcast_to(grad, ctx.shape)


class MeanFunction(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = a.mean(axis=axis, keepdims=keepdims)
        ctx.count = a.size // max(out.size, 1)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        if ctx.axis is not None and not ctx.keepdims:
            grad = xp.expand_dims(grad, ctx.axis)
        return xp.broadcast_to(grad / ctx.count, ctx.shape)


def _tensor_or_constant(value, like):
    """Python numbers become scalars of ``like``'s dtype so float32 stays float32 (a
    NumPy scalar, not an array: on a GPU an array would be a host-to-device copy)."""
    if isinstance(value, Tensor) or hasattr(value, "dtype"):
        return value
    return like.dtype.type(value)


def _binary(op, a, b):
    if not isinstance(a, Tensor):
        a = _tensor_or_constant(a, b)
    if not isinstance(b, Tensor):
        b = _tensor_or_constant(b, a)
    return op.apply(a, b)


def add(a, b):
    return _binary(AddFunction, a, b)


def sub(a, b):
    return _binary(SubFunction, a, b)


def mul(a, b):
    return _binary(MulFunction, a, b)


def div(a, b):
    return _binary(DivFunction, a, b)


def neg(a):
    return NegFunction.apply(a)


def pow(a, exponent):
    return PowFunction.apply(a, exponent)


def exp(a):
    return ExpFunction.apply(a)


def log(a):
    return LogFunction.apply(a)


def abs(a):
    return AbsFunction.apply(a)


def sum(a, axis=None, keepdims=False):
    return SumFunction.apply(a, axis=axis, keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    return MeanFunction.apply(a, axis=axis, keepdims=keepdims)
