"""PyTorch as the oracle: the same weights and inputs in both libraries, float32, forward
AND backward (input, weight and bias gradients, from a random upstream gradient) must
agree to about 1e-5 relative to the output's scale. The library never imports torch;
only these tests do, and they are skipped where it is not installed.
"""
import numpy as np
import pytest

import nn
import nn.functional as F

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.needs_torch

RTOL = 1e-5


def device_of(xp):
    return "cpu" if xp is np else "cuda"


def assert_close(ours, theirs, rtol=RTOL):
    """Elementwise, with an absolute slack of rtol * the largest |value|: float32 sums in
    another order differ by that much, also where single elements are near 0."""
    theirs = theirs.detach().numpy()
    ours = nn.to_numpy(ours)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * float(np.abs(theirs).max()))


def copy_parameters(ours, theirs):
    """Our parameter values into the torch module's parameters of the same name."""
    theirs_by_name = dict(theirs.named_parameters())
    assert set(theirs_by_name) == {name for name, _ in ours.named_parameters()}
    with torch.no_grad():
        for name, p in ours.named_parameters():
            theirs_by_name[name].copy_(torch.from_numpy(nn.to_numpy(p.data)))


def check_layer(xp, rng, ours, theirs, x_np):
    """Forward, then backward of a random upstream gradient: output, d/dx, d/dparams."""
    ours.to(device_of(xp))
    copy_parameters(ours, theirs)
    x = nn.Tensor(xp.asarray(x_np), requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert_close(y.data, ty)
    upstream = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(xp.asarray(upstream))
    ty.backward(torch.from_numpy(upstream))
    assert_close(x.grad, tx.grad)
    theirs_by_name = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_by_name[name].grad)


def normal32(rng, shape, scale=1.0, shift=0.0):
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


CONVS = [  # (layer, C_in, C_out, k, stride, padding, input (H, W))
    ("Conv2d", 3, 8, 4, 2, 1, (11, 9)),          # pix2pix's encoder convolution
    ("Conv2d", 3, 8, 3, 1, 1, (11, 9)),
    ("Conv2d", 3, 8, 3, 2, 0, (11, 9)),
    ("Conv2d", 16, 1, 4, 1, 1, (7, 6)),          # the PatchGAN's last: run as a transposed conv
    ("ConvTranspose2d", 8, 3, 4, 2, 1, (5, 4)),  # the decoder's, doubling the size
    ("ConvTranspose2d", 8, 3, 3, 1, 0, (5, 4)),
    ("ConvTranspose2d", 8, 3, 3, 2, 1, (5, 4)),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("layer, c_in, c_out, k, s, p, size", CONVS,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_convolutions_match_torch(xp, rng, layer, c_in, c_out, k, s, p, size, bias):
    ours = getattr(nn, layer)(c_in, c_out, kernel_size=k, stride=s, padding=p, bias=bias)
    theirs = getattr(torch.nn, layer)(c_in, c_out, kernel_size=k, stride=s, padding=p, bias=bias)
    check_layer(xp, rng, ours, theirs, normal32(rng, (2, c_in) + size))


@pytest.mark.parametrize("padding", [1, 3])
def test_reflection_pad_matches_torch(xp, rng, padding):
    check_layer(xp, rng, nn.ReflectionPad2d(padding), torch.nn.ReflectionPad2d(padding),
                normal32(rng, (2, 3, 5, 7)))


def test_conv_transpose_with_output_padding_matches_torch(xp, rng):
    """The ResNet generator's up-sampling: k 3, s 2, p 1, output_padding 1."""
    check_layer(xp, rng, nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                normal32(rng, (2, 4, 5, 6)))


@pytest.mark.parametrize("batch", [4, 1], ids=["batch4", "batch1"])
def test_batchnorm2d_train_then_eval_matches_torch(xp, rng, batch):
    """Training: batch statistics, and the running statistics after the step (momentum
    0.1, unbiased variance). Then eval: the running statistics. Forward and backward."""
    ours, theirs = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    ours.to(device_of(xp))
    ours.weight.data[...] = xp.asarray(normal32(rng, 4, 0.3, 1.0))
    ours.bias.data[...] = xp.asarray(normal32(rng, 4))
    check_layer(xp, rng, ours, theirs, normal32(rng, (batch, 4, 5, 3), 2.0, 1.0))
    assert_close(ours.running_mean, theirs.running_mean)
    assert_close(ours.running_var, theirs.running_var)

    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    check_layer(xp, rng, ours, theirs, normal32(rng, (batch, 4, 5, 3), 2.0, 1.0))


ACTIVATIONS = {
    "leaky_relu": (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    "relu": (nn.ReLU, torch.nn.ReLU),
    "tanh": (nn.Tanh, torch.nn.Tanh),
    "sigmoid": (nn.Sigmoid, torch.nn.Sigmoid),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(xp, rng, name):
    """Inputs include large magnitudes (+-20) and keep away from the kink at 0."""
    make_ours, make_theirs = ACTIVATIONS[name]
    x = rng.uniform(0.01, 3.0, (2, 3, 4, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4, 4))
    x[0, 0, 0, :2] = [20.0, -20.0]
    check_layer(xp, rng, make_ours(), make_theirs(), x.astype(np.float32))


LOSSES = {
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        torch.nn.functional.binary_cross_entropy_with_logits, "probability"),
    "bce_with_logits-real": (lambda x, t: F.binary_cross_entropy_with_logits(x, 1.0),
                             lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
                                 x, torch.ones_like(x)), "probability"),
    "l1": (F.l1_loss, torch.nn.functional.l1_loss, "normal"),
    "mse": (F.mse_loss, torch.nn.functional.mse_loss, "normal"),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_matches_torch(xp, rng, name):
    """The value and d loss / d input (a random scale on the scalar loss as upstream)."""
    ours_fn, theirs_fn, target_kind = LOSSES[name]
    x_np = normal32(rng, (2, 1, 4, 4), 3.0)
    t_np = (rng.uniform(0, 1, x_np.shape) if target_kind == "probability"
            else rng.standard_normal(x_np.shape)).astype(np.float32)
    x = nn.Tensor(xp.asarray(x_np), requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    loss = ours_fn(x, nn.Tensor(xp.asarray(t_np)))
    t_loss = theirs_fn(tx, torch.from_numpy(t_np))
    assert_close(loss.data, t_loss)
    upstream = np.float32(rng.standard_normal())
    loss.backward(xp.asarray(upstream))
    t_loss.backward(torch.tensor(upstream))
    assert_close(x.grad, tx.grad)


def test_adam_matches_torch(xp, rng):
    """Five steps of pix2pix's Adam (lr 2e-4, betas (0.5, 0.999)) on the same float32
    parameters with the same gradients, compared after every step."""
    shapes = [(8, 3, 4, 4), (8,)]
    values = [normal32(rng, s) for s in shapes]
    ours = [nn.Parameter(xp.asarray(v.copy())) for v in values]  # Adam updates in place
    theirs = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in values]
    opt = nn.Adam(ours, lr=2e-4, betas=(0.5, 0.999))
    t_opt = torch.optim.Adam(theirs, lr=2e-4, betas=(0.5, 0.999))
    for _ in range(5):
        for p, tp, shape in zip(ours, theirs, shapes):
            g = normal32(rng, shape, 0.1)
            p.grad = xp.asarray(g)
            tp.grad = torch.from_numpy(g)
        opt.step()
        t_opt.step()
        for p, tp in zip(ours, theirs):
            np.testing.assert_allclose(nn.to_numpy(p.data), tp.detach().numpy(), rtol=0,
                                       atol=1e-6)
    moved = np.abs(nn.to_numpy(ours[0].data) - values[0]).max()
    assert moved > 5e-4  # five steps of about lr each: the comparison is not vacuous


def test_training_step_matches_torch(xp, rng):
    """A whole step on a small encoder-decoder: forward, L1 + BCE loss, backward,
    Adam update. Parameters and running statistics must agree afterwards."""
    def build(lib):
        # No bias before BatchNorm (as in pix2pix): BN subtracts it again, so its true
        # gradient is 0, and Adam would turn the rounding noise of that 0 into full-size
        # steps of random sign, different in each library.
        return lib.Sequential(lib.Conv2d(3, 8, 4, 2, 1, bias=False), lib.BatchNorm2d(8),
                              lib.LeakyReLU(0.2), lib.ConvTranspose2d(8, 3, 4, 2, 1), lib.Tanh())

    ours, theirs = build(nn).to(device_of(xp)), build(torch.nn)
    copy_parameters(ours, theirs)
    x_np, target_np = normal32(rng, (2, 3, 8, 8)), normal32(rng, (2, 3, 8, 8), 0.5)
    opt = nn.Adam(ours.parameters(), lr=2e-4, betas=(0.5, 0.999))
    t_opt = torch.optim.Adam(theirs.parameters(), lr=2e-4, betas=(0.5, 0.999))

    out = ours(nn.Tensor(xp.asarray(x_np)))
    loss = F.l1_loss(out, nn.Tensor(xp.asarray(target_np))) * 100.0 + \
        F.binary_cross_entropy_with_logits(out, 1.0)
    t_out = theirs(torch.from_numpy(x_np))
    t_loss = torch.nn.functional.l1_loss(t_out, torch.from_numpy(target_np)) * 100.0 + \
        torch.nn.functional.binary_cross_entropy_with_logits(t_out, torch.ones_like(t_out))
    assert loss.item() == pytest.approx(t_loss.item(), rel=RTOL)
    loss.backward()
    t_loss.backward()
    opt.step()
    t_opt.step()
    t_state = theirs.state_dict()
    for name, array in ours.state_dict().items():
        np.testing.assert_allclose(nn.to_numpy(array), t_state[name].numpy(), rtol=0, atol=1e-6,
                                   err_msg=name)
