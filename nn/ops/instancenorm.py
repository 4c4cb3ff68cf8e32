"""Instance normalisation: each (sample, channel) plane of (N, C, H, W) normalised on its own."""
from ..backend import get_array_module
from ..tensor import Function
from .batchnorm import BatchNormFunction


def _per_channel(v):
    return v.reshape(1, -1, 1, 1)


class InstanceNormFunction(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and (biased) var of each plane.

    x: (N, C, H, W); gamma, beta: (C,) or None (PyTorch's affine=False, the port's choice).
    Unlike batch norm there are no running statistics: training and test compute the same.
    Normalising each plane on its own is batch norm in training mode of x seen as one
    sample with N*C channels, (1, N*C, H, W): both ways run BatchNormFunction (with
    gamma 1 and beta 0), so there is one normalisation backward to derive (exercise 5.1).
    """

    @staticmethod
    def forward(ctx, x, gamma=None, beta=None, eps=1e-5):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        if h * w < 2:
            raise ValueError(f"instance_norm needs more than 1 value per plane, got input of "
                             f"shape {tuple(x.shape)}")
        ones, zeros = xp.ones(n * c, dtype=x.dtype), xp.zeros(n * c, dtype=x.dtype)
        x_hat = BatchNormFunction.forward(ctx, x.reshape(1, n * c, h, w), ones, zeros,
                                          eps=eps).reshape(x.shape)
        ctx.instance_affine = (x_hat, gamma)    # BatchNormFunction owns ctx.saved
        if gamma is None:
            return x_hat.copy()  # x_hat is kept for backward; the output may be changed
        out = x_hat * _per_channel(gamma)
        out += _per_channel(beta)
        return out

    @staticmethod
    def backward(ctx, grad):
        x_hat, gamma = ctx.instance_affine
        grad_gamma = grad_beta = None
        if gamma is not None:
            grad_beta = grad.sum(axis=(0, 2, 3))
            grad_gamma = (grad * x_hat).sum(axis=(0, 2, 3))
            grad = grad * _per_channel(gamma)
        n, c, h, w = grad.shape
        grad_x = BatchNormFunction.backward(ctx, grad.reshape(1, n * c, h, w))[0]
        return grad_x.reshape(grad.shape), grad_gamma, grad_beta


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Functional instance norm (PyTorch's F.instance_norm without running statistics)."""
    return InstanceNormFunction.apply(x, weight, bias, eps=eps)
