"""Convolution: the fast im2col path against the naive loops, adjointness, shapes, errors.

The naive versions in nn/ops/conv.py are the definitions (a loop over output pixels; each
input pixel stamping its kernel); the fast versions are im2col + one matrix multiply.
Gradients are checked in test_gradcheck_ops.py.
"""
import numpy as np
import pytest

import nn
import nn.functional as F
from nn.ops.conv import conv2d_naive, conv_transpose2d_naive
from nn.ops.im2col import col2im, conv_output_size


def array64(xp, rng, shape):
    return xp.asarray(rng.standard_normal(shape))


def inner(a, b):
    """<a, b>: the sum of the elementwise product, as a Python float."""
    return float((nn.to_numpy(a) * nn.to_numpy(b)).sum())


def compare_with_naive(Op, naive, xp, rng, x_shape, weight_shape, bias_size, stride, padding):
    """Op.apply equals the naive loop on random float64 arrays (no bias if bias_size is 0).
    Returns the output's shape."""
    x, weight = array64(xp, rng, x_shape), array64(xp, rng, weight_shape)
    b = array64(xp, rng, (bias_size,)) if bias_size else None
    fast = Op.apply(nn.Tensor(x), nn.Tensor(weight), None if b is None else nn.Tensor(b),
                    stride=stride, padding=padding)
    expected = naive(x, weight, b, stride=stride, padding=padding)
    np.testing.assert_allclose(nn.to_numpy(fast.data), nn.to_numpy(expected), rtol=1e-10,
                               atol=1e-12)
    return fast.shape


# (N, C_in, C_out, H, W, k, stride, padding): batch > 1, strides 1 and 2, paddings 0-2,
# non-square images, sizes that stride 2 does not divide evenly.
CONV_SHAPES = [
    (2, 3, 4, 7, 9, 3, 1, 0),
    (2, 3, 4, 8, 6, 4, 2, 1),
    (1, 2, 3, 9, 5, 3, 2, 2),
    (3, 1, 2, 6, 6, 1, 1, 0),
    (2, 2, 2, 5, 7, 5, 1, 2),
    (1, 3, 2, 7, 4, 4, 2, 1),
]


@pytest.mark.exercise("3.2", "forward values against the naive loop")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv2d_matches_naive(implementation, xp, rng, shape, bias):
    """im2col + matmul computes exactly the textbook sum over the kernel window."""
    n, c_in, c_out, h, w, k, s, p = shape
    out_shape = compare_with_naive(implementation, conv2d_naive, xp, rng, (n, c_in, h, w),
                                   (c_out, c_in, k, k), c_out if bias else 0, s, p)
    assert out_shape == (n, c_out, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))


# (N, C_in, C_out, H, W, k, stride, padding)
CONV_T_SHAPES = [
    (2, 3, 2, 4, 4, 4, 2, 1),
    (1, 2, 3, 3, 5, 3, 1, 0),
    (2, 2, 2, 3, 2, 3, 2, 1),
    (1, 3, 2, 4, 3, 1, 1, 0),
    (2, 1, 3, 2, 3, 5, 2, 2),
]


@pytest.mark.exercise("4.1", "forward values against the naive loop")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("shape", CONV_T_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_transpose2d_matches_naive(implementation, xp, rng, shape, bias):
    """matmul + col2im computes exactly "every input pixel stamps its weighted kernel"."""
    n, c_in, c_out, h, w, k, s, p = shape
    out_shape = compare_with_naive(implementation, conv_transpose2d_naive, xp, rng,
                                   (n, c_in, h, w), (c_in, c_out, k, k), c_out if bias else 0,
                                   s, p)
    assert out_shape == (n, c_out, (h - 1) * s - 2 * p + k, (w - 1) * s - 2 * p + k)


# (H, W, k, stride, padding) where conv_transpose2d maps conv2d's output size back to (H, W)
ADJOINT_SHAPES = [(8, 6, 4, 2, 1), (5, 7, 3, 1, 1), (6, 5, 3, 1, 0), (4, 3, 1, 1, 0),
                  (9, 7, 5, 2, 2)]


@pytest.mark.exercise("4.1", "the adjoint identity with conv2d")
@pytest.mark.parametrize("shape", ADJOINT_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_transpose_is_the_adjoint_of_conv(implementation, xp, rng, shape):
    """<conv(x), y> == <x, conv_transpose(y)> for the same weight (no bias): the transposed
    convolution is, by definition, the transpose of convolution's linear map. That is why
    its forward is conv's input-gradient, and its input-gradient is a plain conv."""
    ConvT = implementation
    h, w, k, s, p = shape
    weight = array64(xp, rng, (4, 3, k, k))                     # conv: 3 -> 4 channels
    x = array64(xp, rng, (2, 3, h, w))
    y = array64(xp, rng, (2, 4, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)))
    conv_x = F.conv2d(nn.Tensor(x), nn.Tensor(weight), stride=s, padding=p)
    conv_t_y = ConvT.apply(nn.Tensor(y), nn.Tensor(weight), None, stride=s, padding=p)
    assert conv_t_y.shape == x.shape
    lhs, rhs = inner(conv_x.data, y), inner(x, conv_t_y.data)
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0)


def test_output_size_formula_for_pix2pix():
    """4x4 stride-2 padding-1 halves the size: 256 -> 128 in the encoder, and the
    transposed convolution with the same settings doubles it back to 256 in the decoder.
    Eight such layers take a 256x256 image to the 1x1 bottleneck of the U-Net."""
    x = nn.Tensor(np.zeros((1, 1, 256, 256), dtype=np.float32))
    down = F.conv2d(x, nn.Tensor(np.zeros((2, 1, 4, 4), dtype=np.float32)), stride=2, padding=1)
    assert down.shape == (1, 2, 128, 128)
    up = F.conv_transpose2d(down, nn.Tensor(np.zeros((2, 1, 4, 4), dtype=np.float32)),
                            stride=2, padding=1)
    assert up.shape == (1, 1, 256, 256)
    sizes = [256]
    for _ in range(8):
        sizes.append(conv_output_size(sizes[-1], 4, 2, 1))
    assert sizes == [256, 128, 64, 32, 16, 8, 4, 2, 1]
    assert conv_output_size(7, 3, 2, 0) == 3  # floor((7 - 3) / 2) + 1


# --- im2col -----------------------------------------------------------------------------

IM2COL_SHAPES = [(2, 3, 5, 6, 3, 1, 1), (1, 2, 8, 8, 4, 2, 1), (2, 1, 7, 5, 3, 2, 0),
                 (1, 2, 4, 4, 1, 1, 0), (1, 1, 5, 5, 5, 1, 2), (1, 2, 8, 7, 3, 3, 1)]


@pytest.mark.exercise("3.1", "every column element against the definition")
@pytest.mark.parametrize("shape", IM2COL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_im2col_matches_its_definition(implementation, xp, rng, shape):
    """col[c, i, j, n, y, x'] = x_padded[n, c, y * stride + i, x' * stride + j]."""
    im2col = implementation
    n, c, h, w, k, s, p = shape
    x = rng.standard_normal((n, c, h, w))
    col = nn.to_numpy(im2col(xp.asarray(x), k, s, p))
    ho, wo = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
    assert col.shape == (c, k, k, n, ho, wo)
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    expected = np.empty_like(col)
    for i in range(k):
        for j in range(k):
            for y in range(ho):
                for x_ in range(wo):
                    expected[:, i, j, :, y, x_] = padded[:, :, y * s + i, x_ * s + j].T
    np.testing.assert_array_equal(col, expected)


@pytest.mark.exercise("3.1", "adjoint of col2im")
@pytest.mark.parametrize("shape", IM2COL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_im2col_and_col2im_are_adjoint(implementation, xp, rng, shape):
    """<im2col(x), c> == <x, col2im(c)>: col2im adds every column entry back where im2col
    copied it from, which is exactly what conv's input-gradient needs."""
    im2col = implementation
    n, c, h, w, k, s, p = shape
    x = array64(xp, rng, (n, c, h, w))
    col = im2col(x, k, s, p)
    c_rand = array64(xp, rng, col.shape)
    lhs, rhs = inner(col, c_rand), inner(x, col2im(c_rand, x.shape, s, p))
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0)


# --- layers and their errors --------------------------------------------------------------

def test_conv_layers_have_pytorch_parameter_shapes():
    """Conv2d weight: (out, in, k, k); ConvTranspose2d weight: (in, out, k, k)."""
    conv = nn.Conv2d(3, 64, kernel_size=4, stride=2, padding=1)
    assert conv.weight.shape == (64, 3, 4, 4) and conv.bias.shape == (64,)
    conv_t = nn.ConvTranspose2d(64, 3, kernel_size=4, stride=2, padding=1, bias=False)
    assert conv_t.weight.shape == (64, 3, 4, 4) and conv_t.bias is None
    assert [name for name, _ in conv_t.named_parameters()] == ["weight"]
    assert conv.weight.dtype == np.float32


def test_conv2d_layer_shape_mismatch_names_the_layer_and_both_shapes():
    """A wrong channel count deep inside a U-Net should say which layer and what it got."""
    conv = nn.Conv2d(3, 64, kernel_size=4, stride=2, padding=1)
    with pytest.raises(ValueError) as error:
        conv(nn.Tensor(np.zeros((1, 4, 8, 8), dtype=np.float32)))
    message = str(error.value)
    assert "Conv2d(3, 64" in message
    assert "(N, 3, H, W)" in message and "(1, 4, 8, 8)" in message


def test_conv_transpose2d_layer_shape_mismatch_names_the_layer():
    conv_t = nn.ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(8, 4.*\(N, 8, H, W\).*\(2, 4, 3, 3\)"):
        conv_t(nn.Tensor(np.zeros((2, 4, 3, 3), dtype=np.float32)))


def test_conv2d_rejects_a_3d_input_and_an_input_smaller_than_the_kernel():
    weight = nn.Tensor(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="4-D input"):
        F.conv2d(nn.Tensor(np.zeros((1, 8, 8))), weight)
    with pytest.raises(ValueError, match="smaller than the 4x4 kernel"):
        F.conv2d(nn.Tensor(np.zeros((1, 1, 2, 2))), weight)
