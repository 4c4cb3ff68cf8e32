"""Graders of the exercises that have no other home in tests/, and the properties the
older graders left out (eval-mode BatchNorm values, dropout's mean, Mul's forward).

Every expected value here is computed independently of the code under test: by hand,
by a plain NumPy formula written out in the test, or by finite differences.
"""
import numpy as np
import pytest

import nn
from nn.gradcheck import GradcheckError
from nn.ops.conv import conv2d_naive
from nn.ops.im2col import im2col


def t64(array, requires_grad=True):
    return nn.Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------- 1.1 Mul
@pytest.mark.exercise("1.1", "forward values with broadcasting")
def test_mul_forward_values_and_dtype(implementation):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    out = implementation.apply(nn.Tensor(a), nn.Tensor(b)).data
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, -2, 1], [3, -8, 2.5]])


@pytest.mark.exercise("1.1", "float32 gradients stay float32, in their inputs' shapes")
def test_mul_float32_gradients(implementation):
    a = nn.Tensor(np.full((2, 3), 2.0, np.float32), requires_grad=True)
    b = nn.Tensor(np.array([1.0, -2.0, 0.5], np.float32), requires_grad=True)
    implementation.apply(a, b).backward(np.ones((2, 3), np.float32))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert a.grad.shape == (2, 3) and b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])


@pytest.mark.exercise("1.1", "gradient of the broadcast argument (a sum)")
def test_mul_gradient_of_a_stretched_argument(implementation):
    a, b = t64(np.ones((4, 3))), t64([1.0, 2.0, 3.0])
    out = implementation.apply(a, b)
    out.backward(np.full((4, 3), 0.5))
    np.testing.assert_allclose(b.grad, [2.0, 2.0, 2.0])        # 4 rows x 0.5 x a = 1
    np.testing.assert_allclose(a.grad, np.tile([0.5, 1.0, 1.5], (4, 1)))


# ---------------------------------------------------------------- 1.2 the tape
def leaf(value):
    return t64(value)


@pytest.mark.exercise("1.2", "a tensor used twice gets the sum of both gradients")
def test_tape_sums_the_gradients_of_a_shared_tensor(implementation):
    x = leaf([2.0, 3.0])
    y = x * x + x * 3.0                         # dy/dx = 2x + 3
    implementation(y, np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [7.0, 90.0])


@pytest.mark.exercise("1.2", "each op's backward after every op that uses its output")
def test_tape_diamond_needs_topological_order(implementation):
    x = leaf([1.5])
    a = x * 2.0                                 # a feeds b and the final product
    b = a * a
    y = b * a                                   # y = a^3 = 8 x^3: dy/dx = 24 x^2
    implementation(y, np.array([1.0]))
    np.testing.assert_allclose(x.grad, [24 * 1.5 ** 2])


@pytest.mark.exercise("1.2", "a leaf's gradient accumulates across backward calls")
def test_tape_accumulates_into_existing_grad(implementation):
    x = leaf([1.0, 2.0])
    x.grad = np.array([100.0, 100.0])
    implementation(x * 3.0, np.array([1.0, 1.0]))
    np.testing.assert_allclose(x.grad, [103.0, 103.0])


@pytest.mark.exercise("1.2", "inputs that need no gradient get none")
def test_tape_skips_constants(implementation):
    x, c = leaf([1.0]), t64([5.0], requires_grad=False)
    implementation(x * c, np.array([2.0]))
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [10.0])


@pytest.mark.exercise("1.2", "the graph is freed, or kept with retain_graph")
def test_tape_frees_the_graph(implementation):
    x = leaf([1.0])
    y = x * x
    implementation(y, np.array([1.0]), retain_graph=True)
    implementation(y, np.array([1.0]))          # allowed: kept the first time
    np.testing.assert_allclose(x.grad, [4.0])
    with pytest.raises(RuntimeError):
        implementation(y, np.array([1.0]))


@pytest.mark.exercise("1.2", "gradients added into new arrays, never in place")
def test_tape_never_adds_into_an_array_in_place(implementation):
    """u = x + y; v = u + x: each add hands one array to both inputs, and the caller's
    gradient is that array too. Adding into it in place (+=) counts a gradient twice."""
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    v = (x + y) + x
    grad = np.array([1.0, 10.0])
    implementation(v, grad)
    np.testing.assert_array_equal(grad, [1.0, 10.0], err_msg="the caller's array changed")
    np.testing.assert_allclose(x.grad, [2.0, 20.0])
    np.testing.assert_allclose(y.grad, [1.0, 10.0])


@pytest.mark.exercise("1.2", "deep graphs: no recursion limit")
def test_tape_on_a_deep_chain(implementation):
    x = leaf([1.0])
    y = x
    for _ in range(3000):
        y = y * 1.0
    implementation(y, np.array([2.0]))
    np.testing.assert_allclose(x.grad, [2.0])


# ---------------------------------------------------------------- 2.1 numerical gradient
@pytest.mark.exercise("2.1", "derivative values of known functions")
def test_numerical_gradient_of_known_functions(implementation):
    x = np.array([0.3, -1.2, 2.0])

    def f():
        return float(np.sin(x[0]) + x[1] ** 3 + np.exp(x[2]))
    got = implementation(f, x, [0, 1, 2], 1e-5)
    np.testing.assert_allclose(got, [np.cos(0.3), 3 * 1.2 ** 2, np.exp(2.0)], rtol=1e-8)
    assert got.dtype == np.float64 and got.shape == (3,)


@pytest.mark.exercise("2.1", "centered, not one-sided: error shrinks like eps^2")
def test_numerical_gradient_is_centered(implementation):
    x = np.array([1.0])

    def f():
        return float(x[0] ** 3)                 # f''' != 0: a one-sided step errs by 3 eps
    err = abs(implementation(f, x, [0], 1e-3)[0] - 3.0)
    assert err < 1e-5                          # centered: eps^2 = 1e-6; one-sided: 3e-3


@pytest.mark.exercise("2.1", "x restored bit for bit")
def test_numerical_gradient_restores_x(implementation):
    x = np.array([0.1, 0.7, 1e8])
    before = x.copy()
    implementation(lambda: float((x ** 2).sum()), x, [0, 1, 2], 1e-6)
    np.testing.assert_array_equal(x, before)


@pytest.mark.exercise("2.1", "only the chosen positions")
def test_numerical_gradient_only_the_positions(implementation):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    calls = []

    def f():
        calls.append(1)
        return float((x * np.array([1.0, 10.0, 100.0, 1000.0])).sum())
    got = implementation(f, x, [3, 1], 1e-6)
    np.testing.assert_allclose(got, [1000.0, 10.0], rtol=1e-7)
    assert len(calls) == 4                      # two evaluations per position


# ---------------------------------------------------------------- 3.1 im2col's dtype
@pytest.mark.exercise("3.1", "float32 stays float32")
def test_im2col_keeps_float32(implementation, rng):
    """A float32 network must stay float32: the columns have x's dtype."""
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    col = implementation(x, 3, 2, 1)
    assert col.dtype == np.float32 and col.shape == (2, 3, 3, 1, 3, 3)
    # the centre offset (1, 1) with padding 1 meets x[2y, 2x'] at output pixel (y, x')
    np.testing.assert_array_equal(col[:, 1, 1, 0], x[0, :, ::2, ::2])


# ---------------------------------------------------------------- 3.3 conv backward
CONV_BACKWARD_CASES = [dict(n=1, c_in=2, c_out=3, size=(6, 6), k=4, stride=2, padding=1),
                       dict(n=2, c_in=1, c_out=2, size=(5, 4), k=3, stride=1, padding=1),
                       dict(n=1, c_in=2, c_out=1, size=(7, 6), k=3, stride=2, padding=0)]


def conv_loss_and_inputs(rng, n, c_in, c_out, size, k, stride, padding):
    x = rng.standard_normal((n, c_in) + size)
    w = rng.standard_normal((c_out, c_in, k, k))
    u = rng.standard_normal(conv2d_naive(x, w, None, stride, padding).shape)
    return x, w, u, lambda: float((conv2d_naive(x, w, None, stride, padding) * u).sum())


def finite_differences(loss, flat, eps=1e-6):
    """Centered differences of loss() w.r.t. every element of flat (written out here, so
    that grading 3.3 does not rest on exercise 2.1)."""
    out = np.empty(flat.size)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + eps
        plus = loss()
        flat[i] = keep - eps
        out[i] = (plus - loss()) / (2 * eps)
        flat[i] = keep
    return out


@pytest.mark.exercise("3.3", "gradients w.r.t. x and the weight (finite differences)")
@pytest.mark.parametrize("case", CONV_BACKWARD_CASES, ids=["4x4-s2-p1", "3x3-s1-p1-n2",
                                                           "3x3-s2-p0-odd"])
def test_conv2d_backward_by_finite_differences(implementation, rng, case):
    x, w, u, loss = conv_loss_and_inputs(rng, **case)
    col = im2col(x, case["k"], case["stride"], case["padding"]).reshape(w[0].size, -1)
    grad_x, grad_w = implementation(u, w, col, x.shape, case["stride"], case["padding"],
                                    True, True)
    assert grad_x.shape == x.shape and grad_w.shape == w.shape
    for array, analytic in ((x, grad_x), (w, grad_w)):
        flat = array.reshape(-1)
        numeric = finite_differences(loss, flat)
        np.testing.assert_allclose(analytic.reshape(-1), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.exercise("3.3", "None for a gradient that is not needed")
def test_conv2d_backward_skips_what_is_not_needed(implementation, rng):
    case = CONV_BACKWARD_CASES[0]
    x, w, u, _ = conv_loss_and_inputs(rng, **case)
    col = im2col(x, 4, 2, 1).reshape(w[0].size, -1)
    grad_x, grad_w = implementation(u, w, col, x.shape, 2, 1, False, True)
    assert grad_x is None and grad_w is not None
    grad_x, grad_w = implementation(u, w, col, x.shape, 2, 1, True, False)
    assert grad_w is None and grad_x is not None


# ---------------------------------------------------------------- 5.1 the forward itself
def batch_norm_by_formula(x, gamma, beta, mean, var, eps):
    shape = (1, -1, 1, 1)
    return gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(
        var.reshape(shape) + eps) + beta.reshape(shape)


@pytest.mark.exercise("5.1", "forward values in training mode")
def test_batch_norm_training_forward_values(implementation, rng):
    x = rng.standard_normal((3, 2, 2, 2)) * 3 + 1
    gamma, beta = np.array([1.5, -0.5]), np.array([0.2, 0.3])
    out = implementation.apply(t64(x), t64(gamma), t64(beta), training=True, eps=1e-3).data
    expected = batch_norm_by_formula(x, gamma, beta, x.mean(axis=(0, 2, 3)),
                                     x.var(axis=(0, 2, 3)), 1e-3)
    np.testing.assert_allclose(out, expected, rtol=1e-10)


@pytest.mark.exercise("5.1", "running statistics follow the momentum argument")
def test_batch_norm_running_statistics_with_another_momentum(implementation, rng):
    x = rng.standard_normal((4, 2, 3, 3)) * 2 + 1
    mean, var = np.array([0.5, -0.5]), np.array([2.0, 0.5])
    expected_mean = 0.7 * mean + 0.3 * x.mean(axis=(0, 2, 3))
    expected_var = 0.7 * var + 0.3 * x.var(axis=(0, 2, 3), ddof=1)
    implementation.apply(t64(x), t64(np.ones(2)), t64(np.zeros(2)), mean, var,
                         training=True, momentum=0.3, eps=1e-5)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(var, expected_var, rtol=1e-12)


@pytest.mark.exercise("5.1", "float32 kept float32 (output, gradient, running statistics)")
def test_batch_norm_keeps_float32(implementation, rng):
    x = nn.Tensor(rng.standard_normal((2, 3, 2, 2)).astype(np.float32), requires_grad=True)
    gamma = nn.Tensor(np.ones(3, np.float32), requires_grad=True)
    beta = nn.Tensor(np.zeros(3, np.float32), requires_grad=True)
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    out = implementation.apply(x, gamma, beta, mean, var, training=True, momentum=0.1,
                               eps=1e-5)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.data.dtype == np.float32 and x.grad.dtype == np.float32
    assert gamma.grad.dtype == np.float32 and mean.dtype == var.dtype == np.float32


@pytest.mark.exercise("5.1", "a batch of 1x1 maps (N > 1) is valid")
def test_batch_norm_one_pixel_maps(implementation, rng):
    """(N, C, 1, 1) with N > 1 has N values per channel: the U-Net's innermost maps at
    batch size > 1. Only N = 1 (one value per channel) is an error."""
    x = rng.standard_normal((4, 3, 1, 1))
    out = implementation.apply(t64(x), t64(np.ones(3)), t64(np.zeros(3)), training=True,
                               eps=1e-5).data
    expected = batch_norm_by_formula(x, np.ones(3), np.zeros(3), x.mean(axis=(0, 2, 3)),
                                     x.var(axis=(0, 2, 3)), 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-10)


@pytest.mark.exercise("5.1", "forward values in eval mode")
def test_batch_norm_eval_forward_values(implementation, rng):
    x = rng.standard_normal((2, 2, 3, 3))
    gamma, beta = np.array([2.0, 0.5]), np.array([-1.0, 1.0])
    mean, var = np.array([0.5, -0.2]), np.array([4.0, 0.25])
    before = (mean.copy(), var.copy())
    out = implementation.apply(t64(x), t64(gamma), t64(beta), mean, var, training=False,
                               eps=1e-5).data
    np.testing.assert_allclose(out, batch_norm_by_formula(x, gamma, beta, mean, var, 1e-5),
                               rtol=1e-10)
    np.testing.assert_array_equal(mean, before[0])      # eval updates nothing
    np.testing.assert_array_equal(var, before[1])


# ---------------------------------------------------------------- 6.2 dropout
@pytest.mark.exercise("6.2", "the expected output equals x")
def test_dropout_preserves_the_mean(implementation):
    x = np.full(200_000, 2.0, np.float32)
    out = implementation.apply(nn.Tensor(x), p=0.3, generator=np.random.default_rng(1)).data
    assert out.dtype == np.float32
    assert abs(out.mean() - 2.0) < 0.02
    assert abs((out == 0).mean() - 0.3) < 0.005             # p is the DROP probability


@pytest.mark.exercise("6.2", "p = 0 keeps everything")
def test_dropout_p_zero_is_identity(implementation):
    x = np.arange(5.0)
    out = implementation.apply(nn.Tensor(x), p=0.0, generator=np.random.default_rng(0)).data
    np.testing.assert_array_equal(out, x)


@pytest.mark.exercise("6.2", "without a generator: fresh noise each call")
def test_dropout_without_generator_draws_fresh_masks(implementation):
    """generator=None means a fresh, unseeded generator: two calls give two masks (the
    chance that 1000 independent coin flips repeat is 2^-1000)."""
    x = nn.Tensor(np.ones(1000, np.float32))
    first, second = (implementation.apply(x, p=0.5).data != 0 for _ in range(2))
    assert 0.4 < first.mean() < 0.6
    assert (first != second).any()


# ---------------------------------------------------------------- 6.3 tanh and sigmoid
@pytest.mark.exercise("6.3", "values and gradient")
def test_tanh(implementation, rng):
    x = rng.standard_normal((3, 4)) * 2
    np.testing.assert_allclose(implementation.apply(t64(x, False)).data, np.tanh(x), rtol=1e-12)
    nn.gradcheck(implementation.apply, [t64(x)])


@pytest.mark.exercise("6.4", "values and gradient")
def test_sigmoid(implementation, rng):
    x = rng.standard_normal((3, 4)) * 3
    np.testing.assert_allclose(implementation.apply(t64(x, False)).data,
                               1 / (1 + np.exp(-x)), rtol=1e-12)
    nn.gradcheck(implementation.apply, [t64(x)])


@pytest.mark.exercise("6.4", "no overflow at +-1000, float32 kept")
def test_sigmoid_no_overflow(implementation):
    x = nn.Tensor(np.array([-1000.0, 0.0, 1000.0], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = implementation.apply(x)
        y.backward(np.ones(3, np.float32))
    assert y.data.dtype == np.float32
    np.testing.assert_array_equal(y.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.25, 0.0])


@pytest.mark.exercise("6.3", "no overflow at +-1000, float32 kept")
def test_tanh_no_overflow(implementation):
    x = nn.Tensor(np.array([-1000.0, 1000.0], np.float32), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = implementation.apply(x)
        y.backward(np.ones(2, np.float32))
    assert y.data.dtype == np.float32
    np.testing.assert_array_equal(y.data, [-1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


# ---------------------------------------------------------------- 6b.1 Adam
def adam_by_hand(p, g, m, v, t, lr, b1, b2, eps):
    """Kingma & Ba's Algorithm 1, written out again here for the grader."""
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g ** 2
    return p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps), m, v


@pytest.mark.exercise("6b.1", "several steps (bias correction, pix2pix's betas)")
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.999)])
def test_adam_steps(implementation, rng, betas):
    p = rng.standard_normal(5)
    m, v = np.zeros(5), np.zeros(5)     # never one array for both: in place would corrupt
    ref = (p.copy(), m.copy(), v.copy())
    for t in range(1, 6):
        g = rng.standard_normal(5)
        p, m, v = implementation(p, g, m, v, t, lr=0.01, betas=betas, eps=1e-8)
        ref = adam_by_hand(*ref[:1], g, *ref[1:], t, 0.01, *betas, 1e-8)
        np.testing.assert_allclose(p, ref[0], rtol=1e-12)
        np.testing.assert_allclose(m, ref[1], rtol=1e-12)
        np.testing.assert_allclose(v, ref[2], rtol=1e-12)


@pytest.mark.exercise("6b.1", "beta2 read from betas")
def test_adam_uses_the_given_beta2(implementation, rng):
    p, g = rng.standard_normal(4), rng.standard_normal(4)
    m, v = rng.standard_normal(4) * 0.1, rng.random(4) * 0.1
    out = implementation(p, g, m.copy(), v.copy(), 3, lr=0.01, betas=(0.9, 0.95), eps=1e-8)
    expected = adam_by_hand(p, g, m, v, 3, 0.01, 0.9, 0.95, 1e-8)
    for got, want, name in zip(out, expected, ("param", "exp_avg", "exp_avg_sq")):
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=name)


@pytest.mark.exercise("6b.1", "the first step moves each weight by lr")
def test_adam_first_step(implementation):
    p, m, v = implementation(np.zeros(3), np.array([1e-4, -3.0, 50.0]), np.zeros(3),
                             np.zeros(3), 1, lr=0.1, betas=(0.5, 0.999), eps=1e-12)
    np.testing.assert_allclose(p, [-0.1, 0.1, -0.1], rtol=1e-6)


@pytest.mark.exercise("6b.1", "inputs left unchanged")
def test_adam_leaves_inputs(implementation, rng):
    arrays = [rng.standard_normal(4) for _ in range(2)] + [rng.random(4), rng.random(4)]
    copies = [a.copy() for a in arrays]
    implementation(*arrays, 3, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.exercise("6b.1", "float32 stays float32")
def test_adam_keeps_float32(implementation):
    """pix2pix trains in float32: a float64 scalar in the update would promote the
    weights (NumPy 2 keeps an array's dtype for Python floats, not for np.float64)."""
    arrays = [np.ones(3, np.float32), np.full(3, 0.5, np.float32), np.zeros(3, np.float32),
              np.zeros(3, np.float32)]
    for out in implementation(*arrays, 2, lr=0.1, betas=(0.5, 0.999), eps=1e-8):
        assert out.dtype == np.float32


@pytest.mark.needs_torch
@pytest.mark.exercise("6b.1", "the same numbers as torch.optim.Adam")
def test_adam_against_torch(implementation, rng):
    torch = pytest.importorskip("torch")
    p0 = rng.standard_normal(6)
    w = torch.nn.Parameter(torch.tensor(p0))
    opt = torch.optim.Adam([w], lr=2e-4, betas=(0.5, 0.999))
    p, m, v = p0.copy(), np.zeros(6), np.zeros(6)
    for t in range(1, 4):
        g = rng.standard_normal(6)
        w.grad = torch.tensor(g)
        opt.step()
        p, m, v = implementation(p, g, m, v, t, lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
    np.testing.assert_allclose(p, w.detach().numpy(), rtol=1e-10)


# ---------------------------------------------------------------- 9.2 L1
@pytest.mark.exercise("9.2", "forward value, float32 kept")
def test_l1_forward(implementation):
    a = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    b = np.array([[0.0, 1.0], [0.5, 5.0]], np.float32)
    out = implementation.apply(nn.Tensor(a), nn.Tensor(b)).data
    assert out.dtype == np.float32 and out.shape == ()
    assert float(out) == pytest.approx((1 + 3 + 0 + 2) / 4)


@pytest.mark.exercise("9.2", "gradients w.r.t. both inputs")
def test_l1_gradcheck(implementation, rng):
    a = rng.standard_normal((2, 3, 4))
    b = a + rng.choice([-1, 1], a.shape) * rng.uniform(0.1, 1.0, a.shape)   # away from a == b
    nn.gradcheck(implementation.apply, [t64(a), t64(b)])


@pytest.mark.exercise("9.2", "zero gradient where a == b")
def test_l1_gradient_at_equality(implementation):
    a, b = t64([1.0, 2.0, 3.0, 4.0]), t64([1.0, 0.0, 3.0, 5.0])
    implementation.apply(a, b).backward()
    np.testing.assert_allclose(a.grad, [0.0, 0.25, 0.0, -0.25])
    np.testing.assert_allclose(b.grad, [0.0, -0.25, 0.0, 0.25])


def test_the_graders_use_independent_values():
    """Sanity of this file's own helpers: the formula for BatchNorm and Adam by hand."""
    x = np.array([[[[1.0]], [[2.0]]], [[[3.0]], [[6.0]]]])           # (2, 2, 1, 1)
    out = batch_norm_by_formula(x, np.ones(2), np.zeros(2), np.array([2.0, 4.0]),
                                np.array([1.0, 4.0]), 0.0)
    np.testing.assert_allclose(out.reshape(2, 2), [[-1, -1], [1, 1]])
    with pytest.raises(GradcheckError):                              # gradcheck can fail
        nn.gradcheck(lambda a: a * a * a.detach(), [t64([1.0, 2.0])])
