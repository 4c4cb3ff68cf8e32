"""The backend: one place that knows about devices, and dtypes that stay what they are.

Ops ask ``get_array_module`` for NumPy or CuPy and never import CuPy themselves; tensors
keep the dtype of the array they wrap (float64 for gradient checks, float32 for training).
"""
import numpy as np
import pytest

import nn
import nn.functional as F


def test_get_array_module_follows_the_arrays(xp):
    """NumPy for NumPy arrays and plain numbers; CuPy as soon as one argument is on the GPU."""
    assert nn.get_array_module(np.zeros(2)) is np
    assert nn.get_array_module(1.0, [1, 2]) is np
    assert nn.get_array_module() is np
    assert nn.get_array_module(np.zeros(2), xp.zeros(2)) is xp


def test_to_numpy_gives_a_numpy_array(xp):
    a = xp.asarray([1.0, 2.0])
    out = nn.to_numpy(a)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [1.0, 2.0])
    assert isinstance(nn.Tensor(a).numpy(), np.ndarray)


def test_to_device_cpu(xp):
    """to_device("cpu") lands on NumPy from anywhere; already there means no copy."""
    a = xp.asarray([1.0, 2.0])
    out = nn.to_device(a, "cpu")
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [1.0, 2.0])
    b = np.zeros(3)
    assert nn.to_device(b, "cpu") is b
    t = nn.Tensor(a, requires_grad=True).to("cpu")
    assert t.device == "cpu" and t.requires_grad and t.is_leaf


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'.*'cpu' or 'cuda'"):
        nn.check_device("tpu")
    with pytest.raises(ValueError, match="unknown device"):
        nn.to_device(np.zeros(1), "gpu")
    assert nn.check_device("cpu") == "cpu"


@pytest.mark.skipif(nn.gpu_available(), reason="a GPU is present: 'cuda' is valid here")
def test_cuda_without_a_gpu_says_how_to_get_one():
    """Asking for the GPU where there is none must say what to install, or to use the CPU."""
    with pytest.raises(RuntimeError, match=r"pip install -e \.\[gpu\].*--device cpu"):
        nn.check_device("cuda")
    with pytest.raises(RuntimeError, match="'cuda' was requested"):
        nn.Tensor([1.0]).to("cuda")


def test_python_numbers_and_lists_become_float32():
    """The training dtype is float32, so plain Python data defaults to it (NumPy would
    pick float64 for floats and int64 for ints)."""
    assert nn.Tensor([1, 2, 3]).dtype == np.float32
    assert nn.Tensor(1.5).dtype == np.float32
    assert nn.Tensor([[0.5, 1.0]]).shape == (1, 2)


def test_float32_stays_float32_with_python_scalars(xp):
    """2.0 * x must not promote a float32 network to float64 (twice the memory, half speed)."""
    x = nn.Tensor(xp.ones(3, dtype=np.float32), requires_grad=True)
    y = (2.0 * x + 1) / 3.0 - 0.5
    y = F.leaky_relu(y ** 2, 0.2).exp().log().mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_float64_is_preserved_through_every_kind_of_op(xp, rng):
    """Gradient checks need float64 end to end: no op may quietly drop to float32."""
    x = nn.Tensor(xp.asarray(rng.standard_normal((2, 3, 6, 6))), requires_grad=True)
    w = nn.Tensor(xp.asarray(rng.standard_normal((4, 3, 4, 4))), requires_grad=True)
    wt = nn.Tensor(xp.asarray(rng.standard_normal((4, 3, 4, 4))), requires_grad=True)
    ones, zeros = nn.Tensor(xp.ones(4)), nn.Tensor(xp.zeros(4))
    h = F.conv2d(x, w, stride=2, padding=1)
    h = F.batch_norm(h, ones, zeros, xp.zeros(4), xp.ones(4))
    h = F.cat([F.leaky_relu(h, 0.2), F.relu(h)], dim=1).reshape(4, 4, 3, 3)
    h = F.conv_transpose2d(h, wt, stride=2, padding=1)                      # (4, 3, 6, 6)
    h = F.dropout(F.tanh(h) * F.sigmoid(h), 0.5, generator=np.random.default_rng(0))
    loss = F.mse_loss(h, 0.0) + F.l1_loss(h, nn.Tensor(xp.zeros(h.shape))) + \
        F.binary_cross_entropy_with_logits(h, 1.0)
    assert h.dtype == np.float64 and loss.dtype == np.float64
    loss.backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float64
    assert wt.grad.dtype == np.float64
