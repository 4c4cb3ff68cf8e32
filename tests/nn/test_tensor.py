"""The tape: topological order, gradient accumulation, graph lifetime, broadcasting.

These tests use tiny hand-checkable graphs; the gradient checks of the individual ops are
in test_gradcheck_ops.py.
"""
import numpy as np
import pytest

import nn
from nn.tensor import Function


def leaf(xp, values):
    """A float64 leaf tensor that requires grad, on xp's device."""
    return nn.Tensor(xp.asarray(np.asarray(values, dtype=np.float64)), requires_grad=True)


# --- a tensor used twice gets the sum of both gradients -------------------------------

@pytest.mark.exercise("1.1", "x * x: a gradient for each argument")
def test_x_times_x_gets_both_gradients(implementation, xp):
    """x * x uses x twice, so d(x*x)/dx = x + x = 2x.

    A tape that overwrote gradients (``t.grad = g``) instead of adding them would report
    only x. Both inputs of Mul are the same tensor: Mul must return a gradient for each.
    """
    MulFunction = implementation
    x = leaf(xp, [1.5, -2.0, 3.0])
    MulFunction.apply(x, x).backward(xp.asarray([1.0, 10.0, 100.0]))
    np.testing.assert_allclose(nn.to_numpy(x.grad), [3.0, -40.0, 600.0])


def test_skip_connection_gets_both_gradients(xp, rng):
    """The U-Net pattern: h feeds a branch (here 3 * h) AND skips ahead; both are concatenated.

    out = cat([3 h, h]) along channels, so with upstream u = [u_a, u_b]:
    dL/dh = 3 u_a + u_b, and dL/dx = 2 dL/dh for h = 2 x.
    """
    x = nn.Tensor(xp.asarray(rng.standard_normal((2, 3, 4, 4))), requires_grad=True)
    h = x * 2.0
    out = nn.functional.cat([h * 3.0, h], dim=1)        # (2, 6, 4, 4)
    u = rng.standard_normal(out.shape)
    out.backward(xp.asarray(u))
    expected = 2 * (3 * u[:, :3] + u[:, 3:])
    np.testing.assert_allclose(nn.to_numpy(x.grad), expected, rtol=1e-12)


# --- leaf gradients accumulate until reset --------------------------------------------

def test_leaf_grads_accumulate_across_backward_calls_until_zero_grad(xp):
    """Two backward passes add into .grad (how D sees both the real and the fake batch);
    zero_grad() resets to None so the next step starts from scratch."""
    p = nn.Parameter(xp.asarray([1.0, 2.0]))
    model = nn.Module()
    model.p = p
    (p * 3.0).sum().backward()
    (p * 3.0).sum().backward()
    np.testing.assert_allclose(nn.to_numpy(p.grad), [6.0, 6.0])
    model.zero_grad()
    assert p.grad is None
    (p * 3.0).sum().backward()
    np.testing.assert_allclose(nn.to_numpy(p.grad), [3.0, 3.0])


# --- backward's argument checks ---------------------------------------------------------

def test_backward_on_a_non_scalar_needs_a_gradient(xp):
    """Only a one-element loss has an implied upstream gradient of 1; for anything else
    the message says to reduce it or pass grad=."""
    y = leaf(xp, [1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"scalar.*shape \(2,\)"):
        y.backward()


def test_backward_on_a_tensor_without_grad_raises(xp):
    """A graph with no input that requires grad has nothing to differentiate."""
    y = nn.Tensor(xp.asarray([1.0, 2.0])) * 2.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_backward_grad_of_the_wrong_shape_raises(xp):
    y = leaf(xp, [1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"grad has shape \(3,\)"):
        y.backward(xp.ones(3))


# --- graph lifetime ---------------------------------------------------------------------

def test_second_backward_through_a_freed_graph_raises(xp):
    """backward() frees what each op saved (the activations) as soon as it is used, so a
    second pass must say so instead of silently reusing freed state."""
    x = leaf(xp, [1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_retain_graph_allows_a_second_backward(xp):
    """With retain_graph=True the saved arrays survive, and the second pass adds again."""
    x = leaf(xp, [1.0, 2.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(nn.to_numpy(x.grad), [4.0, 8.0])  # 2 * (2 x)


def test_no_grad_records_no_graph(xp):
    """Inside no_grad() results are plain leaves (evaluation and optimiser steps must not
    grow the graph), and the previous mode comes back even after an exception."""
    x = leaf(xp, [1.0, 2.0])
    with nn.no_grad():
        y = (x * 2.0).exp()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(KeyError):
        with nn.no_grad():
            raise KeyError("boom")
    assert (x * 2.0).requires_grad


def test_detach_cuts_the_graph(xp):
    """z = 3 * x.detach() + x: only the second term carries a gradient back to x
    (how the discriminator step stops gradients from reaching the generator)."""
    x = leaf(xp, [1.0, 2.0])
    z = x.detach() * 3.0 + x
    assert not x.detach().requires_grad
    z.sum().backward()
    np.testing.assert_allclose(nn.to_numpy(x.grad), [1.0, 1.0])


# --- broadcasting ---------------------------------------------------------------------

@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("shape_a, shape_b, summed_axes", [
    ((3,), (2, 3), (0,)),                        # a row added to every row of a matrix
    ((1, 3, 1, 1), (2, 3, 4, 4), (0, 2, 3)),     # a per-channel bias on an NCHW map
], ids=["row", "per-channel"])
def test_broadcast_gradients_are_summed_back_to_the_input_shape(xp, rng, op, shape_a, shape_b,
                                                                summed_axes):
    """A (1, C, 1, 1) bias added to an (N, C, H, W) map is used N*H*W times, so its
    gradient is the sum over those axes (``unbroadcast``) and has the bias's own shape."""
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a = nn.Tensor(xp.asarray(a_np), requires_grad=True)
    b = nn.Tensor(xp.asarray(b_np), requires_grad=True)
    out = a + b if op == "add" else a * b
    u = rng.standard_normal(shape_b)
    out.backward(xp.asarray(u))
    grad_a_full, grad_b = (u, u) if op == "add" else (u * b_np, u * a_np)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    expected_a = grad_a_full.sum(axis=summed_axes).reshape(shape_a)
    np.testing.assert_allclose(nn.to_numpy(a.grad), expected_a, rtol=1e-12)
    np.testing.assert_allclose(nn.to_numpy(b.grad), grad_b, rtol=1e-12)


def test_python_number_operands_get_no_gradient_and_keep_dtype(xp):
    """2.0 * x and 1 - x: the constants become arrays of x's dtype, float32 stays float32."""
    x = nn.Tensor(xp.asarray([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = 1.0 - 2.0 * x / 4.0
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_allclose(nn.to_numpy(x.grad), [-0.5, -0.5])


# --- topological order ----------------------------------------------------------------

class CountingIdentity(Function):
    """y = x, counting how often its backward runs."""
    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        CountingIdentity.calls += 1
        return grad


def test_diamond_graph_runs_each_backward_once_with_the_summed_gradient(xp):
    """a -> h -> (2 h, 3 h) -> product. A node's backward must wait until the gradients of
    ALL its consumers have arrived (topological order), then run once: pushing each path's
    gradient separately would run h's backward twice, exponentially often in deep nets.

    d = (2 h)(3 h) = 6 a^2, so dd/da = 12 a.
    """
    CountingIdentity.calls = 0
    a = leaf(xp, [1.0, -2.0])
    h = CountingIdentity.apply(a)
    d = (h * 2.0) * (h * 3.0)
    d.sum().backward()
    assert CountingIdentity.calls == 1
    np.testing.assert_allclose(nn.to_numpy(a.grad), [12.0, -24.0])


def test_deep_chain_needs_no_recursion(xp):
    """3000 ops in a row (deeper than Python's default recursion limit of 1000): the
    iterative topological sort handles it. y = x * 1.0001^3000."""
    x = leaf(xp, [1.0])
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(nn.to_numpy(x.grad), [1.0001 ** 3000], rtol=1e-10)
