"""Exercise 5.1 (lesson 05_batch_normalisation.py): the batch normalisation op.

Grade it with:   python -m pytest --exercise 5.1
The reference is ``nn.ops.batchnorm.BatchNormFunction``. Use ``xp = get_array_module(x)``
instead of ``np`` so that the same code runs on a GPU.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.tensor import Function


class BatchNormFunction(Function):
    """Exercise 5.1. y = gamma * (x - mean) / sqrt(var + eps) + beta, per channel.

    forward(ctx, x, gamma, beta, running_mean=None, running_var=None, training=True,
            momentum=0.1, eps=1e-5):
        x: (N, C, H, W); gamma, beta, running_mean, running_var: (C,) -> y: (N, C, H, W).
      Training: mean and biased var of each channel over axes (0, 2, 3) (n = N*H*W values
        each; raise ValueError if n < 2). If running_mean is not None, update the running
        statistics IN PLACE (running_mean[...] = ..., or *= and +=):
            running_mean = (1 - momentum) * running_mean + momentum * mean
            running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)
      Eval (training=False): mean, var = running_mean, running_var; update nothing.
      Save x_hat = (x - mean) / sqrt(var + eps), gamma and 1/sqrt(var + eps) for backward:
      they are all it needs.

    backward(ctx, grad): grad = dL/dy, (N, C, H, W). Return
    (grad_x, grad_gamma, grad_beta, None, None), per channel:
        grad_beta  = sum of grad over (0, 2, 3)
        grad_gamma = sum of grad * x_hat over (0, 2, 3)
        training:  grad_x = gamma / sigma * (grad - mean(grad) - x_hat * mean(grad * x_hat))
        eval:      grad_x = gamma / sigma * grad
    (means over (0, 2, 3); sigma = sqrt(var + eps)). Lesson 2 shows why the test checks
    this with a random upstream gradient, never all ones.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean=None, running_var=None,
                training=True, momentum=0.1, eps=1e-5):
        raise NotImplementedError("Exercise 5.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 5.1")
