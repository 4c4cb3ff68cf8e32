"""The layers pix2pix needs, with PyTorch's names, arguments and parameter shapes."""
import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter


def _default_init(weight, bias, fan_in, generator):
    """PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (pix2pix re-inits with N(0, 0.02))."""
    bound = 1 / math.sqrt(fan_in)
    init.uniform_(weight, -bound, bound, generator)
    if bias is not None:
        init.uniform_(bias, -bound, bound, generator)


def _check_input(layer, x, channels):
    """A clear error naming the layer when x is not (N, channels, H, W)."""
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{layer!r} expected input (N, {channels}, H, W), got {tuple(x.shape)}")


class _Conv(Module):
    """What Conv2d and ConvTranspose2d share: arguments, parameters, PyTorch's init."""
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=np.float32, generator=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        k = kernel_size
        # PyTorch's layouts; its fan-in is weight.shape[1] * k * k for both.
        shape = (in_channels, out_channels, k, k) if self.transposed else \
            (out_channels, in_channels, k, k)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        _default_init(self.weight, self.bias, shape[1] * k * k, generator)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Conv2d(_Conv):
    """x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = (H + 2p - k) // s + 1.

    weight: (out_channels, in_channels, k, k), bias: (out_channels,).
    """

    def forward(self, x):
        _check_input(self, x, self.in_channels)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class ConvTranspose2d(_Conv):
    """x: (N, in_channels, H, W) -> (N, out_channels, (H - 1) s - 2p + k, ...).

    weight: (in_channels, out_channels, k, k) (PyTorch's layout), bias: (out_channels,).
    """
    transposed = True

    def forward(self, x):
        _check_input(self, x, self.in_channels)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding)


class BatchNorm2d(Module):
    """Normalise each channel of (N, C, H, W) over N, H, W; learned scale and shift.

    Training: batch statistics, running statistics updated with ``momentum``.
    Eval: the running statistics.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x):
        _check_input(self, x, self.num_features)
        return F.batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                            self.training, self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class SyncBatchNorm2d(BatchNorm2d):
    """BatchNorm2d over the batch that several processes hold together (data parallel).

    ``allreduce(array)`` sums an array over the processes; the training code sets it
    (PyTorch's process_group). With ``allreduce`` None (one process), or in eval mode, this
    is exactly BatchNorm2d. x: (N_local, C, H, W).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32, allreduce=None):
        super().__init__(num_features, eps, momentum, dtype)
        self.allreduce = allreduce

    def forward(self, x):
        if self.allreduce is None or not self.training:
            return super().forward(x)
        _check_input(self, x, self.num_features)
        return F.sync_batch_norm(x, self.weight, self.bias, self.running_mean,
                                 self.running_var, self.allreduce, self.momentum, self.eps)


class InstanceNorm2d(Module):
    """Normalise each (sample, channel) plane of (N, C, H, W) over H, W.

    PyTorch's defaults: affine=False (no learned scale and shift, the port's choice for
    --norm instance) and no running statistics, so train and eval compute the same.
    """

    def __init__(self, num_features, eps=1e-5, affine=False, dtype=np.float32):
        super().__init__()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None

    def forward(self, x):
        _check_input(self, x, self.num_features)
        return F.instance_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class Dropout(Module):
    """Zero elements with probability ``p`` while training (scaling the rest by 1/(1-p)).

    generator: a ``numpy.random.Generator`` for the masks (pass one to repeat runs).
    """

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p is the probability of dropping, in [0, 1); got {p}")
        self.p = p
        self.generator = generator if generator is not None else np.random.default_rng()

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"
