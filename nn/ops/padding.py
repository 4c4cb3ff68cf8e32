"""Padding and cropping the borders of (N, C, H, W) maps: what the ResNet generator needs
(reflection padding before its 7x7 and 3x3 convs; a transposed conv's output_padding)."""
from ..backend import get_array_module
from ..tensor import Function


class ReflectionPad2dFunction(Function):
    """Mirror p pixels at each border, the edge itself not repeated (PyTorch's
    ReflectionPad2d, numpy's mode="reflect"): [a b c d] with p = 2 -> [c b a b c d c b].

    x: (N, C, H, W) with p < H and p < W -> (N, C, H + 2p, W + 2p).
    """

    @staticmethod
    def forward(ctx, x, padding):
        ctx.padding = padding
        xp = get_array_module(x)
        return xp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                      mode="reflect")

    @staticmethod
    def backward(ctx, grad):
        # Every padded pixel is a copy of an inside one: fold its gradient back onto it,
        # first the rows (on full-width rows), then the columns.
        p = ctx.padding
        return (_fold_reflected(_fold_reflected(grad, p, axis=2), p, axis=3),)


def _fold_reflected(grad, p, axis):
    """grad of a map reflect-padded by p along axis -> grad of the map before padding."""
    inside = grad.shape[axis] - 2 * p
    index = [slice(None)] * grad.ndim

    def rows(i):  # the slice at position i along axis
        index[axis] = slice(i, i + 1)
        return tuple(index)
    index[axis] = slice(p, p + inside)
    folded = grad[tuple(index)].copy()
    for i in range(1, p + 1):
        folded[rows(i)] += grad[rows(p - i)]                          # before the start
        folded[rows(inside - 1 - i)] += grad[rows(p + inside - 1 + i)]  # after the end
    return folded


class Crop2dFunction(Function):
    """Keep rows top .. H - bottom - 1 and columns left .. W - right - 1.

    x: (N, C, H, W) -> (N, C, H - top - bottom, W - left - right); backward puts the
    gradient back in place, zeros where the border was cut.
    """

    @staticmethod
    def forward(ctx, x, top, bottom, left, right):
        ctx.shape, ctx.box = x.shape, (top, bottom, left, right)
        h, w = x.shape[2:]
        return x[:, :, top:h - bottom, left:w - right]

    @staticmethod
    def backward(ctx, grad):
        top, bottom, left, right = ctx.box
        h, w = ctx.shape[2:]
        full = get_array_module(grad).zeros(ctx.shape, dtype=grad.dtype)
        full[:, :, top:h - bottom, left:w - right] = grad
        return (full,)


def reflection_pad2d(x, padding):
    """x: (N, C, H, W) -> (N, C, H + 2p, W + 2p), borders mirrored (p < H and p < W)."""
    if x.ndim != 4 or not 0 <= padding < min(x.shape[2:]):
        raise ValueError(f"reflection_pad2d: padding {padding} needs (N, C, H, W) with H and W "
                         f"larger than it, got {tuple(x.shape)}")
    return ReflectionPad2dFunction.apply(x, padding=padding)


def crop2d(x, top, bottom, left, right):
    """x: (N, C, H, W) -> (N, C, H - top - bottom, W - left - right)."""
    if x.ndim != 4 or min(top, bottom, left, right) < 0 or (
            top + bottom >= x.shape[2] or left + right >= x.shape[3]):
        raise ValueError(f"crop2d: cannot cut ({top}, {bottom}, {left}, {right}) from "
                         f"{tuple(x.shape)}")
    return Crop2dFunction.apply(x, top=top, bottom=bottom, left=left, right=right)
