"""Optimisers: updates checked against the formulas written out by hand, and state that
survives a save/load so that a resumed run continues exactly where it stopped."""
import math

import numpy as np
import pytest

import nn


def param(values, dtype=np.float64, xp=np):
    return nn.Parameter(xp.asarray(np.asarray(values, dtype=dtype)))


def with_grad(p, grad):
    p.grad = nn.get_array_module(p.data).asarray(np.asarray(grad, dtype=p.dtype))
    return p


def value(p):
    """The parameter's single value as a Python float (from the GPU if needed)."""
    return float(nn.to_numpy(p.data)[0])


def test_adam_first_step_by_hand(xp):
    """p = 1.0, g = 0.5, lr = 0.1, betas = (0.9, 0.999), eps = 1e-8:
        m = 0.9 * 0 + 0.1 * 0.5           = 0.05
        v = 0.999 * 0 + 0.001 * 0.5^2     = 0.00025
        m_hat = m / (1 - 0.9)             = 0.5
        v_hat = v / (1 - 0.999)           = 0.25,  sqrt(v_hat) = 0.5
        p = 1.0 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.900000002
    The first step moves every parameter by about lr, whatever the gradient's scale."""
    p = with_grad(param([1.0], xp=xp), [0.5])
    opt = nn.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    assert value(p) == pytest.approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-14)
    assert value(p) == pytest.approx(0.900000002, rel=1e-12)
    np.testing.assert_allclose(nn.to_numpy(opt.exp_avg[0]), [0.05], rtol=1e-14)
    np.testing.assert_allclose(nn.to_numpy(opt.exp_avg_sq[0]), [0.00025], rtol=1e-14)


def test_adam_several_steps_by_hand(xp):
    """Three steps with gradients 0.5, -1.0, 2.0, against the formula in plain Python:
    m_t = b1 m + (1 - b1) g,  v_t = b2 v + (1 - b2) g^2,
    p -= lr * (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)."""
    lr, b1, b2, eps = 0.01, 0.5, 0.999, 1e-8
    p = param([1.0], xp=xp)
    opt = nn.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    expected, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -1.0, 2.0], start=1):
        with_grad(p, [g])
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected -= lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps)
        assert value(p) == pytest.approx(expected, rel=1e-13)


def test_adam_updates_in_place_and_skips_parameters_without_grad():
    """Once the optimiser is built, p.data keeps its identity (a view of Adam's flat
    buffer, nn/flat.py); a parameter that got no gradient this step does not move."""
    a, b = with_grad(param([1.0, 2.0]), [0.1, 0.1]), param([3.0])
    opt = nn.Adam([a, b], lr=0.1)
    data = a.data
    np.testing.assert_array_equal(data, [1.0, 2.0])       # the values moved in unchanged
    opt.step()
    assert a.data is data and not np.array_equal(data, [1.0, 2.0])
    assert b.data[0] == 3.0


def test_adam_whole_buffer_step_reports_the_gradient_total_on_the_device(xp):
    """All gradients present: one flat update; gradient_total is their sum, still a
    device array (the NaN check reads it with the losses, in one host sync)."""
    a = with_grad(param([1.0, 2.0], xp=xp), [0.5, -0.25])
    b = with_grad(param([[3.0]], xp=xp), [[2.0]])
    opt = nn.Adam([a, b], lr=0.1)
    opt.step()
    assert nn.get_array_module(opt.gradient_total) is xp
    assert float(opt.gradient_total) == 2.25
    b.grad = xp.asarray([[np.nan]])
    opt.step()
    assert not np.isfinite(float(opt.gradient_total))


def test_adam_follows_parameters_moved_after_it_was_built(xp):
    """Module.to after the optimiser replaces p.data: the next step rebuilds the flat
    buffers around the moved values, keeping m and v."""
    p = with_grad(param([1.0, 2.0]), [0.5, 0.5])
    opt = nn.Adam([p], lr=0.1)
    opt.step()
    moved = nn.to_device(p.data, "cuda" if xp is not np else "cpu").copy()
    p.data, p.grad = moved, nn.to_device(np.array([0.5, 0.5]), nn.backend.device_of(moved))
    opt.step()
    assert nn.backend.device_of(p.data) == nn.backend.device_of(moved)
    np.testing.assert_allclose(nn.to_numpy(p.data), [0.8, 1.8], rtol=1e-6)
    np.testing.assert_allclose(nn.to_numpy(opt.exp_avg[0]), [0.5 * 0.1 * 1.9] * 2, rtol=1e-12)


def test_adam_refuses_parameters_of_mixed_dtypes():
    with pytest.raises(ValueError, match="must share a dtype"):
        nn.Adam([param([1.0], np.float32), param([1.0], np.float64)])


def test_adam_keeps_float32():
    p = with_grad(param([1.0, 2.0], np.float32), [0.5, -0.5])
    opt = nn.Adam([p], lr=0.1)
    opt.step()
    assert p.dtype == np.float32 and opt.exp_avg[0].dtype == np.float32


def test_adam_state_round_trip_continues_identically(xp, tmp_path):
    """Save the optimiser after 3 steps (through nn.save / nn.load, as a checkpoint does),
    load into a fresh Adam over a copy of the parameters: the next 2 steps match exactly."""
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(3), rng.standard_normal((2, 2))] for _ in range(5)]
    params = [param(rng.standard_normal(3), xp=xp), param(rng.standard_normal((2, 2)), xp=xp)]
    opt = nn.Adam(params, lr=0.05, betas=(0.5, 0.999))
    for step in grads[:3]:
        for p, g in zip(params, step):
            with_grad(p, g)
        opt.step()
    nn.save(opt.state_dict(), tmp_path / "adam.npz")

    copies = [nn.Parameter(p.data.copy()) for p in params]
    resumed = nn.Adam(copies, lr=1.0)  # lr, betas, eps and the step count come from the file
    resumed.load_state_dict(nn.load(tmp_path / "adam.npz"))
    assert resumed.step_count == 3 and resumed.lr == 0.05 and resumed.betas == (0.5, 0.999)
    for step in grads[3:]:
        for p, c, g in zip(params, copies, step):
            with_grad(p, g)
            with_grad(c, g)
        opt.step()
        resumed.step()
    for p, c in zip(params, copies):
        np.testing.assert_array_equal(nn.to_numpy(c.data), nn.to_numpy(p.data))


def test_adam_state_for_other_parameters_is_refused():
    """State saved for different parameters (another model) must not load silently."""
    opt = nn.Adam([param(np.zeros(3))])
    with pytest.raises(ValueError, match=r"'exp_avg.0' has shape \(3,\), parameter 0 has \(4,\)"):
        nn.Adam([param(np.zeros(4))]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="no 'exp_avg.1'"):
        nn.Adam([param(np.zeros(3)), param(np.zeros(2))]).load_state_dict(opt.state_dict())


def test_sgd_without_momentum_by_hand():
    """p = 1.0, g = 0.5, lr = 0.1: p = 1.0 - 0.1 * 0.5 = 0.95."""
    p = with_grad(param([1.0]), [0.5])
    nn.SGD([p], lr=0.1).step()
    assert value(p) == pytest.approx(0.95, rel=1e-15)


def test_sgd_with_momentum_by_hand(xp):
    """PyTorch's form, v = momentum * v + g (v = g at the first step), p -= lr * v.
    momentum 0.9, lr 0.1, g = 0.5 twice:
        step 1: v = 0.5,                  p = 1.0  - 0.1 * 0.5  = 0.95
        step 2: v = 0.9 * 0.5 + 0.5 = 0.95, p = 0.95 - 0.1 * 0.95 = 0.855"""
    p = param([1.0], xp=xp)
    opt = nn.SGD([p], lr=0.1, momentum=0.9)
    with_grad(p, [0.5])
    opt.step()
    assert value(p) == pytest.approx(0.95, rel=1e-15)
    with_grad(p, [0.5])
    opt.step()
    assert value(p) == pytest.approx(0.855, rel=1e-15)


def test_optimizer_zero_grad_and_empty_parameter_list():
    p = with_grad(param([1.0]), [0.5])
    opt = nn.SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.Adam([])
