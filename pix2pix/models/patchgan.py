"""PatchGAN discriminators (paper appendix 6.1.2) and their receptive fields.

A PatchGAN is a fully convolutional net: it outputs a map of logits, each one judging
whether one patch of the input is real. The 70x70 PatchGAN maps 256x256 to 30x30.
Module names follow the official PyTorch port ("model.0.weight", ...).
"""
import nn

from .norms import conv_bias, norm_layer


def _conv_norm_act(in_ch, out_ch, stride, norm):
    layers = [nn.Conv2d(in_ch, out_ch, 4, stride=stride, padding=1, bias=conv_bias(norm)),
              norm_layer(norm, out_ch), nn.LeakyReLU(0.2)]
    return [layer for layer in layers if layer is not None]


class NLayerDiscriminator(nn.Module):
    """C64 - C128 - ... then a 1-channel conv; n_layers=3 is the 70x70 PatchGAN.

    x: (N, input_nc, H, W) -> logits (N, 1, H', W'); (N, 6, 256, 256) -> (N, 1, 30, 30).
    The first n_layers convs have stride 2 except the last of them (stride 1), as in
    both reference codes; C64 has no norm.
    """

    def __init__(self, input_nc=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        width = ndf
        for n in range(1, n_layers + 1):
            new_width = ndf * min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += _conv_norm_act(width, new_width, stride, norm)
            width = new_width
        layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)

    def paper_spec(self):
        """The appendix's notation: "C64-C128-C256-C512" for the 70x70 PatchGAN (every conv
        before the last, 1-channel one, by its filters)."""
        return _spec(self.model)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("PixelGAN"): judges every pixel on its own colour.

    x: (N, input_nc, H, W) -> logits (N, 1, H, W).
    """

    def __init__(self, input_nc=6, ndf=64, norm="batch"):
        super().__init__()
        layers = [nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2),
                  nn.Conv2d(ndf, ndf * 2, 1, bias=conv_bias(norm))]
        layers = [layer for layer in layers + [norm_layer(norm, ndf * 2)] if layer is not None]
        layers += [nn.LeakyReLU(0.2), nn.Conv2d(ndf * 2, 1, 1, bias=conv_bias(norm))]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)

    def paper_spec(self):
        """"C64-C128": two 1x1 convs before the 1-channel one."""
        return _spec(self.net)


def _spec(module):
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)][:-1]
    return "-".join(f"C{m.out_channels}" for m in convs)


def conv_layers(module):
    """(kernel_size, stride) of every Conv2d in ``module``, in forward order."""
    return [(m.kernel_size, m.stride) for m in module.modules() if isinstance(m, nn.Conv2d)]


### BEGIN SOLUTION 8.1
def receptive_field(layers):
    """Exercise 8.1 (lesson 8, section 1). How many input pixels (per side) one output
    pixel sees through a chain of convolutions.

    layers: list of (kernel_size, stride) of each conv, in forward order (first layer
    first), e.g. conv_layers(D) = [(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)] for the 70x70
    PatchGAN. Returns an int: 70 for that list, 1 for an empty list or for 1x1 convs.
    Padding shifts the window but does not change its size.
    Graded: the n-layer family (16, 34, 70, 142, 286), the PixelGAN, the library's
    discriminators, random chains against a brute-force count.
    """
    field = 1
    for kernel_size, stride in reversed(list(layers)):
        field = (field - 1) * stride + kernel_size
    return field
### END SOLUTION
