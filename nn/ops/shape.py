"""Ops that move values around without changing them: reshape, concatenation."""
from ..backend import get_array_module
from ..tensor import Function, Tensor


class ReshapeFunction(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class ConcatenateFunction(Function):
    """Join tensors along ``axis``; backward hands each input its slice of the gradient."""

    @staticmethod
    def forward(ctx, *arrays, axis=1):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return get_array_module(*arrays).concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        grads, start = [], 0
        for size in ctx.sizes:
            index = [slice(None)] * grad.ndim
            index[ctx.axis] = slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


def reshape(a, shape):
    return ReshapeFunction.apply(a, tuple(shape))


def cat(tensors, dim=1):
    """Concatenate along ``dim`` (channels by default: the U-Net skip and D's input pair).

    tensors: (N, C_i, H, W) each -> (N, sum C_i, H, W).
    """
    tensors = list(tensors)
    ref = tensors[0]
    for i, t in enumerate(tensors[1:], start=1):
        same = [s for d, s in enumerate(t.shape) if d != dim % t.ndim]
        want = [s for d, s in enumerate(ref.shape) if d != dim % ref.ndim]
        if t.ndim != ref.ndim or same != want:
            raise ValueError(f"cat: tensor {i} has shape {t.shape}, tensor 0 has {ref.shape}; "
                             f"all sizes except dim {dim} must match")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return ConcatenateFunction.apply(*tensors, axis=dim)
