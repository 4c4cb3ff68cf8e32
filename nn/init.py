"""Weight initialisers, in place, like ``torch.nn.init`` (pix2pix: N(0, 0.02))."""
import numpy as np

from .backend import get_array_module, to_device, device_of


def normal_(param, mean=0.0, std=1.0, generator=None):
    """Fill ``param`` with samples of N(mean, std^2) drawn from ``generator`` (NumPy)."""
    generator = generator if generator is not None else np.random.default_rng()
    values = generator.normal(mean, std, size=param.shape).astype(param.dtype)
    param.data[...] = to_device(values, device_of(param.data))
    return param


def constant_(param, value):
    param.data[...] = value
    return param


def zeros_(param):
    return constant_(param, 0.0)


def ones_(param):
    return constant_(param, 1.0)


def uniform_(param, low, high, generator=None):
    generator = generator if generator is not None else np.random.default_rng()
    values = generator.uniform(low, high, size=param.shape).astype(param.dtype)
    param.data[...] = get_array_module(param.data).asarray(values)
    return param


def _fans(shape):
    """(fan_in, fan_out) as torch computes them: dims 1 and 0 times the kernel size."""
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def xavier_normal_(param, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio)."""
    fan_in, fan_out = _fans(param.shape)
    return normal_(param, 0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_normal_(param, generator=None):
    """N(0, 2 / fan_in): He et al.'s init for ReLU networks (torch's a=0, mode="fan_in")."""
    fan_in, _ = _fans(param.shape)
    return normal_(param, 0.0, np.sqrt(2.0 / fan_in), generator)


def orthogonal_(param, gain=1.0, generator=None):
    """The weight, flattened to (shape[0], rest), with orthonormal rows or columns, times gain."""
    generator = generator if generator is not None else np.random.default_rng()
    rows, cols = param.shape[0], int(np.prod(param.shape[1:]))
    a = generator.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    q = q if rows >= cols else q.T
    values = (gain * q).reshape(param.shape).astype(param.dtype)
    param.data[...] = to_device(values, device_of(param.data))
    return param
