"""The generator (U-Net) and the discriminator (PatchGAN) against the paper's appendix.

Shapes at every level, parameter counts of the full-size networks (the PyTorch port's
numbers), where the biases, BatchNorms and dropouts are, receptive fields, the initial
weights, and a float64 gradient check of each whole network.
"""
import hashlib

import numpy as np
import pytest

import nn
from nn.gradcheck import GradcheckError
from pix2pix.models import (
    NLayerDiscriminator,
    PixelDiscriminator,
    UNetDown,
    UNetUp,
    conv_layers,
    define_D,
    define_G,
)
from pix2pix.models.pix2pix_model import Pix2Pix
from pix2pix.models.resnet import ResnetBlock
from pix2pix.models.unet import dropout_blocks


def n_params(net):
    return sum(int(p.size) for p in net.parameters())


def image(rng, size, channels=3, batch=1):
    return nn.Tensor(rng.uniform(-1, 1, (batch, channels, size, size)).astype(np.float32))


def build_uninitialised(build):
    """Call build() with weight initialisation switched off: counting and inspecting 54M
    parameters does not need their values, and drawing them takes seconds."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("normal_", "uniform_"):
            mp.setattr(nn.init, name, lambda param, *args, **kwargs: param)
        return build()


@pytest.fixture(scope="module")
def full_G():
    """The paper's U-Net (unet_256, ngf 64), built once, never run."""
    return build_uninitialised(lambda: define_G("unet_256", 3, 3, ngf=64))


# --- the U-Net: shapes ----------------------------------------------------------------

def test_unet_256_shapes_at_every_level():
    """Encoder 256 -> 128 -> ... -> 1 and decoder 1 -> 2 -> ... -> 256, with the paper's
    channel counts scaled by ngf / 64 (C64-C128-C256-C512-C512-C512-C512-C512 and the
    decoder's inputs 512-1024-1024-1024-1024-512-256-128)."""
    ngf = 2
    G = define_G("unet_256", ngf=ngf).eval()  # eval: the two forwards below must agree
    x = image(np.random.default_rng(0), 256)
    scale = ngf / 64

    h, skips = x, []
    encoder_channels = [64, 128, 256, 512, 512, 512, 512, 512]
    assert len(G.down) == 8
    for i, block in enumerate(G.down):
        h = block(h)
        size = 256 // 2 ** (i + 1)
        assert h.shape == (1, encoder_channels[i] * scale, size, size), f"encoder block {i}"
        skips.append(h)
    assert h.shape[2:] == (1, 1)
    skips.pop()

    # The decoder's output after the concatenation = the input of the next transposed conv.
    decoder_inputs = [512, 1024, 1024, 1024, 1024, 512, 256, 128]
    assert G.up[0].conv.in_channels == decoder_inputs[0] * scale
    assert len(G.up) == 7
    for j, block in enumerate(G.up):
        h = block(h, skips.pop())
        size = 2 ** (j + 1)
        assert h.shape == (1, decoder_inputs[j + 1] * scale, size, size), f"decoder block {j}"
    assert G.final.conv.in_channels == decoder_inputs[-1] * scale
    out = nn.functional.tanh(G.final(h))
    assert out.shape == (1, 3, 256, 256)
    np.testing.assert_array_equal(out.data, G(x).data)  # the hooks retrace forward exactly


@pytest.mark.parametrize("netG, depth", [("unet_128", 7), ("unet_64", 6), ("unet_32", 5)])
def test_smaller_unets(netG, depth):
    size = 2 ** depth
    G = define_G(netG, ngf=2)
    assert len(G.down) == depth and len(G.up) == depth - 1
    out = G(image(np.random.default_rng(1), size, batch=2))
    assert out.shape == (2, 3, size, size)
    assert np.all(np.abs(out.data) <= 1)  # tanh


def test_unet_other_channel_counts():
    G = define_G("unet_32", input_nc=1, output_nc=2, ngf=2)
    assert G(image(np.random.default_rng(2), 32, channels=1)).shape == (1, 2, 32, 32)


@pytest.mark.parametrize("size", [48, 16, 33])
def test_unet_wrong_input_size_says_which_sizes_work(size):
    G = define_G("unet_32", ngf=2)
    with pytest.raises(ValueError, match=r"multiples of 32.*32x32") as info:
        G(image(np.random.default_rng(3), size))
    assert str(size) in str(info.value)  # and it shows the size it got


def test_unet_accepts_multiples_of_its_size():
    G = define_G("unet_16", ngf=2)
    assert G(image(np.random.default_rng(4), 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("name", ["unet_100", "resnet_3blocks", "unet_2", "unet"])
def test_unknown_generator_names(name):
    with pytest.raises(ValueError, match="unet_256.*resnet_9blocks or resnet_6blocks"):
        define_G(name, ngf=2)


# --- the U-Net: structure --------------------------------------------------------------

def test_unet_256_parameter_count(full_G):
    """54,413,955: the PyTorch port's unet_256 with BatchNorm (3 -> 3 channels)."""
    assert n_params(full_G) == 54_413_955


def test_unet_only_the_last_transposed_conv_has_a_bias(full_G):
    convs = [(name, m) for name, m in full_G.named_modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 8 + 8
    with_bias = [name for name, m in convs if m.bias is not None]
    assert with_bias == ["final.conv"]
    assert full_G.final.conv.out_channels == 3


def test_unet_batchnorm_placement(full_G):
    """No norm on the first encoder conv (it sees the image) nor on the innermost one
    (at 1x1 and batch size 1 BatchNorm would zero the bottleneck); all others have one."""
    norms = [block.norm is not None for block in full_G.down]
    assert norms == [False] + [True] * 6 + [False]
    assert all(block.norm is not None for block in full_G.up)
    assert full_G.final.norm is None
    # A leaky ReLU after every encoder conv but the innermost (the decoder's ReLU follows it).
    assert [block.activation for block in full_G.down] == [True] * 7 + [False]


def test_unet_batchnorm_placement_innermost_at_batch_size_1():
    """Why the innermost conv has no BatchNorm: the 1x1 bottleneck survives batch size 1."""
    G = define_G("unet_16", ngf=2)
    h = image(np.random.default_rng(5), 16)
    for block in G.down:
        h = block(h)
    assert h.shape[2:] == (1, 1)
    assert np.abs(h.data).max() > 1e-3


@pytest.mark.parametrize("placement, blocks", [("paper", {0, 1, 2}), ("pytorch", {1, 2, 3})])
def test_dropout_placement(full_G, placement, blocks):
    """paper: outputs at 2x2, 4x4, 8x8; the PyTorch port: 4x4, 8x8, 16x16 (unet_256)."""
    assert dropout_blocks(8, placement) == blocks
    G = full_G if placement == "paper" else define_G("unet_256", ngf=1,
                                                     dropout_placement="pytorch")
    with_dropout = {j for j, block in enumerate(G.up) if block.dropout is not None}
    assert with_dropout == blocks
    assert G.final.dropout is None
    assert all(block.dropout.p == 0.5 for j, block in enumerate(G.up) if j in blocks)


def test_no_dropout():
    G = define_G("unet_256", ngf=1, use_dropout=False)
    assert not [m for m in G.modules() if isinstance(m, nn.Dropout)]


def test_dropout_placement_unknown():
    with pytest.raises(ValueError, match="paper.*pytorch"):
        define_G("unet_32", ngf=2, dropout_placement="everywhere")


def test_encoder_decoder_ablation_has_no_skips():
    """skips=False: no concatenation anywhere; each transposed conv takes only the previous
    block's output, so the network has fewer parameters."""
    ngf = 2
    with_skips = define_G("unet_32", ngf=ngf)
    G = define_G("unet_32", ngf=ngf, skips=False).eval()
    assert n_params(G) < n_params(with_skips)
    h = image(np.random.default_rng(6), 32)
    for block in G.down:
        h = block(h)
    for j, block in enumerate(G.up):
        assert block.conv.in_channels == h.shape[1]
        h = block(h)  # no skip: the output has only the conv's own channels
        level = len(G.down) - 2 - j
        assert h.shape[1] == block.conv.out_channels == G.down[level].conv.out_channels
    assert G.final.conv.in_channels == h.shape[1] == ngf
    assert G(image(np.random.default_rng(6), 32)).shape == (1, 3, 32, 32)
    # With skips the same decoder sees twice the channels (after block 0).
    assert [b.conv.in_channels for b in with_skips.up][1:] == [2 * b.conv.in_channels
                                                             for b in G.up][1:]


def test_encoder_decoder_ablation_full_size_count():
    """Cutting the skips removes the skip halves of the decoder's input channels."""
    G = build_uninitialised(lambda: define_G("unet_256", ngf=64, skips=False))
    widths = [64, 128, 256, 512, 512, 512, 512, 512]
    # Decoder block j >= 1 meets encoder level 6 - j: its 4x4 transposed conv loses the
    # skip's widths[level + 1] input channels; the final conv loses widths[0] of them.
    lost = sum(widths[level + 1] * widths[level] * 16 for level in range(6)) + widths[0] * 3 * 16
    expected = 54_413_955 - lost
    assert n_params(G) == expected


# --- the PatchGAN ------------------------------------------------------------------------

def test_patchgan_parameter_count():
    """2,768,705: the 70x70 PatchGAN of the PyTorch port with a 6-channel input."""
    D = build_uninitialised(lambda: define_D("basic", input_nc=6, ndf=64))
    assert n_params(D) == 2_768_705


def test_patchgan_biases_only_on_first_and_last_conv():
    D = define_D("basic", input_nc=6, ndf=4)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]
    strides = [c.stride for c in convs]
    assert strides == [2, 2, 2, 1, 1]
    norms = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [n.num_features for n in norms] == [8, 16, 32]  # none after C64


def test_patchgan_output_is_30x30_for_256():
    D = define_D("basic", input_nc=6, ndf=2)
    out = D(image(np.random.default_rng(7), 256, channels=6))
    assert out.shape == (1, 1, 30, 30)


def test_conditional_and_unconditional_discriminator_inputs():
    cond = Pix2Pix(netG="unet_32", ngf=2, ndf=2)
    uncond = Pix2Pix(netG="unet_32", ngf=2, ndf=2, conditional_D=False)
    assert cond.netD.model[0].in_channels == 6
    assert uncond.netD.model[0].in_channels == 3
    assert cond.netD(image(np.random.default_rng(8), 32, channels=6)).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match="expected input"):
        uncond.netD(image(np.random.default_rng(8), 32, channels=6))


def test_pixel_discriminator():
    D = define_D("pixel", input_nc=6, ndf=4)
    assert isinstance(D, PixelDiscriminator)
    out = D(image(np.random.default_rng(9), 16, channels=6))
    assert out.shape == (1, 1, 16, 16)


def test_unknown_discriminator():
    with pytest.raises(ValueError, match="basic, n_layers or pixel"):
        define_D("global")


@pytest.mark.exercise("8.1", "the paper's receptive fields")
def test_receptive_fields(implementation):
    """70 for the paper's PatchGAN; 16/34/70/142/286 for n_layers 1..5; 1 for PixelGAN."""
    field = implementation
    assert field(conv_layers(define_D("basic", ndf=1))) == 70
    expected = {1: 16, 2: 34, 3: 70, 4: 142, 5: 286}
    for n, size in expected.items():
        assert field(conv_layers(define_D("n_layers", ndf=1, n_layers_D=n))) == size, n
    assert field(conv_layers(define_D("pixel", ndf=1))) == 1
    assert field([]) == 1
    assert field([(3, 1), (3, 1)]) == 5
    assert field([(2, 2), (2, 2)]) == 4


def test_receptive_field_measured_by_backprop():
    """Independent of the formula: the input pixels that move one logit of the 70x70
    PatchGAN span exactly 70x70 (eval mode, so BatchNorm does not mix pixels)."""
    D = define_D("basic", input_nc=1, ndf=2).eval()
    x = nn.Tensor(np.random.default_rng(10).uniform(-1, 1, (1, 1, 160, 160)).astype(np.float32),
                  requires_grad=True)
    out = D(x)
    r, c = out.shape[2] // 2, out.shape[3] // 2
    upstream = np.zeros(out.shape, dtype=np.float32)
    upstream[0, 0, r, c] = 1
    out.backward(upstream)
    rows, cols = np.nonzero(np.abs(x.grad[0, 0]) > 0)
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


# --- initialisation -----------------------------------------------------------------------

def test_init_weights_statistics():
    """N(0, 0.02) conv weights, N(1, 0.02) BatchNorm weights, zero biases."""
    G = define_G("unet_256", ngf=8)
    conv_w = np.concatenate([m.weight.data.ravel() for m in G.modules()
                             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(conv_w.mean()) < 1e-4
    assert conv_w.std() == pytest.approx(0.02, rel=0.01)
    bn_w = np.concatenate([m.weight.data for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    bn_b = np.concatenate([m.bias.data for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert bn_w.mean() == pytest.approx(1.0, abs=0.005)
    assert bn_w.std() == pytest.approx(0.02, rel=0.1)
    assert np.all(bn_b == 0)
    assert np.all(G.final.conv.bias.data == 0)
    D = define_D("basic", ndf=16)
    d_w = np.concatenate([m.weight.data.ravel() for m in D.modules() if isinstance(m, nn.Conv2d)])
    assert d_w.std() == pytest.approx(0.02, rel=0.02)
    assert all(np.all(m.bias.data == 0) for m in D.modules()
               if isinstance(m, nn.Conv2d) and m.bias is not None)



# sha256 of the float32 weights (state_dict in key order) of define_G("unet_32", 3, 3, 4,
# seed=3) and define_D("basic", 6, 4, seed=3), saved from the code before --init_type was
# passed into the builders (it then initialised twice): the default init must not move a bit.
PAPER_INIT_SHA256 = {
    "G": "0b1e8077898f8109cd023fa737bf978a7151f848285bcddad8ef1f9cc6a3a6e9",
    "D": "7b8e4e8b5d91c6c2592d1ade559ffedf9a32d856abb4cc8e47c6cf20318358a2",
}


def _weights_sha256(net):
    digest = hashlib.sha256()
    for name, value in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(np.asarray(value, np.float32)).tobytes())
    return digest.hexdigest()


def test_default_init_is_bit_identical_to_the_saved_weights():
    assert _weights_sha256(define_G("unet_32", 3, 3, 4, seed=3)) == PAPER_INIT_SHA256["G"]
    assert _weights_sha256(define_D("basic", 6, 4, seed=3)) == PAPER_INIT_SHA256["D"]
    model = Pix2Pix(netG="unet_32", ngf=4, ndf=4, seed=3)      # through the model, too
    assert _weights_sha256(model.netG) == PAPER_INIT_SHA256["G"]
    assert _weights_sha256(model.netD) == PAPER_INIT_SHA256["D"]

def test_init_depends_on_seed_only():
    a, b, c = (define_G("unet_32", ngf=2, seed=s) for s in (0, 0, 1))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert any(not np.array_equal(pa.data, pc.data)
               for pa, pc in zip(a.parameters(), c.parameters()) if pa.size > 3)


# --- gradient checks of the whole networks -------------------------------------------

# A step of 1e-7 along a random direction of every parameter and input pixel at once: with
# 1e-6, a few thousand ReLU / leaky-ReLU inputs near 0 sometimes straddle their kink
# (about 1 seed in 10 for unet_32); 1e-7 keeps clear of them and float64 keeps the
# rounding error near 1e-9 relative.
EPS = 1e-7


def to_float64(net):
    """Parameters and buffers in float64, in place (finite differences need it)."""
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    for module in net.modules():
        for name, buf in list(module._buffers.items()):
            module.register_buffer(name, buf.astype(np.float64))
    return net


@pytest.mark.parametrize("netG, batch", [("unet_16", 2), ("unet_32", 1)])
def test_unet_gradcheck_direction(netG, batch):
    """<grad, d> from backward vs a centered difference along a random direction d of the
    input and every parameter at once (training mode: batch statistics; no dropout)."""
    G = to_float64(define_G(netG, ngf=2, use_dropout=False, seed=3))
    size = int(netG.split("_")[1])
    x = nn.Tensor(np.random.default_rng(11).uniform(-1, 1, (batch, 3, size, size)),
                  requires_grad=True)
    params = list(G.parameters())
    report = nn.gradcheck_direction(lambda x, *ps: G(x), [x] + params, eps=EPS, tol=1e-6)
    assert report["rel_error"] < 1e-6
    assert abs(report["analytic"]) > 1e-3  # a non-trivial directional derivative


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_resnet_gradcheck_direction(norm):
    """The ResNet generator: reflection pads, residual blocks (x used twice), the
    output_padding up-sampling; training mode, no dropout."""
    G = to_float64(define_G("resnet_6blocks", ngf=2, norm=norm, use_dropout=False, seed=5))
    x = nn.Tensor(np.random.default_rng(13).uniform(-1, 1, (2, 3, 8, 12)), requires_grad=True)
    report = nn.gradcheck_direction(lambda x, *ps: G(x), [x] + list(G.parameters()), eps=EPS,
                                    tol=1e-6)
    assert abs(report["analytic"]) > 1e-3


def test_resnet_block_adds_both_paths_gradients():
    """x + block(x): x's gradient is the upstream one plus the block's (the tape's +=)."""
    block = to_float64(ResnetBlock(2, norm="none"))
    x = nn.Tensor(np.random.default_rng(14).uniform(-1, 1, (1, 2, 4, 4)), requires_grad=True)
    upstream = np.random.default_rng(15).standard_normal((1, 2, 4, 4))
    block(x).backward(upstream)
    through_block = nn.Tensor(x.data.copy(), requires_grad=True)
    block.conv_block(through_block).backward(upstream)
    np.testing.assert_allclose(x.grad, upstream + through_block.grad, rtol=1e-12)


def test_resnet_needs_sides_that_are_multiples_of_4():
    with pytest.raises(ValueError, match="multiples of 4"):
        define_G("resnet_6blocks", ngf=2)(nn.Tensor(np.zeros((1, 3, 10, 12), np.float32)))


def test_patchgan_gradcheck_direction():
    D = to_float64(define_D("basic", input_nc=6, ndf=4, seed=4))
    x = nn.Tensor(np.random.default_rng(12).uniform(-1, 1, (2, 6, 32, 32)), requires_grad=True)
    report = nn.gradcheck_direction(lambda x, *ps: D(x), [x] + list(D.parameters()), eps=EPS,
                                    tol=1e-6)
    assert abs(report["analytic"]) > 1e-3


class CatDroppingSkipGradient(nn.Function):
    """A broken concatenation: its backward forgets the second input's gradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.split = a.shape[1]
        return np.concatenate([a, b], axis=1)

    @staticmethod
    def backward(ctx, grad):
        return grad[:, :ctx.split], np.zeros_like(grad[:, ctx.split:])


def test_unet_gradcheck_catches_a_lost_skip_gradient(monkeypatch):
    """The check above can fail: with a backward that loses the skips' gradient (a tensor
    used twice must get the sum of both gradients) it raises."""
    G = to_float64(define_G("unet_16", ngf=2, use_dropout=False, seed=3))
    x = nn.Tensor(np.random.default_rng(13).uniform(-1, 1, (2, 3, 16, 16)), requires_grad=True)
    monkeypatch.setattr(nn.functional, "cat", lambda ts, dim=1: CatDroppingSkipGradient.apply(*ts))
    with pytest.raises(GradcheckError):
        nn.gradcheck_direction(lambda x, *ps: G(x), [x] + list(G.parameters()), eps=EPS,
                               tol=1e-6)


def test_building_blocks():
    rng = np.random.default_rng(14)
    down = UNetDown(3, 8)
    assert down(image(rng, 16)).shape == (1, 8, 8, 8)
    up = UNetUp(8, 4)
    assert up(image(rng, 8, channels=8), image(rng, 16, channels=5)).shape == (1, 9, 16, 16)
    assert isinstance(define_D("n_layers", n_layers_D=2), NLayerDiscriminator)
