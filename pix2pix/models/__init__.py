"""The generator (U-Net) and discriminator (PatchGAN) of pix2pix."""
from .networks import define_D, define_G, init_weights  # noqa: F401
from .patchgan import NLayerDiscriminator, PixelDiscriminator, conv_layers, receptive_field  # noqa
from .unet import UNet, UNetDown, UNetUp  # noqa: F401
