"""Weight initialisers, in place, like ``torch.nn.init`` (pix2pix: N(0, 0.02))."""
import numpy as np

from .backend import get_array_module, to_device, device_of


def normal_(param, mean=0.0, std=1.0, generator=None):
    """Fill ``param`` with samples of N(mean, std^2) drawn from ``generator`` (NumPy)."""
    generator = generator if generator is not None else np.random.default_rng()
    values = generator.normal(mean, std, size=param.shape).astype(param.dtype)
    param.data[...] = to_device(values, device_of(param.data))
    return param


def zeros_(param):
    param.data[...] = 0
    return param


def uniform_(param, low, high, generator=None):
    generator = generator if generator is not None else np.random.default_rng()
    values = generator.uniform(low, high, size=param.shape).astype(param.dtype)
    param.data[...] = get_array_module(param.data).asarray(values)
    return param
