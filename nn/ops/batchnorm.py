"""Batch normalisation over (N, H, W) for each channel of an (N, C, H, W) input."""
from ..backend import fuse, get_array_module
from ..tensor import Function

_AXES = (0, 2, 3)  # every axis but the channel axis


def _per_channel(v):
    return v.reshape(1, -1, 1, 1)


### BEGIN SOLUTION 5.1
class BatchNormFunction(Function):
    """Exercise 5.1 (lesson 5). Normalise each channel, then scale by gamma and shift by beta.

    forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
            momentum=0.1, eps=1e-5):
        x: (N, C, H, W); gamma, beta, running_mean, running_var: (C,) -> y: (N, C, H, W),
        y = gamma * (x - mean) / sqrt(var + eps) + beta per channel, where
      training=True: mean and variance are those of this batch, per channel over the
        N*H*W values (the biased variance, as PyTorch normalises). Raise ValueError if a
        channel has fewer than 2 values. If running_mean is not None, update running_mean
        and running_var IN PLACE (the caller keeps these arrays), PyTorch's way:
        new = (1 - momentum) * old + momentum * batch statistic, with the UNBIASED
        variance for running_var (section 2).
      training=False: mean and variance are running_mean and running_var; update nothing.
    backward(ctx, grad): grad = dL/dy -> (grad_x, grad_gamma, grad_beta, None, None), for
        both modes. In training mode the batch statistics depend on x (section 1b derives
        the consequence).
    Graded: forward values in training and in eval mode, the running mean and variance,
    every gradient in both modes (float64, random upstream gradient), batch size 1,
    the error for one value per channel.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        if training:
            count = x.size // x.shape[1]
            if count < 2:
                raise ValueError(f"batch_norm: training needs more than 1 value per channel, "
                                 f"got input of shape {tuple(x.shape)}")
            mean = x.mean(axis=_AXES)
            x_hat = x - _per_channel(mean)
            # sum of squares per channel without a temporary array for the squares
            var = xp.einsum("nchw,nchw->c", x_hat, x_hat) / count
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            mean, var = running_mean, running_var
            x_hat = x - _per_channel(mean)
        inv_std = 1 / xp.sqrt(var + eps)
        x_hat *= _per_channel(inv_std)  # in place: x - mean is not needed any more
        ctx.save_for_backward(x_hat, gamma, inv_std)
        ctx.training = training
        out = x_hat * _per_channel(gamma)
        out += _per_channel(beta)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        x_hat, gamma, inv_std = ctx.saved
        grad_beta = grad.sum(axis=_AXES)
        grad_gamma = xp.einsum("nchw,nchw->c", grad, x_hat)
        scale = _per_channel(gamma * inv_std)
        if ctx.training:
            # The batch mean and variance depend on x too, which removes from the
            # gradient its mean and its projection onto x_hat:
            # dx = gamma/sigma * (g - mean(g) - x_hat * mean(g * x_hat)).
            # One new array, then three in-place passes (no temporaries).
            count = grad.size // grad.shape[1]
            grad_x = x_hat * _per_channel(-grad_gamma / count)
            grad_x += grad
            grad_x -= _per_channel(grad_beta / count)
            grad_x *= scale
        else:
            grad_x = grad * scale
        return grad_x, grad_gamma, grad_beta, None, None
### END SOLUTION


### BEGIN FAST 5.1: FusedBatchNormFunction = BatchNormFunction
# The per-channel statistics enter the fused kernels as sums: 1/sigma = 1/sqrt(sum_sq/count
# + eps) is computed inside them (on NumPy at its own (1, C, 1, 1) size, as written).
@fuse
def _moving_average(xp, old, new, scale, momentum):
    """PyTorch's running statistic: (1 - momentum) * old + momentum * (scale * new)."""
    return old * (1 - momentum) + new * scale * momentum


@fuse
def _normalise(xp, x_centered, sum_sq, inv_count, eps, gamma, beta):
    """gamma * (x - mean) / sigma + beta, sigma^2 = sum_sq * inv_count + eps."""
    return x_centered * (gamma / xp.sqrt(sum_sq * inv_count + eps)) + beta


@fuse
def _gamma_grad(xp, grad_dot, sum_sq, inv_count, eps):
    """dL/dgamma = sum of g * x_hat = sum of g * (x - mean) / sigma."""
    return grad_dot / xp.sqrt(sum_sq * inv_count + eps)


@fuse
def _batch_grad_x(xp, grad, x_centered, gamma, sum_sq, inv_count, eps, grad_sum, grad_dot,
                  batch_inv_count):
    """gamma/sigma * (g - mean(g) - x_hat * mean(g * x_hat)) with x_hat = (x - mean)/sigma:
    mean(g) = grad_sum / count, x_hat * mean(g * x_hat) = (x - mean) * grad_dot / sigma^2 /
    count (batch_inv_count = 1 / count in training, 0 in eval mode, where the statistics
    are constants). NumPy evaluates the per-channel products at their own small size."""
    var = sum_sq * inv_count + eps
    return (gamma / xp.sqrt(var)) * (grad - grad_sum * batch_inv_count
                                     - x_centered * (grad_dot / var * batch_inv_count))


class FusedBatchNormFunction(Function):
    """BatchNormFunction's numbers in fewer device operations (tested equal in
    tests/nn/test_fused_forms.py): the training forward is a mean, one subtraction, one
    sum of squares and one fused normalise-scale-shift (plus two small fused kernels and
    their copies for the running statistics); the backward two sums and two fused
    kernels. It saves x - mean and the sum of squares, not x_hat: no pass normalises twice."""

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        xp = get_array_module(x)
        if training:
            count = x.size // x.shape[1]
            if count < 2:
                raise ValueError(f"batch_norm: training needs more than 1 value per channel, "
                                 f"got input of shape {tuple(x.shape)}")
            mean = x.mean(axis=_AXES)
            x_centered = x - _per_channel(mean)
            sum_sq, inv_count = xp.einsum("nchw,nchw->c", x_centered, x_centered), 1 / count
            if running_mean is not None:
                running_mean[...] = _moving_average(running_mean, mean, 1, momentum)
                running_var[...] = _moving_average(running_var, sum_sq, 1 / (count - 1),
                                                   momentum)
        else:  # running_var plays sum_sq with a count of 1
            x_centered, sum_sq, inv_count = x - _per_channel(running_mean), running_var, 1
        ctx.save_for_backward(x_centered, gamma, sum_sq)
        ctx.training, ctx.inv_count, ctx.eps = training, inv_count, eps
        return _normalise(x_centered, _per_channel(sum_sq), inv_count, eps, _per_channel(gamma),
                          _per_channel(beta))

    @staticmethod
    def backward(ctx, grad):
        xp = get_array_module(grad)
        x_centered, gamma, sum_sq = ctx.saved
        grad_beta = grad.sum(axis=_AXES)
        grad_dot = xp.einsum("nchw,nchw->c", grad, x_centered)    # sum of g * (x - mean)
        batch_inv_count = ctx.inv_count if ctx.training else 0   # eval: nothing to remove
        grad_x = _batch_grad_x(grad, x_centered, _per_channel(gamma), _per_channel(sum_sq),
                               ctx.inv_count, ctx.eps, _per_channel(grad_beta),
                               _per_channel(grad_dot), batch_inv_count)
        grad_gamma = _gamma_grad(grad_dot, sum_sq, ctx.inv_count, ctx.eps)
        return grad_x, grad_gamma, grad_beta, None, None
### END FAST


def batch_norm(x, weight, bias, running_mean=None, running_var=None, training=True,
               momentum=0.1, eps=1e-5):
    """Functional batch norm (PyTorch's argument order). Running stats are plain arrays."""
    return FusedBatchNormFunction.apply(x, weight, bias, running_mean, running_var,
                                   training=training, momentum=momentum, eps=eps)
