"""Exercise 7.1 (lesson 07_unet.py): the U-Net decoder block.

Grade it with:   python -m pytest --exercise 7.1
The reference is ``pix2pix.models.unet.UNetUp``. Build it from the library's layers
(nn.ConvTranspose2d, nn.BatchNorm2d, nn.Dropout) and functions (F.relu, F.cat): autograd
then gives you the backward for free.
"""
import nn  # noqa: F401
import nn.functional as F  # noqa: F401


class UNetUp(nn.Module):
    """Exercise 7.1. ReLU -> ConvTranspose 4x4 s2 p1 [-> BatchNorm] [-> Dropout(0.5)],
    then concatenate the skip.

    __init__(in_channels, out_channels, norm=True, dropout=False, bias=False, generator=None):
        call super().__init__() first, then create exactly these attributes (the tests,
        checkpoints and the official weights find the parameters by these names):
          self.conv    = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2,
                                            padding=1, bias=bias)
          self.norm    = nn.BatchNorm2d(out_channels) if norm, else None
          self.dropout = nn.Dropout(0.5, generator=generator) if dropout, else None
    forward(x, skip=None):
        x: (N, in_channels, H, W); skip: (N, C_skip, 2H, 2W) or None.
        y = conv(relu(x)), then norm and dropout when present: (N, out_channels, 2H, 2W).
        Return F.cat([skip, y], dim=1): (N, C_skip + out_channels, 2H, 2W), skip FIRST (the
        official code's order, which its pretrained weights depend on); just y if skip is
        None.
    Hints: the activation comes *before* the conv (as in the official code); the layers
    check their input shapes for you.
    """

    def __init__(self, in_channels, out_channels, norm=True, dropout=False, bias=False,
                 generator=None):
        super().__init__()
        raise NotImplementedError("Exercise 7.1")

    def forward(self, x, skip=None):
        raise NotImplementedError("Exercise 7.1")
