"""The networks as built, in the paper's appendix notation (Sec. 6.1)."""
import inspect

import pytest

from pix2pix.models import UNet, define_D, define_G


def test_unet_256_is_the_appendix_u_net():
    spec = define_G("unet_256", 3, 3, 64, "batch", True).paper_spec()
    assert spec == {"encoder": "C64-C128-C256-C512-C512-C512-C512-C512",
                    "decoder": "CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128"}


@pytest.mark.parametrize("kwargs, encoder, decoder", [
    (dict(netG="unet_128"), "C64-C128-C256-C512-C512-C512-C512",
     "CD512-CD1024-CD1024-C1024-C512-C256-C128"),
    (dict(dropout_placement="pytorch"), "C64-C128-C256-C512-C512-C512-C512-C512",
     "C512-CD1024-CD1024-CD1024-C1024-C512-C256-C128"),
    (dict(use_dropout=False), "C64-C128-C256-C512-C512-C512-C512-C512",
     "C512-C1024-C1024-C1024-C1024-C512-C256-C128"),
    (dict(skips=False), "C64-C128-C256-C512-C512-C512-C512-C512",
     "CD512-CD512-CD512-C512-C512-C256-C128-C64"),
])
def test_other_generators_have_their_own_strings(kwargs, encoder, decoder):
    options = {**dict(netG="unet_256", input_nc=3, output_nc=3, ngf=64, norm="batch",
                      use_dropout=True), **kwargs}
    assert define_G(**options).paper_spec() == {"encoder": encoder, "decoder": decoder}


@pytest.mark.parametrize("netD, n_layers, spec", [
    ("basic", 3, "C64-C128-C256-C512"),                    # 70x70
    ("n_layers", 1, "C64-C128"),                           # 16x16
    ("n_layers", 2, "C64-C128-C256"),                      # 34x34
    ("n_layers", 5, "C64-C128-C256-C512-C512-C512"),       # 286x286 "ImageGAN"
    ("pixel", 3, "C64-C128"),                              # 1x1 "PixelGAN"
])
def test_patchgans_are_the_appendix_discriminators(netD, n_layers, spec):
    assert define_D(netD, 6, 64, n_layers_D=n_layers).paper_spec() == spec


def test_unet_docstring_table_is_the_network_as_built():
    table = define_G("unet_256", 3, 3, 64, "batch", True).layer_table()
    assert table in inspect.cleandoc(UNet.__doc__)
    assert "up 2   1024    512       8x8  batch      0.5       1024" in table
