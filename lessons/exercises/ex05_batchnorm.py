"""Exercise 5.1 (lesson 05_batch_normalisation.py): the batch normalisation op.

Grade it with:   python -m pytest --exercise 5.1
The library's version is ``nn.ops.batchnorm.BatchNormFunction``. Use
``xp = get_array_module(x)`` instead of ``np`` so that the same code runs on a GPU.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.tensor import Function


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
        raise NotImplementedError("Exercise 5.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 5.1")
