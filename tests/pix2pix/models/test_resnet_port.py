"""Our ResnetGenerator against the port's, built in torch here (networks.py of
junyanz/pytorch-CycleGAN-and-pix2pix, written out): the same state-dict names, shapes and
parameter counts, the same outputs and gradients, and its saved weights load through
pix2pix/files/official.py without torch."""
import functools

import numpy as np
import pytest

import nn
from pix2pix.files.official import load_official_generator
from pix2pix.models import define_G

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.needs_torch
tnn = torch.nn


class PortResnetBlock(tnn.Module):
    def __init__(self, dim, norm_layer, use_dropout, use_bias):
        super().__init__()
        block = [tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim),
                 tnn.ReLU(True)]
        if use_dropout:
            block += [tnn.Dropout(0.5)]
        block += [tnn.ReflectionPad2d(1), tnn.Conv2d(dim, dim, 3, bias=use_bias), norm_layer(dim)]
        self.conv_block = tnn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class PortResnetGenerator(tnn.Module):
    def __init__(self, input_nc, output_nc, ngf, norm, use_dropout, n_blocks):
        super().__init__()
        norm_layer = {"batch": functools.partial(tnn.BatchNorm2d, affine=True,
                                                 track_running_stats=True),
                      "instance": functools.partial(tnn.InstanceNorm2d, affine=False,
                                                    track_running_stats=False),
                      "none": lambda channels: tnn.Identity()}[norm]
        use_bias = norm == "instance"
        model = [tnn.ReflectionPad2d(3), tnn.Conv2d(input_nc, ngf, 7, bias=use_bias),
                 norm_layer(ngf), tnn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [tnn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1,
                                 bias=use_bias), norm_layer(ngf * mult * 2), tnn.ReLU(True)]
        model += [PortResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias)
                  for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [tnn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                          output_padding=1, bias=use_bias),
                      norm_layer(ngf * mult // 2), tnn.ReLU(True)]
        model += [tnn.ReflectionPad2d(3), tnn.Conv2d(ngf, output_nc, 7), tnn.Tanh()]
        self.model = tnn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


def shapes(state):
    return {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}


@pytest.mark.parametrize("netG,n_blocks", [("resnet_9blocks", 9), ("resnet_6blocks", 6)])
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("dropout", [True, False])
def test_names_shapes_and_parameter_counts_are_the_ports(netG, n_blocks, norm, dropout):
    ours = define_G(netG, 3, 2, 8, norm, dropout)
    theirs = PortResnetGenerator(3, 2, 8, norm, dropout, n_blocks)
    assert shapes(ours.state_dict()) == shapes(theirs.state_dict())
    assert (sum(p.data.size for p in ours.parameters())
            == sum(p.numel() for p in theirs.parameters()))


def test_the_full_size_resnet_9blocks_has_the_ports_11_4_million_parameters():
    ours = define_G("resnet_9blocks", 3, 3, 64, "batch")
    assert sum(p.data.size for p in ours.parameters()) == sum(
        p.numel() for p in PortResnetGenerator(3, 3, 64, "batch", True, 9).parameters())


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_forward_and_backward_match_the_ports(norm):
    rng = np.random.default_rng(0)
    ours = define_G("resnet_6blocks", 3, 3, 4, norm, use_dropout=False, seed=1)
    theirs = PortResnetGenerator(3, 3, 4, norm, False, 6)
    theirs.load_state_dict({k: torch.from_numpy(nn.to_numpy(v))
                            for k, v in ours.state_dict().items()}, strict=False)
    x_np = rng.uniform(-1, 1, (2, 3, 16, 12)).astype(np.float32)
    x, tx = nn.Tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-5)
    upstream = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(upstream)
    ty.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), atol=1e-5 * np.abs(tx.grad.numpy()).max())
    theirs_params = dict(theirs.named_parameters())
    # One scale for all: a conv bias before instance norm has a gradient of exactly 0 in
    # exact arithmetic, so both libraries give rounding noise there.
    scale = max(float(p.grad.abs().max()) for p in theirs.parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), rtol=1e-3,
                                   atol=1e-4 * scale, err_msg=name)


@pytest.mark.parametrize("norm,dropout", [("batch", True), ("instance", False)])
def test_the_ports_saved_resnet_weights_load_without_torch(tmp_path, norm, dropout):
    torch.manual_seed(0)
    theirs = PortResnetGenerator(3, 3, 4, norm, dropout, 9).eval()
    with torch.no_grad():  # running statistics that are not the defaults
        for module in theirs.modules():
            if isinstance(module, tnn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "latest_net_G.pth"
    torch.save(theirs.state_dict(), path)
    ours = load_official_generator(path)
    ours.eval()
    x_np = np.random.default_rng(1).uniform(-1, 1, (1, 3, 16, 16)).astype(np.float32)
    with nn.no_grad():
        y = ours(nn.Tensor(x_np)).data
    np.testing.assert_allclose(y, theirs(torch.from_numpy(x_np)).detach().numpy(), atol=1e-5)
    dropouts = [m for m in ours.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == (9 if dropout else 0)
