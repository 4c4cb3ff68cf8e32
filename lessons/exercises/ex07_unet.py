"""Exercise 7.1 (lesson 07_unet.py): the U-Net decoder block.

Grade it with:   python -m pytest --exercise 7.1
The library's version is ``pix2pix.models.unet.UNetUp``. Build it from the library's
layers (nn.ConvTranspose2d, the norm ``norm_layer`` makes, nn.Dropout) and functions
(F.relu, F.cat): autograd then gives you the backward for free.
"""
import nn  # noqa: F401
import nn.functional as F  # noqa: F401
from pix2pix.models.norms import norm_layer  # noqa: F401


class UNetUp(nn.Module):
    """Exercise 7.1 (lesson 7, section 1). One decoder block of the appendix's U-Net (Ck or
    CDk, decoder side): ReLU -> ConvTranspose 4x4 s2 p1 [-> norm] [-> Dropout(0.5)], then
    cat the skip. Build it from the library's layers (nn.ConvTranspose2d, the norm that
    ``norm_layer(kind, out_channels)`` returns, nn.Dropout) and functions (F.relu, F.cat):
    autograd then gives the backward for free.

    __init__(in_channels, out_channels, kind="batch", dropout=False, bias=None,
             generator=None):
        call super().__init__() first. kind: "batch", "syncbatch", "instance" or "none"
        (--norm), as in UNetDown. The parameters must be found under these names
        (checkpoints and the official weights use them): ``conv`` (a 4x4, stride 2,
        padding 1 transposed convolution), ``norm`` (``norm_layer(kind, out_channels)``: a
        BatchNorm2d, a SyncBatchNorm2d, an affine-free InstanceNorm2d, or None for "none"),
        ``dropout`` (a Dropout of 0.5 drawing from ``generator``, or None when
        dropout=False). The conv has a bias if bias=True; by default (bias=None) only when
        kind is "instance", as in the official port's U-Net (a batch norm's own shift makes
        a bias redundant; the instance norm here has none).
    forward(x, skip=None): x: (N, in_channels, H, W); skip: (N, C_skip, 2H, 2W) or None.
        Applies the decoder's (non-leaky) ReLU, then the conv, norm and dropout that are
        present, in the official code's order, and returns (N, C_skip + out_channels,
        2H, 2W) with the skip's channels FIRST (the official weights depend on the order),
        or (N, out_channels, 2H, 2W) without a skip.
    Graded: shapes, parameter names, values in train and eval mode for each kind, the bias
    block, dropout from the generator, every gradient.
    """

    def __init__(self, in_channels, out_channels, kind="batch", dropout=False, bias=None,
                 generator=None):
        raise NotImplementedError("Exercise 7.1")

    def forward(self, x, skip=None):
        raise NotImplementedError("Exercise 7.1")
