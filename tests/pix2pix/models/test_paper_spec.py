"""The networks as built, in the paper's appendix notation (Sec. 6.1)."""
import inspect

import numpy as np
import pytest

import nn
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
    assert "up 2   1024    512       8x8     batch      0.5       1024" in table



@pytest.mark.parametrize("norm", ["instance", "none"])
def test_unet_table_names_the_norm_used(norm):
    """Under --norm instance the table says instance where batch would be, under --norm
    none it shows no norm at all; each row as the block holds it."""
    G = define_G("unet_32", 3, 3, 4, norm, True)
    rows = [line.split() for line in G.layer_table().splitlines()[1:]]
    norms = [row[-3] for row in rows]
    name = "instance" if norm == "instance" else "-"
    expected = [name if block.norm is not None else "-" for block in [*G.down, *G.up, G.final]]
    assert norms == expected
    assert norms.count("instance") == (7 if norm == "instance" else 0)   # 3 down + 4 up
    assert "batch" not in norms
    kinds = {type(block.norm) for block in [*G.down, *G.up] if block.norm is not None}
    assert kinds == ({nn.InstanceNorm2d} if norm == "instance" else set())


def test_unet_table_is_what_a_forward_pass_gives():
    """Every row of layer_table() against G's own blocks run on a 256x256 image: the output
    size, the block's channels and, for the decoder, the channels after the skip."""
    G = define_G("unet_256", 3, 3, 2, "batch", True).eval()
    h, skips, seen = nn.Tensor(np.zeros((1, 3, 256, 256), dtype=np.float32)), [], []
    for block in G.down:
        h = block(h)
        skips.append(h)
        seen.append((block.conv.out_channels, f"{h.shape[2]}x{h.shape[3]}", "-"))
    skips.pop()
    for block in G.up:
        h = block(h, skips.pop())
        seen.append((block.conv.out_channels, f"{h.shape[2]}x{h.shape[3]}", str(h.shape[1])))
    out = G.final(h)
    seen.append((out.shape[1], f"{out.shape[2]}x{out.shape[3]}", "-"))
    rows = [line.split()[-6:] for line in G.layer_table().splitlines()[1:]]
    assert len(rows) == len(seen) == 16
    for row, (channels, size, with_skip) in zip(rows, seen):
        assert (int(row[1]), row[2], row[5]) == (channels, size, with_skip), row
