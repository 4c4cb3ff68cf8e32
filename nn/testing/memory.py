"""The stand-in's memory pool: bytes held by live device arrays, their peak, a limit.

Real CuPy keeps freed blocks in a pool; ``total_bytes()`` is what the pool holds, which
stays at the peak until ``free_all_blocks()``. ``set_limit(size=...)`` makes a larger
allocation raise ``OutOfMemoryError``, as a full GPU would.
"""
import weakref


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError: a MemoryError, as in CuPy."""

    def __init__(self, size, total, limit=0):
        super().__init__(f"Out of memory allocating {size:,} bytes "
                         f"(allocated so far: {total:,} bytes, limit set to: {limit:,} bytes).")


class MemoryPool:
    def __init__(self):
        self._live = {}                 # id(root buffer) -> bytes
        self._used = self._peak = 0
        self._limit = 0

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return self._peak

    def free_all_blocks(self):
        self._peak = self._used

    def set_limit(self, size=None, fraction=None):
        self._limit = int(size or 0)

    def get_limit(self):
        return self._limit

    def track(self, array):
        """Count the buffer behind ``array`` (a NumPy array) while it lives."""
        root = array
        while root.base is not None and hasattr(root.base, "nbytes"):
            root = root.base
        key = id(root)
        if key in self._live or root.nbytes == 0:
            return
        if self._limit and self._used + root.nbytes > self._limit:
            raise OutOfMemoryError(root.nbytes, self._used, self._limit)
        self._live[key] = root.nbytes
        self._used += root.nbytes
        self._peak = max(self._peak, self._used)
        weakref.finalize(root, self._release, key)

    def _release(self, key):
        self._used -= self._live.pop(key, 0)


_pool = MemoryPool()


def get_default_memory_pool():
    return _pool
