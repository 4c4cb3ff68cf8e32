"""The strict CuPy stand-in refuses what CuPy refuses, accepts what it accepts, and counts
what a GPU pays for. Each refusal below is one real CuPy makes (CuPy 13's source)."""
import io
import json
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from nn.testing import names, strict_cupy as cp


@pytest.fixture
def dev():
    cp.reset_counts()
    return cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))


def test_no_implicit_conversion_to_the_host(dev):
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
        np.asarray(dev)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.array([dev, dev])
    with pytest.raises((TypeError, AttributeError)):   # no __array_interface__
        Image.fromarray(dev)
    with pytest.raises(TypeError):
        memoryview(dev)                                # no buffer protocol
    assert not hasattr(dev, "__array_interface__")
    assert not isinstance(dev, np.ndarray)             # wraps, never subclasses


@pytest.mark.parametrize("mix", [lambda d, h: d + h, lambda d, h: h + d, lambda d, h: h * d,
                                 lambda d, h: np.add(d, h), lambda d, h: np.matmul(h, d.T),
                                 lambda d, h: np.concatenate([d, h]),
                                 lambda d, h: np.add(d, d, out=h)],
                         ids=["dev+host", "host+dev", "host*dev", "np.add", "matmul",
                              "concatenate", "out=host"])
def test_host_and_device_arrays_do_not_mix(dev, mix):
    with pytest.raises(TypeError):
        mix(dev, np.ones((2, 3), np.float32))


def test_scalars_mix_and_float32_stays(dev):
    for scalar in (2.0, 3, np.float32(2), np.float64(0.5), True):
        out = dev * scalar + scalar
        assert isinstance(out, cp.ndarray)
    assert (dev * np.float32(2)).dtype == np.float32


def test_names_real_cupy_lacks_are_refused(dev):
    assert "nanpercentile" not in names.FUNCTIONS and hasattr(np, "nanpercentile")
    with pytest.raises(AttributeError, match="module 'cupy' has no attribute"):
        cp.nanpercentile
    with pytest.raises(TypeError, match="no implementation found"):
        np.nanpercentile(dev, 50)                      # __array_function__: NotImplemented
    with pytest.raises(AttributeError, match="'cupy.ndarray' object has no attribute"):
        dev.resize                                     # NumPy's ndarray has it, CuPy's not


def test_what_cupy_accepts_runs_on_the_device(dev):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    results = {"exp": (np.exp(dev), np.exp(host)),
               "concatenate": (np.concatenate([dev, dev]), np.concatenate([host, host])),
               "cp.matmul": (cp.matmul(dev, dev.T), host @ host.T),
               "reshape": (dev.reshape(3, 2), host.reshape(3, 2)),
               "einsum": (cp.einsum("ij,kj->ik", dev, dev), np.einsum("ij,kj->ik", host, host)),
               "add.at": (_add_at(dev), _add_at(host))}
    for name, (ours, numpy) in results.items():
        assert isinstance(ours, cp.ndarray), name
        np.testing.assert_array_equal(cp.asnumpy(ours), numpy, err_msg=name)


def _add_at(a):
    out = (cp if isinstance(a, cp.ndarray) else np).zeros(3, a.dtype)
    (cp if isinstance(a, cp.ndarray) else np).add.at(out, [0, 0, 2], a[0])
    return out


def test_reductions_and_indexing_stay_on_the_device(dev):
    for value in (dev.sum(), np.mean(dev), dev.max(), dev[0, 1], dev[1][2], cp.sqrt(dev)[0, 0]):
        assert isinstance(value, cp.ndarray) and value.shape == ()
    assert cp.counts.totals()["syncs"] == 0


def test_reads_back_are_counted_per_call_site(dev):
    total = dev.sum()
    float(total), total.item(), dev.tolist(), dev.get(), cp.asnumpy(dev)
    if total > 0:                                      # bool(): a sync too
        pass
    syncs = cp.counts.syncs
    assert sum(syncs.values()) == 6
    assert all(site.startswith("tests/nn/testing/test_strict_cupy.py:") for site in syncs)
    assert len(syncs) == 2                             # two lines of this file read back


def test_host_to_device_copies_and_launches_are_counted(dev):
    assert sum(cp.counts.host_to_device.values()) == 1  # the fixture's asarray
    cp.reset_counts()
    cp.asarray(dev)                                    # already there: no copy
    view = dev.T.reshape(6)[::2]                       # views: no launch
    assert cp.counts.totals() == {"launches": 1, "syncs": 0, "host_to_device": 0}
    assert cp.counts.launches == {"reshape": 1}        # .T is not contiguous: a copy
    cp.reset_counts()
    view = dev.reshape(6)[::2]
    assert cp.counts.totals()["launches"] == 0 and view.shape == (3,)
    dev * 2 + 1
    assert dict(cp.counts.launches) == {"multiply": 1, "add": 1}


def test_empty_like_is_a_device_array_shaped_like_its_argument_and_devices_can_be_used(dev):
    cp.reset_counts()
    out = cp.empty_like(dev)
    out[...] = 3.0                                     # writable device memory
    assert isinstance(out, cp.ndarray) and out.shape == dev.shape and out.dtype == dev.dtype
    assert cp.counts.launches == {"setitem": 1}        # handing out memory is no kernel
    cp.cuda.Device(0).use()                            # one process per GPU picks its own


def test_fuse_is_one_launch(dev):
    @cp.fuse()
    def affine(x, a, b):
        return x * a + b
    cp.reset_counts()
    out = affine(dev, 2.0, 1.0)
    assert dict(cp.counts.launches) == {"fuse:affine": 1}
    np.testing.assert_array_equal(cp.asnumpy(out), np.arange(6).reshape(2, 3) * 2 + 1)


def test_savez_and_pickle_copy_to_the_host_as_cupy_does(dev):
    """CuPy's __array_function__ sends np.savez to cupy.savez, which copies to the host;
    pickling a CuPy array does the same: allowed, each a counted sync."""
    f = io.BytesIO()
    np.savez(f, a=dev)
    f.seek(0)
    np.testing.assert_array_equal(np.load(f)["a"], np.arange(6).reshape(2, 3))
    back = pickle.loads(pickle.dumps(dev))
    assert isinstance(back, cp.ndarray)
    assert sum(cp.counts.syncs.values()) == 2


def test_a_full_pool_raises_cupys_out_of_memory_error(dev):
    pool = cp.get_default_memory_pool()
    pool.set_limit(size=pool.used_bytes() + 100)
    try:
        with pytest.raises(cp.cuda.memory.OutOfMemoryError) as error:
            cp.zeros((100, 100), np.float32)
        assert isinstance(error.value, MemoryError)
    finally:
        pool.set_limit(size=0)


def test_the_snapshot_is_real_cupy_13_and_covers_the_stand_ins_own_names():
    """The names the stand-in provides by hand exist in the committed snapshot, which was
    made from CuPy >= 13 by the documented command."""
    folder = os.path.dirname(names.__file__)
    snapshot = json.load(open(os.path.join(folder, "cupy_names.json")))
    assert int(snapshot["version"].split(".")[0]) >= 13
    generator = open(os.path.join(folder, "snapshot_cupy.py")).read()   # imports CuPy
    assert "snapshot_cupy.py > nn/testing/cupy_names.json" in generator
    assert {"asarray", "asnumpy", "fuse", "get_array_module", "ascontiguousarray",
            "get_default_memory_pool"} <= names.FUNCTIONS
    assert {"Stream", "Device", "runtime", "memory"} <= names.SUBMODULES["cuda"]
    assert "getDeviceCount" in names.SUBMODULES["cuda.runtime"]
    assert "OutOfMemoryError" in names.SUBMODULES["cuda.memory"]
    assert "as_strided" in names.SUBMODULES["lib.stride_tricks"]
    assert "__array_interface__" not in names.NDARRAY and "__array__" in names.NDARRAY
