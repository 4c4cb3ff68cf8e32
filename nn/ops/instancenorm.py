"""Instance normalisation: each (sample, channel) plane of (N, C, H, W) normalised on its own."""
from ..backend import get_array_module
from ..tensor import Function

_PLANE = (2, 3)  # statistics over H, W only: per sample and per channel


def _per_channel(v):
    return v.reshape(1, -1, 1, 1)


class InstanceNormFunction(Function):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and (biased) var of each plane.

    x: (N, C, H, W); gamma, beta: (C,) or None (PyTorch's affine=False, the port's choice).
    Unlike batch norm there are no running statistics: training and test compute the same.
    """

    @staticmethod
    def forward(ctx, x, gamma=None, beta=None, eps=1e-5):
        xp = get_array_module(x)
        if x.shape[2] * x.shape[3] < 2:
            raise ValueError(f"instance_norm needs more than 1 value per plane, got input of "
                             f"shape {tuple(x.shape)}")
        x_hat = x - x.mean(axis=_PLANE, keepdims=True)
        var = xp.einsum("nchw,nchw->nc", x_hat, x_hat) / (x.shape[2] * x.shape[3])
        inv_std = (1 / xp.sqrt(var + eps))[:, :, None, None]        # (N, C, 1, 1)
        x_hat *= inv_std
        ctx.save_for_backward(x_hat, gamma, inv_std)
        if gamma is None:
            return x_hat.copy()  # x_hat is kept for backward; the output may be changed
        out = x_hat * _per_channel(gamma)
        out += _per_channel(beta)
        return out

    @staticmethod
    def backward(ctx, grad):
        x_hat, gamma, inv_std = ctx.saved
        grad_gamma = grad_beta = None
        if gamma is not None:
            grad_beta = grad.sum(axis=(0, 2, 3))
            grad_gamma = (grad * x_hat).sum(axis=(0, 2, 3))
            grad = grad * _per_channel(gamma)
        # As for batch norm, but per plane: the plane's mean and variance depend on x, so
        # dx = 1/sigma * (g - mean(g) - x_hat * mean(g * x_hat)), means over H, W.
        mean_g = grad.mean(axis=_PLANE, keepdims=True)
        mean_gx = (grad * x_hat).mean(axis=_PLANE, keepdims=True)
        grad_x = (grad - mean_g - x_hat * mean_gx) * inv_std
        return grad_x, grad_gamma, grad_beta


def instance_norm(x, weight=None, bias=None, eps=1e-5):
    """Functional instance norm (PyTorch's F.instance_norm without running statistics)."""
    return InstanceNormFunction.apply(x, weight, bias, eps=eps)
