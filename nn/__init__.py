"""A small deep-learning library written from scratch on NumPy (and CuPy on a GPU).

    import nn
    import nn.functional as F

    conv = nn.Conv2d(3, 64, kernel_size=4, stride=2, padding=1)
    y = F.leaky_relu(conv(nn.Tensor(x)), 0.2)
    y.mean().backward()

Names and signatures follow PyTorch where the concept is the same.
"""
from . import functional, init  # noqa: F401
from .backend import check_device, get_array_module, gpu_available, to_device, to_numpy  # noqa
from .gradcheck import gradcheck, gradcheck_direction, rel_error  # noqa: F401
from .layers import (BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, InstanceNorm2d,  # noqa
                     LeakyReLU, ReLU, Sigmoid, SyncBatchNorm2d, Tanh)
from .module import Module, Parameter, Sequential  # noqa: F401
from .optim import SGD, Adam  # noqa: F401
from .serialization import load, save  # noqa: F401
from .tensor import Function, Tensor, no_grad  # noqa: F401
