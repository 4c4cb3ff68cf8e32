"""``define_G`` / ``define_D`` with the official implementation's names, and weight init."""
import numpy as np

import nn

from .patchgan import NLayerDiscriminator, PixelDiscriminator
from .resnet import ResnetGenerator
from .unet import UNet

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def _init_conv_weight(weight, init_type, init_gain, generator):
    """The official port's --init_type choices for one conv weight."""
    if init_type == "normal":
        nn.init.normal_(weight, 0.0, init_gain, generator)
    elif init_type == "xavier":
        nn.init.xavier_normal_(weight, init_gain, generator)
    elif init_type == "kaiming":
        nn.init.kaiming_normal_(weight, generator)
    elif init_type == "orthogonal":
        nn.init.orthogonal_(weight, init_gain, generator)
    else:
        raise ValueError(f"unknown init_type {init_type!r}: use {', '.join(INIT_TYPES)}")


def init_weights(net, init_gain=0.02, generator=None, init_type="normal"):
    """The paper's init (init_type "normal"): conv weights ~ N(0, init_gain), biases 0;
    BatchNorm weight ~ N(1, init_gain), bias 0. The port's xavier / kaiming / orthogonal
    change only the conv weights."""
    generator = generator if generator is not None else np.random.default_rng()
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            _init_conv_weight(m.weight, init_type, init_gain, generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, init_gain, generator)
            nn.init.zeros_(m.bias)
    return net


# The port's ResNet generators: --netG name -> residual blocks.
RESNETS = {"resnet_9blocks": 9, "resnet_6blocks": 6}


def unet_depth(netG):
    """"unet_256" -> 8 downsamplings (256 = 2**8); any power of two works (unet_64: 6)."""
    try:
        size = int(netG.split("_", 1)[1])
    except (IndexError, ValueError):
        size = 0
    if not netG.startswith("unet_") or size < 4 or size & (size - 1):
        raise ValueError(f"unknown generator {netG!r}: use unet_<size> with size a power "
                         f"of two, e.g. unet_256 (the paper's), unet_128 or unet_64, or the "
                         f"port's {' or '.join(RESNETS)}")
    return size.bit_length() - 1


def size_multiple(netG):
    """What the image's sides must be multiples of: 2**depth for unet_<size>, 4 for the
    ResNets (two stride-2 convs)."""
    return 4 if netG in RESNETS else 2 ** unet_depth(netG)


def define_G(netG="unet_256", input_nc=3, output_nc=3, ngf=64, norm="batch", use_dropout=True,
             init_gain=0.02, dropout_placement="paper", skips=True, seed=0, init_type="normal"):
    """The generator. netG: "unet_<size>", or the port's "resnet_9blocks" / "resnet_6blocks"
    (dropout in every residual block; dropout_placement and skips are the U-Net's).
    skips=False: the encoder-decoder ablation.

    seed fixes the initial weights (and, separately, the dropout masks); init_type and
    init_gain choose how the weights are drawn (init_weights).
    """
    dropout_generator = np.random.default_rng([seed, 1])
    if netG in RESNETS:
        net = ResnetGenerator(input_nc, output_nc, ngf, norm, use_dropout, RESNETS[netG],
                              dropout_generator)
    else:
        net = UNet(input_nc, output_nc, unet_depth(netG), ngf, norm, use_dropout,
                   dropout_placement, skips, dropout_generator=dropout_generator)
    return init_weights(net, init_gain, np.random.default_rng([seed, 0]), init_type)


def define_D(netD="basic", input_nc=6, ndf=64, n_layers_D=3, norm="batch", init_gain=0.02,
             seed=0, init_type="normal"):
    """The discriminator. netD: "basic" (70x70 PatchGAN), "n_layers" (receptive field 16,
    34, 70, 142, 286 for n_layers_D = 1..5) or "pixel" (1x1).

    input_nc: 6 for a conditional D on RGB pairs, 3 for an unconditional one.
    """
    if netD == "basic":
        net = NLayerDiscriminator(input_nc, ndf, 3, norm)
    elif netD == "n_layers":
        net = NLayerDiscriminator(input_nc, ndf, n_layers_D, norm)
    elif netD == "pixel":
        net = PixelDiscriminator(input_nc, ndf, norm)
    else:
        raise ValueError(f"unknown discriminator {netD!r}: use basic, n_layers or pixel")
    return init_weights(net, init_gain, np.random.default_rng([seed, 2]), init_type)

