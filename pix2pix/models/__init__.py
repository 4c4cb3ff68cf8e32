"""The generator (U-Net) and discriminator (PatchGAN) of pix2pix."""
from .norms import NORMS, check_norm, norm_layer  # noqa: F401
from .networks import INIT_TYPES, define_D, define_G, init_weights, reinit_networks  # noqa
from .patchgan import NLayerDiscriminator, PixelDiscriminator, conv_layers, receptive_field  # noqa
from .unet import UNet, UNetDown, UNetUp  # noqa: F401
