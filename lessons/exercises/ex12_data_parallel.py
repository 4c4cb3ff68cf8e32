"""Exercise 12.1 (lesson 12_data_parallel.py): synchronized batch normalisation.

Grade it with:   python -m pytest --exercise 12.1
The library's version is ``nn.ops.syncbatchnorm.SyncBatchNormFunction``. Use
``xp = get_array_module(x)`` instead of ``np`` so that the same code runs on a GPU.
"""
import numpy as np  # noqa: F401

from nn.backend import get_array_module  # noqa: F401
from nn.tensor import Function


class SyncBatchNormFunction(Function):
    """Exercise 12.1 (lesson 12). Training-mode batch norm over the batch that all ranks
    hold together: y = gamma * (x - mean) / sqrt(var + eps) + beta.

    forward(ctx, x, gamma, beta, running_mean, running_var, allreduce, momentum=0.1,
            eps=1e-5):
        x: this rank's (N_r, C, H, W); gamma, beta: (C,); running_mean, running_var: (C,)
        arrays or None -> y: (N_r, C, H, W), where mean and the biased var are per channel
        over EVERY rank's values. allreduce(a) returns the element-wise sum of the array a
        over the ranks (each rank passes an array of the same shape): all-reduce sums,
        never averages of per-rank statistics (section 3). Raise ValueError if all ranks
        together hold fewer than 2 values per channel. If running_mean is not None,
        update it and running_var IN PLACE as BatchNorm does (momentum; unbiased variance
        over the whole count), so that every rank keeps the same running statistics.
    backward(ctx, grad): grad = dL/dy on this rank ->
        (grad_x, grad_gamma, grad_beta, None, None, None). grad_x accounts for every
        rank's values through the shared mean and variance (section 4); grad_gamma and
        grad_beta are this rank's part only (the data-parallel gradient average adds the
        ranks' parts). Eval mode is plain batch_norm with the running statistics.
    Graded: with 2 and 3 ranks (threads) against batch norm on the whole batch, the
    outputs, dx, dgamma and dbeta, the running statistics; a gradient check with one
    rank; the error for one value per channel.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, allreduce,
                momentum=0.1, eps=1e-5):
        raise NotImplementedError("Exercise 12.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 12.1")
