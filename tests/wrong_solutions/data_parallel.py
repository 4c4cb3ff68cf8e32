"""Wrong solutions of 12.1 (SyncBatchNormFunction)."""
import numpy as np

from nn.ops.syncbatchnorm import SyncBatchNormFunction

_AXES = (0, 2, 3)


def _c(v):
    return v.reshape(1, -1, 1, 1)


def _backward(ctx, grad, reduce_sum_g=True, reduce_sum_gx=True, count=None):
    """The reference backward with one of its all-reduces or its count left out."""
    x_hat, gamma, inv_std = ctx.saved
    grad_beta = grad.sum(axis=_AXES)
    grad_gamma = np.einsum("nchw,nchw->c", grad, x_hat)
    sum_g = ctx.allreduce(grad_beta) if reduce_sum_g else grad_beta
    sum_gx = ctx.allreduce(grad_gamma) if reduce_sum_gx else grad_gamma
    count = ctx.count if count is None else count
    grad_x = _c(gamma * inv_std) * (grad - _c(sum_g / count) - x_hat * _c(sum_gx / count))
    return grad_x, grad_gamma, grad_beta, None, None, None


class SyncBatchNormReducesOnlySumOfGradients(SyncBatchNormFunction):
    """Backward all-reduces sum(g) but uses this rank's own sum(g x_hat)."""
    @staticmethod
    def backward(ctx, grad):
        return _backward(ctx, grad, reduce_sum_gx=False)


class SyncBatchNormReducesOnlySumOfGradXhat(SyncBatchNormFunction):
    """Backward all-reduces sum(g x_hat) but uses this rank's own sum(g)."""
    @staticmethod
    def backward(ctx, grad):
        return _backward(ctx, grad, reduce_sum_g=False)


class SyncBatchNormLocalCountInBackward(SyncBatchNormFunction):
    """Backward divides the all-reduced sums by this rank's count, not the total."""
    @staticmethod
    def backward(ctx, grad):
        return _backward(ctx, grad, count=grad.size // grad.shape[1])


class SyncBatchNormMeanOfRankStatistics(SyncBatchNormFunction):
    """Forward averages the ranks' means and variances (a mean of means), which misses
    the spread between the ranks' means."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, allreduce, momentum=0.1,
                eps=1e-5):
        ranks = allreduce(np.ones(1))[0]
        mean = allreduce(x.mean(axis=_AXES)) / ranks
        var = allreduce(x.var(axis=_AXES)) / ranks
        count = float(allreduce(np.full(1, x.size // x.shape[1], dtype=np.float64))[0])
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * count / (count - 1)
        inv_std = 1 / np.sqrt(var + eps)
        x_hat = (x - _c(mean)) * _c(inv_std)
        ctx.save_for_backward(x_hat, gamma, inv_std)
        ctx.allreduce, ctx.count = allreduce, count
        return x_hat * _c(gamma) + _c(beta)


WRONG = {"12.1": [SyncBatchNormReducesOnlySumOfGradients, SyncBatchNormReducesOnlySumOfGradXhat,
                  SyncBatchNormLocalCountInBackward, SyncBatchNormMeanOfRankStatistics]}
