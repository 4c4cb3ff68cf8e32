"""The textbook forms beside the fast ones: each is tested against the definition and
against the form the library runs (issue: the library reads like the textbook)."""
import itertools

import numpy as np
import pytest

import nn
from nn.ops.conv import (
    Conv2dAsTransposeFunction,
    Conv2dFunction,
    conv2d,
    conv2d_naive,
    runs_as_transpose,
)
from nn.ops.im2col import (
    col2im,
    col2im_reference,
    conv_output_size,
    im2col,
    im2col_reference,
)
from nn.optim import Adam, adam_step_reference

# (x shape, k, stride, padding): pix2pix's 4x4 s2 p1, odd sizes, stride 3, k > stride, ...
GEOMETRIES = [((2, 3, 8, 8), 4, 2, 1), ((1, 2, 7, 5), 4, 2, 1), ((1, 2, 5, 6), 3, 1, 1),
              ((2, 1, 9, 7), 3, 3, 2), ((1, 3, 6, 6), 1, 1, 0), ((1, 2, 8, 9), 5, 2, 0),
              ((1, 1, 4, 4), 4, 1, 3)]


def im2col_by_definition(x, k, s, p):
    """col[c, i, j, n, y, x'] = x_padded[n, c, y s + i, x' s + j], element by element."""
    n, c, h, w = x.shape
    ho, wo = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    col = np.zeros((c, k, k, n, ho, wo))
    for index in np.ndindex(*col.shape):
        ci, i, j, ni, y, xo = index
        col[index] = x_pad[ni, ci, y * s + i, xo * s + j]
    return col


@pytest.mark.parametrize("shape, k, stride, padding", GEOMETRIES)
def test_im2col_reference_and_fast_match_the_definition(rng, shape, k, stride, padding):
    x = rng.standard_normal(shape)
    expected = im2col_by_definition(x, k, stride, padding)
    np.testing.assert_array_equal(im2col_reference(x, k, stride, padding), expected)
    np.testing.assert_array_equal(im2col(x, k, stride, padding), expected)


@pytest.mark.parametrize("shape, k, stride, padding", GEOMETRIES)
def test_col2im_reference_and_fast_are_adjoints_of_im2col(rng, shape, k, stride, padding):
    """<im2col(x), c> = <x, col2im(c)> for random x and c, for both forms."""
    x = rng.standard_normal(shape)
    c = rng.standard_normal(im2col_reference(x, k, stride, padding).shape)
    for forward, adjoint in ((im2col_reference, col2im_reference), (im2col, col2im)):
        lhs = (forward(x, k, stride, padding) * c).sum()
        rhs = (x * adjoint(c, shape, stride, padding)).sum()
        assert lhs == pytest.approx(rhs, rel=1e-12)
    np.testing.assert_allclose(col2im_reference(c, shape, stride, padding),
                               col2im(c, shape, stride, padding), rtol=1e-12, atol=1e-12)


def col2im_by_definition(col, x_shape, s, p):
    """x[n, c, h, w] = the sum of col[c, i, j, n, y, x'] over every (i, j, y, x') with
    y s + i = h + p and x' s + j = w + p: each place im2col copies x[n, c, h, w] to."""
    _, k, _, _, ho, wo = col.shape
    x = np.zeros(x_shape)
    for h, w, i, j in itertools.product(range(x_shape[2]), range(x_shape[3]), range(k), range(k)):
        (y, ry), (xo, rx) = divmod(h + p - i, s), divmod(w + p - j, s)
        if ry == 0 and rx == 0 and 0 <= y < ho and 0 <= xo < wo:
            x[:, :, h, w] += col[:, i, j, :, y, xo].T
    return x


@pytest.mark.parametrize("shape, k, stride, padding", GEOMETRIES)
def test_col2im_reference_and_fast_match_the_definition(rng, shape, k, stride, padding):
    c = rng.standard_normal(im2col_reference(np.zeros(shape), k, stride, padding).shape)
    expected = col2im_by_definition(c, shape, stride, padding)
    np.testing.assert_allclose(col2im_reference(c, shape, stride, padding), expected,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(col2im(c, shape, stride, padding), expected, rtol=1e-12,
                               atol=1e-12)


def test_fast_im2col_and_col2im_equal_the_reference_everywhere(rng):
    """Kernels 1-5, strides 1-3 (also larger than the kernel), paddings 0-2 (also larger
    than the kernel), on images whose sizes the strides do not divide: 162 geometries."""
    checked = 0
    for k, s, p, (h, w) in itertools.product(range(1, 6), range(1, 4), range(3),
                                             [(5, 7), (8, 8), (6, 9), (1, 3)]):
        if conv_output_size(h, k, s, p) < 1 or conv_output_size(w, k, s, p) < 1:
            continue
        x = rng.standard_normal((2, 3, h, w))
        col = im2col_reference(x, k, s, p)
        c = rng.standard_normal(col.shape)
        where = f"k={k} stride={s} padding={p} image {h}x{w}"
        np.testing.assert_array_equal(im2col(x, k, s, p), col, err_msg=where)
        np.testing.assert_allclose(col2im(c, x.shape, s, p), col2im_reference(c, x.shape, s, p),
                                   rtol=1e-12, atol=1e-12, err_msg=where)
        checked += 1
    assert checked == 162


# ---------------------------------------------------------------- one algorithm per Function
def test_conv2d_chooses_the_transpose_form_only_where_it_pays():
    w = np.zeros((1, 512, 4, 4))                      # the PatchGAN's last conv
    assert runs_as_transpose(w, 1, 1)
    assert not runs_as_transpose(w, 2, 1)             # stride 2: im2col
    assert not runs_as_transpose(np.zeros((64, 3, 4, 4)), 1, 1)


@pytest.mark.parametrize("padding", [0, 1, 3])
def test_conv2d_as_transpose_equals_im2col_conv_and_its_gradients(rng, padding):
    x = rng.standard_normal((2, 8, 6, 5))
    w = rng.standard_normal((2, 8, 4, 4))
    b = rng.standard_normal(2)
    plain = Conv2dFunction.apply(nn.Tensor(x), nn.Tensor(w), nn.Tensor(b), stride=1,
                                 padding=padding).data
    flipped = Conv2dAsTransposeFunction.apply(nn.Tensor(x), nn.Tensor(w), nn.Tensor(b),
                                              stride=1, padding=padding).data
    np.testing.assert_allclose(flipped, plain, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(plain, conv2d_naive(x, w, b, 1, padding), rtol=1e-10, atol=1e-10)
    inputs = [nn.Tensor(a, requires_grad=True) for a in (x, w, b)]
    nn.gradcheck(lambda x, w, b: Conv2dAsTransposeFunction.apply(x, w, b, stride=1,
                                                                 padding=padding), inputs)


def test_conv2d_routes_through_the_transpose_form(rng, monkeypatch):
    """conv2d() really uses the second Function for a 8 -> 2 stride-1 conv."""
    calls = []
    real = Conv2dAsTransposeFunction.forward
    monkeypatch.setattr(Conv2dAsTransposeFunction, "forward",
                        staticmethod(lambda ctx, *a, **k: calls.append(1) or real(ctx, *a, **k)))
    conv2d(nn.Tensor(rng.standard_normal((1, 8, 5, 5))),
           nn.Tensor(rng.standard_normal((2, 8, 4, 4))), stride=1, padding=1)
    assert calls == [1]


# ---------------------------------------------------------------- Adam
@pytest.mark.parametrize("route", [False, True], ids=["fused", "release route"])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.999)])
def test_fast_adam_equals_the_textbook_update(rng, betas, route, monkeypatch):
    """Several steps, several shapes (one larger than the others, one without a
    gradient on some steps): Adam.step gives the reference's numbers, with its fused
    update and with the update a student release runs (through adam_step_reference)."""
    if route:
        monkeypatch.setattr(Adam, "_update", Adam._update_with_adam_step)
    shapes = [(64, 3, 4, 4), (7,), (3, 5), (1,)]
    params = [nn.Parameter(rng.standard_normal(s)) for s in shapes]
    opt = Adam(params, lr=2e-3, betas=betas, eps=1e-8)
    ref = [(p.data.copy(), np.zeros(p.shape), np.zeros(p.shape), 0) for p in params]
    for step in range(1, 7):
        for i, p in enumerate(params):
            p.grad = None if (i == 2 and step % 3 == 0) else rng.standard_normal(p.shape)
        opt.step()
        for i, p in enumerate(params):
            if p.grad is None:          # no gradient: the parameter and its moments stay
                continue
            value, m, v, _ = ref[i]
            value, m, v = adam_step_reference(value, p.grad, m, v, opt.step_count, lr=2e-3,
                                              betas=betas, eps=1e-8)
            ref[i] = (value, m, v, step)
    for p, (value, m, v, _), fast_m, fast_v in zip(params, ref, opt.exp_avg, opt.exp_avg_sq):
        np.testing.assert_allclose(p.data, value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fast_m, m, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(fast_v, v, rtol=1e-12, atol=1e-14)


def test_adam_reference_first_step_moves_each_weight_by_lr():
    """Bias correction makes the first step -lr * sign(g) whatever the gradient's size."""
    value, m, v = adam_step_reference(np.zeros(3), np.array([1e-3, -5.0, 2.0]), np.zeros(3),
                                      np.zeros(3), 1, lr=0.1, betas=(0.5, 0.999), eps=0)
    np.testing.assert_allclose(value, [-0.1, 0.1, -0.1])
    np.testing.assert_allclose(m, [5e-4, -2.5, 1.0])
