"""Every op as a plain function, like ``torch.nn.functional`` (``import nn.functional as F``)."""
from .ops.activations import dropout, leaky_relu, relu, sigmoid, tanh  # noqa: F401
from .ops.arithmetic import abs, add, div, exp, log, mean, mul, neg, pow, sub, sum  # noqa: F401
from .ops.batchnorm import batch_norm  # noqa: F401
from .ops.instancenorm import instance_norm  # noqa: F401
from .ops.conv import conv2d, conv_transpose2d  # noqa: F401
from .ops.losses import binary_cross_entropy_with_logits, l1_loss, mse_loss  # noqa: F401
from .ops.shape import cat, reshape  # noqa: F401
from .ops.syncbatchnorm import sync_batch_norm  # noqa: F401
