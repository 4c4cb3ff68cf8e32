"""The generator (U-Net) and discriminator (PatchGAN) of pix2pix."""
from .networks import INIT_TYPES, define_D, define_G, init_weights  # noqa: F401
from .norms import NORMS, check_norm, norm_layer  # noqa: F401
from .patchgan import (  # noqa
    NLayerDiscriminator,
    PixelDiscriminator,
    conv_layers,
    receptive_field,
)
from .unet import UNet, UNetDown, UNetUp  # noqa: F401
