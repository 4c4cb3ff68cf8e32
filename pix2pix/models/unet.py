"""The U-Net generator (paper appendix 6.1.1), as the official implementations build it.

Encoder block i halves the image: Conv 4x4 s2 -> BatchNorm -> LeakyReLU(0.2) (the paper's
Ck with leaky ReLUs). Decoder block j doubles it: ReLU -> ConvTranspose 4x4 s2 ->
BatchNorm [-> Dropout], then concatenates the encoder output of the same size (the skip).
The first encoder conv has no BatchNorm; the innermost (1x1) conv has neither BatchNorm,
which would zero a 1x1 map at batch size 1, nor an activation of its own: the decoder's
ReLU follows it. (The official PyTorch port writes the leaky ReLU at the start of the next
block, in place, so its skips carry these same activated features.)
"""
import numpy as np

import nn
import nn.functional as F

from .norms import check_norm, norm_layer, norm_name


class UNetDown(nn.Module):
    """Conv 4x4 s2 p1 [-> BatchNorm] [-> LeakyReLU(0.2)].

    x: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2).
    norm=False for the first and the innermost block, activation=False for the innermost.
    kind: "batch" or "instance" (then the conv has a bias, as in the official port).
    """

    def __init__(self, in_channels, out_channels, norm=True, activation=True, kind="batch"):
        super().__init__()
        self.activation = activation
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,
                              bias=kind == "instance")
        self.norm = norm_layer(kind, out_channels) if norm else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return F.leaky_relu(x, 0.2) if self.activation else x


### BEGIN SOLUTION 7.1
class UNetUp(nn.Module):
    """Exercise 7.1 (lesson 7, section 1). One decoder block of the appendix's U-Net (Ck or
    CDk, decoder side): ReLU -> ConvTranspose 4x4 s2 p1 [-> BatchNorm] [-> Dropout(0.5)],
    then cat the skip. Build it from the library's layers (nn.ConvTranspose2d,
    nn.BatchNorm2d, nn.Dropout) and functions (F.relu, F.cat): autograd then gives the
    backward for free.

    __init__(in_channels, out_channels, norm=True, dropout=False, bias=False, generator=None):
        call super().__init__() first. The parameters must be found under these names
        (checkpoints and the official weights use them): ``conv`` (a 4x4, stride 2,
        padding 1 transposed convolution, with a bias only if bias=True), ``norm`` (a
        BatchNorm2d, or None when norm=False), ``dropout`` (a Dropout of 0.5 drawing from
        ``generator``, or None when dropout=False).
    forward(x, skip=None): x: (N, in_channels, H, W); skip: (N, C_skip, 2H, 2W) or None.
        Applies the decoder's (non-leaky) ReLU, then the conv, norm and dropout that are
        present, in the official code's order, and returns (N, C_skip + out_channels,
        2H, 2W) with the skip's channels FIRST (the official weights depend on the order),
        or (N, out_channels, 2H, 2W) without a skip.
    Graded: shapes, parameter names, values in train and eval mode, the bias block,
    dropout from the generator, every gradient.
    """

    def __init__(self, in_channels, out_channels, norm=True, dropout=False, bias=False,
                 generator=None):
        super().__init__()
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
                                       bias=bias)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None
        self.dropout = nn.Dropout(0.5, generator=generator) if dropout else None

    def forward(self, x, skip=None):
        x = self.conv(F.relu(x))
        if self.norm is not None:
            x = self.norm(x)
        if self.dropout is not None:
            x = self.dropout(x)
        # The skip comes first in the concatenation, as in the official code (its
        # weights depend on this channel order).
        return F.cat([skip, x], dim=1) if skip is not None else x
### END SOLUTION


def unet_up(in_channels, out_channels, kind, dropout=False, generator=None):
    """A decoder block with the norm ``kind`` ("batch", "syncbatch", "instance" or "none")
    built directly.

    UNetUp itself (exercise 7.1) knows only BatchNorm or none. The port's instance norm is
    affine-free, so its block keeps a conv bias; the block is built without a norm and the
    InstanceNorm2d (or SyncBatchNorm2d) put in its place (no BatchNorm is made for it).
    """
    up = UNetUp(in_channels, out_channels, norm=kind == "batch", dropout=dropout,
                bias=kind == "instance", generator=generator)
    if kind in ("instance", "syncbatch"):
        up.norm = norm_layer(kind, out_channels)
    return up


def dropout_blocks(num_downs, placement):
    """Indices j of the decoder blocks that use dropout (block 0 is the innermost).

    "paper": the first three decoder layers (outputs 2x2, 4x4, 8x8 for unet_256).
    "pytorch": the official port's blocks 1 .. num_downs - 5 (outputs 4x4, 8x8, 16x16).
    """
    if placement == "paper":
        return set(range(min(3, num_downs - 1)))
    if placement == "pytorch":
        return set(range(1, num_downs - 4))
    raise ValueError(f"dropout placement must be 'paper' or 'pytorch', got {placement!r}")


class UNet(nn.Module):
    """U-Net with ``num_downs`` halvings: an image of 2**num_downs pixels reaches 1x1.

    x: (N, input_nc, S, S) with S = 2**num_downs -> (N, output_nc, S, S) in [-1, 1].
    skips=False cuts every skip: the paper's encoder-decoder ablation.

    unet_256 (ngf 64, paper dropout) on a 256x256 image, from ``layer_table()``
    (tested equal); the paper's notation is ``paper_spec()``::

      block     in    out    output      norm  dropout  with skip
     down 0      3     64   128x128         -        -          -
     down 1     64    128     64x64     batch        -          -
     down 2    128    256     32x32     batch        -          -
     down 3    256    512     16x16     batch        -          -
     down 4    512    512       8x8     batch        -          -
     down 5    512    512       4x4     batch        -          -
     down 6    512    512       2x2     batch        -          -
     down 7    512    512       1x1         -        -          -
       up 0    512    512       2x2     batch      0.5       1024
       up 1   1024    512       4x4     batch      0.5       1024
       up 2   1024    512       8x8     batch      0.5       1024
       up 3   1024    512     16x16     batch        -       1024
       up 4   1024    256     32x32     batch        -        512
       up 5    512    128     64x64     batch        -        256
       up 6    256     64   128x128     batch        -        128
      final    128      3   256x256         -        -          -
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch",
                 use_dropout=True, dropout_placement="paper", skips=True, dropout_generator=None):
        super().__init__()
        if num_downs < 2:
            raise ValueError(f"a U-Net needs at least 2 downsamplings, got {num_downs}")
        normalized = check_norm(norm) != "none"  # batch or instance
        self.num_downs, self.skips = num_downs, skips
        self.dropout_generator = (dropout_generator if dropout_generator is not None
                                  else np.random.default_rng())
        # Encoder widths: ngf, 2ngf, 4ngf, 8ngf, 8ngf, ... (C64-C128-C256-C512-C512-...)
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        self.down = nn.Sequential(*[
            UNetDown(input_nc if i == 0 else widths[i - 1], widths[i],
                     norm=normalized and 0 < i < num_downs - 1, activation=i < num_downs - 1,
                     kind=norm)
            for i in range(num_downs)])
        with_dropout = dropout_blocks(num_downs, dropout_placement) if use_dropout else set()
        ups = []
        for j in range(num_downs - 1):
            level = num_downs - 2 - j            # the encoder block whose output we meet
            in_ch = widths[level + 1] * (2 if (skips and j > 0) else 1)
            ups.append(unet_up(in_ch, widths[level], norm, dropout=j in with_dropout,
                               generator=self.dropout_generator))
        self.up = nn.Sequential(*ups)
        self.final = UNetUp(widths[0] * (2 if skips else 1), output_nc, norm=False, bias=True)

    def paper_spec(self):
        """The appendix's notation for this network as built.

        Encoder: Ck per block, k its filters. Decoder: the channels each decoder layer
        takes in (after the skip is concatenated), CDk where it has dropout, the last
        entry being the final transposed conv to output_nc channels. unet_256 gives
        {"encoder": "C64-C128-C256-C512-C512-C512-C512-C512",
         "decoder": "CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128"}.
        """
        encoder = [f"C{block.conv.out_channels}" for block in self.down]
        decoder = [("CD" if block.dropout is not None else "C") + str(block.conv.in_channels)
                   for block in [*self.up, self.final]]
        return {"encoder": "-".join(encoder), "decoder": "-".join(decoder)}

    def layer_table(self, size=None):
        """One line per block: channels in and out, output size, norm, dropout, and the
        channels after the skip is concatenated (what the next block takes in).

        size: the input's side (default 2**num_downs, 256 for unet_256).
        """
        size = size or 2 ** self.num_downs
        rows = [("block", "in", "out", "output", "norm", "dropout", "with skip")]
        widths = [block.conv.out_channels for block in self.down]
        for i, block in enumerate(self.down):
            size //= 2
            rows.append((f"down {i}", block.conv.in_channels, block.conv.out_channels,
                         f"{size}x{size}", norm_name(block.norm), "-", "-"))
        for j, block in enumerate([*self.up, self.final]):
            size *= 2
            last = j == len(self.up)
            skip = widths[len(self.up) - 1 - j] if self.skips and not last else 0
            rows.append(("final" if last else f"up {j}", block.conv.in_channels,
                         block.conv.out_channels, f"{size}x{size}",
                         norm_name(block.norm), "0.5" if block.dropout else "-",
                         block.conv.out_channels + skip if skip else "-"))
        return "\n".join("  ".join(f"{str(v):>{w}}" for v, w in zip(row, (7, 5, 5, 8, 8, 7, 9)))
                         for row in rows)

    def forward(self, x):
        size = 2 ** self.num_downs
        if x.ndim != 4 or x.shape[2] % size or x.shape[3] % size:
            raise ValueError(f"UNet with {self.num_downs} downsamplings needs (N, C, H, W) with "
                             f"H and W multiples of {size} (e.g. {size}x{size}), got "
                             f"{tuple(x.shape)}")
        skips = []
        for block in self.down:                  # 256 -> 128 -> ... -> 1
            x = block(x)
            skips.append(x)
        skips.pop()                              # the bottleneck is not a skip
        for block in self.up:                    # 1 -> 2 -> ... -> 128
            x = block(x, skips.pop() if self.skips else None)
        return F.tanh(self.final(x))             # (N, output_nc, 256, 256)
