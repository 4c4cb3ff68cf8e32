"""The ResNet generator of the official port (--netG resnet_9blocks / resnet_6blocks), after
Johnson et al.'s style-transfer network: the paper's U-Net alternative without skips.

    c7s1-ngf  d2ngf  d4ngf  R4ngf x n_blocks  u2ngf  ungf  c7s1-output_nc, tanh

c7s1-k: reflection pad 3, 7x7 conv, norm, ReLU. dk: 3x3 conv stride 2 (halves the image).
Rk: a residual block, x + (pad, 3x3 conv, norm, ReLU, [dropout], pad, 3x3 conv, norm)(x).
uk: 3x3 transposed conv stride 2 with output_padding 1 (doubles it). Names and indices
follow the port's ``model.<i>`` so that its state dicts load one to one; a norm of "none"
keeps an empty slot, as the port's Identity does.
"""
import nn

from .norms import check_norm, norm_layer


class Identity(nn.Module):
    """An empty slot (the port's norm "none"): keeps the indices of model.<i>."""

    def forward(self, x):
        return x


def _norm(kind, channels):
    return norm_layer(kind, channels) or Identity()


class ResnetBlock(nn.Module):
    """x: (N, dim, H, W) -> x + conv_block(x), same shape. conv_block keeps the port's
    indices: 0 pad, 1 conv, 2 norm, 3 ReLU, [4 dropout], then pad, conv, norm."""

    def __init__(self, dim, norm="batch", use_dropout=False, generator=None):
        super().__init__()
        bias = norm == "instance"  # batch norm's shift makes a conv bias redundant
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim),
                  nn.ReLU()]
        if use_dropout:
            layers.append(nn.Dropout(0.5, generator=generator))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), _norm(norm, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        # x is used twice: the tape adds both paths' gradients (the residual's identity).
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """x: (N, input_nc, H, W) with H and W multiples of 4 -> (N, output_nc, H, W) in [-1, 1]."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm="batch", use_dropout=False,
                 n_blocks=9, dropout_generator=None):
        super().__init__()
        check_norm(norm)
        bias = norm == "instance"
        self.dropout_generator = dropout_generator
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias),
                  _norm(norm, ngf), nn.ReLU()]
        for i in range(2):                                   # d2ngf, d4ngf
            width = ngf * 2 ** i
            layers += [nn.Conv2d(width, 2 * width, 3, stride=2, padding=1, bias=bias),
                       _norm(norm, 2 * width), nn.ReLU()]
        layers += [ResnetBlock(4 * ngf, norm, use_dropout, dropout_generator)
                   for _ in range(n_blocks)]
        for i in range(2):                                   # u2ngf, ungf
            width = ngf * 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1,
                                          output_padding=1, bias=bias),
                       _norm(norm, width // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 4 or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"ResnetGenerator halves the image twice: it needs (N, C, H, W) "
                             f"with H and W multiples of 4, got {tuple(x.shape)}")
        return self.model(x)
