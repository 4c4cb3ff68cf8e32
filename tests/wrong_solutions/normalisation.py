"""Wrong solutions of 5.1 (BatchNormFunction)."""
import numpy as np

from nn.ops.batchnorm import BatchNormFunction

_AXES = (0, 2, 3)


def _c(v):
    return v.reshape(1, -1, 1, 1)


class BatchNormMissingMeanTerm(BatchNormFunction):
    """Training backward without the mean(g) term (the batch mean treated as a constant)."""
    @staticmethod
    def backward(ctx, grad):
        x_hat, gamma, inv_std = ctx.saved
        grad_x, grad_gamma, grad_beta, a, b = BatchNormFunction.backward(ctx, grad)
        if ctx.training:
            grad_x = grad_x + _c(gamma * inv_std * grad.mean(axis=_AXES))
        return grad_x, grad_gamma, grad_beta, a, b


class BatchNormEvalWithoutSqrt(BatchNormFunction):
    """Eval mode divides by (var + eps) instead of its square root."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        if training:
            return BatchNormFunction.forward(ctx, x, gamma, beta, running_mean, running_var,
                                             training, momentum, eps)
        std = np.sqrt(running_var + eps)
        return BatchNormFunction.forward(ctx, x, gamma, beta, running_mean,
                                         std * std * std * std - eps, False, momentum, eps)


class BatchNormBiasedRunningVariance(BatchNormFunction):
    """Running variance updated with the biased (divide by n) batch variance."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        out = BatchNormFunction.forward(ctx, x, gamma, beta, running_mean, running_var,
                                        training, momentum, eps)
        if training and running_var is not None:
            n = x.size // x.shape[1]
            running_var -= momentum * x.var(axis=_AXES) * (n / (n - 1) - 1)
        return out


class BatchNormMomentumFlipped(BatchNormFunction):
    """running = momentum * running + (1 - momentum) * batch (Keras' convention)."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        return BatchNormFunction.forward(ctx, x, gamma, beta, running_mean, running_var,
                                         training, 1 - momentum, eps)


class BatchNormEvalBackwardAsTraining(BatchNormFunction):
    """Eval-mode backward by the training formula, as if the running statistics were x's."""
    @staticmethod
    def backward(ctx, grad):
        ctx.training = True
        return BatchNormFunction.backward(ctx, grad)


class BatchNormStatisticsInFloat64(BatchNormFunction):
    """The statistics of a float32 batch computed in float64 (x.astype(float64).mean()):
    the output and the running statistics come back float64."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        return BatchNormFunction.forward(ctx, x.astype(np.float64), gamma, beta, running_mean,
                                         running_var, training, momentum, eps)


class BatchNormIgnoresMomentum(BatchNormFunction):
    """The momentum argument ignored: PyTorch's default 0.1 always."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        return BatchNormFunction.forward(ctx, x, gamma, beta, running_mean, running_var,
                                         training, 0.1, eps)


class BatchNormRefusesOnePixelMaps(BatchNormFunction):
    """Refuses a (N, C, 1, 1) batch as if it had one value per channel; N of them is valid."""
    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        if training and x.shape[2] * x.shape[3] < 2:
            raise ValueError("batch_norm: one value per channel")
        return BatchNormFunction.forward(ctx, x, gamma, beta, running_mean, running_var,
                                         training, momentum, eps)


WRONG = {"5.1": [BatchNormMissingMeanTerm, BatchNormEvalWithoutSqrt,
                 BatchNormBiasedRunningVariance, BatchNormMomentumFlipped,
                 BatchNormEvalBackwardAsTraining, BatchNormStatisticsInFloat64,
                 BatchNormIgnoresMomentum, BatchNormRefusesOnePixelMaps]}
