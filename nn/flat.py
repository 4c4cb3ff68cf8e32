"""All parameters of an optimiser in one flat buffer.

On a GPU every array operation is a kernel launch of 5-10 us, whatever its size: Adam
written per parameter costs a dozen launches per parameter (about 800 per pix2pix
iteration). With every parameter's values in one buffer (each ``p.data`` a view of it)
and every gradient copied into a second one, an update is a dozen whole-buffer
operations, whatever the number of parameters. On the CPU it is as fast as before.
"""
import numpy as np

from .backend import get_array_module


def flatten(arrays):
    """One new 1-d array holding ``arrays`` one after the other (a single operation)."""
    xp = get_array_module(*arrays)
    return xp.concatenate([xp.reshape(a, -1) for a in arrays])


def unflatten(buffer, shapes):
    """Views of the 1-d ``buffer``, one per shape, in ``flatten``'s order: no copy."""
    views, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        views.append(buffer[offset:offset + size].reshape(shape))
        offset += size
    return views


class FlatParameters:
    """params' values in ``self.data`` (1-d, length = their total size); ``p.data`` becomes
    a view of it, so in-place updates of the buffer are updates of the parameters."""

    def __init__(self, params):
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) > 1:
            raise ValueError(f"the parameters of one optimiser must share a dtype, got "
                             f"{sorted(str(d) for d in dtypes)}")
        self.params = params
        self.size = sum(p.data.size for p in params)           # the buffer's length
        self.data = self.zeros()
        for p, view in zip(params, self.views(self.data)):
            view[...] = p.data                         # once, when the optimiser is built
            p.data = view
        self._views = [p.data for p in params]

    @property
    def xp(self):
        return get_array_module(self.params[0].data)

    def zeros(self):
        """A zero buffer of the flat layout (for optimiser state: Adam's m and v)."""
        return self.xp.zeros(self.size, dtype=self.params[0].data.dtype)

    def views(self, buffer):
        """Per-parameter views of a flat ``buffer``, each of its parameter's shape."""
        return unflatten(buffer, [p.shape for p in self.params])

    def attached(self):
        """False once some ``p.data`` was replaced (``Module.to`` after the optimiser), or
        after a copy."""
        return self._views is not None and all(
            p.data is view for p, view in zip(self.params, self._views))

    def __getstate__(self):
        # copy.deepcopy and pickle copy each view as an array of its own, so a copy's
        # p.data is no view of its buffer: mark it detached, and the optimiser rebuilds
        # the buffers from the copied values at its next step.
        return {**self.__dict__, "_views": None}

    def gather_grads(self):
        """Every gradient, copied into one new flat array (one operation), or None if a
        parameter has no gradient this step. New each step, so that it is free memory
        again while the next backward pass runs (a GPU's pool hands the block back)."""
        if any(p.grad is None for p in self.params):
            return None
        grad = self.xp.empty(self.size, dtype=self.params[0].data.dtype)
        self.xp.concatenate([p.grad.reshape(-1) for p in self.params], out=grad)
        return grad
