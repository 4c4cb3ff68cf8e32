"""The official PyTorch port's U-Net and PatchGAN, rebuilt in torch: the peer for parity
tests and benchmarks.

Written from the architecture the port documents (UnetSkipConnectionBlock, NLayer-
Discriminator), with its in-place activations: the skip of each block therefore carries
the leaky-ReLU-activated features. Imported only where torch is installed; the
library never imports it.
"""
import torch
from torch import nn as tnn


class UnetSkipConnectionBlock(tnn.Module):
    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, use_dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = tnn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=False)
        downrelu, downnorm = tnn.LeakyReLU(0.2, True), tnn.BatchNorm2d(inner_nc)
        uprelu, upnorm = tnn.ReLU(True), tnn.BatchNorm2d(outer_nc)
        if outermost:
            upconv = tnn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1)
            model = [downconv, submodule, uprelu, upconv, tnn.Tanh()]
        elif innermost:
            upconv = tnn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=False)
            model = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = tnn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=False)
            model = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if use_dropout:
                model.append(tnn.Dropout(0.5))
        self.model = tnn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(tnn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf=64, use_dropout=False):
        super().__init__()
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(tnn.Module):
    def __init__(self, input_nc, ndf=64, n_layers=3):
        super().__init__()
        seq = [tnn.Conv2d(input_nc, ndf, 4, 2, 1), tnn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [tnn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=False),
                    tnn.BatchNorm2d(ndf * mult), tnn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [tnn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=False),
                tnn.BatchNorm2d(ndf * mult), tnn.LeakyReLU(0.2, True),
                tnn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = tnn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


def randomise_batchnorm_stats(net, seed=0):
    """Non-trivial running statistics, so eval-mode comparisons test them too."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 2 - 1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.bias.shape, generator=g) - 0.5)
    return net
