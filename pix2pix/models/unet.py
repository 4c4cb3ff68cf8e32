"""The U-Net generator (paper appendix 6.1.1), as the official implementations build it.

Encoder block i halves the image: Conv 4x4 s2 -> BatchNorm -> LeakyReLU(0.2) (the paper's
Ck with leaky ReLUs). Decoder block j doubles it: ReLU -> ConvTranspose 4x4 s2 ->
BatchNorm [-> Dropout], then concatenates the encoder output of the same size (the skip).
The first encoder conv has no BatchNorm; the innermost (1x1) conv has neither BatchNorm,
which would zero a 1x1 map at batch size 1, nor an activation of its own: the decoder's
ReLU follows it. (The official PyTorch port writes the leaky ReLU at the start of the next
block, in place, so its skips carry these same activated features.)
"""
from collections import namedtuple

import numpy as np

import nn
import nn.functional as F


# One layer of a U-Net, as UNet.blocks() lists it. paper: the appendix's notation, Ck with k
# the conv's filters in the encoder and, in the decoder, the channels entering its
# transposed conv, D where dropout follows (CD512-CD1024-...). skip: the channels of the
# encoder output concatenated after it; size: its output's height and width.
Block = namedtuple("Block", "name paper in_channels out_channels skip size norm dropout")


def _norm_name(block):
    return type(block.norm).__name__ if block.norm is not None else "-"


class UNetDown(nn.Module):
    """Conv 4x4 s2 p1 [-> BatchNorm] [-> LeakyReLU(0.2)].

    x: (N, in_channels, H, W) -> (N, out_channels, H/2, W/2).
    norm=False for the first and the innermost block, activation=False for the innermost.
    """

    def __init__(self, in_channels, out_channels, norm=True, activation=True):
        super().__init__()
        self.activation = activation
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return F.leaky_relu(x, 0.2) if self.activation else x


class UNetUp(nn.Module):
    """ReLU -> ConvTranspose 4x4 s2 p1 [-> BatchNorm] [-> Dropout(0.5)], then cat the skip.

    x: (N, in_channels, H, W), skip: (N, C_skip, 2H, 2W) or None
    -> (N, C_skip + out_channels, 2H, 2W): [skip, up-path] along channels.
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

    unet_256 (num_downs 8, ngf 64, paper dropout) at 256x256, from ``layer_table()``.
    paper: the appendix's notation (see Block); "+512": the skip concatenated after the
    block; final is followed by tanh.

    block    paper   channels         output (C, H, W)   norm         dropout
    down[0]  C64     3 -> 64          (64, 128, 128)     -            -
    down[1]  C128    64 -> 128        (128, 64, 64)      BatchNorm2d  -
    down[2]  C256    128 -> 256       (256, 32, 32)      BatchNorm2d  -
    down[3]  C512    256 -> 512       (512, 16, 16)      BatchNorm2d  -
    down[4]  C512    512 -> 512       (512, 8, 8)        BatchNorm2d  -
    down[5]  C512    512 -> 512       (512, 4, 4)        BatchNorm2d  -
    down[6]  C512    512 -> 512       (512, 2, 2)        BatchNorm2d  -
    down[7]  C512    512 -> 512       (512, 1, 1)        -            -
    up[0]    CD512   512 -> 512 +512  (1024, 2, 2)       BatchNorm2d  0.5
    up[1]    CD1024  1024 -> 512 +512 (1024, 4, 4)       BatchNorm2d  0.5
    up[2]    CD1024  1024 -> 512 +512 (1024, 8, 8)       BatchNorm2d  0.5
    up[3]    C1024   1024 -> 512 +512 (1024, 16, 16)     BatchNorm2d  -
    up[4]    C1024   1024 -> 256 +256 (512, 32, 32)      BatchNorm2d  -
    up[5]    C512    512 -> 128 +128  (256, 64, 64)      BatchNorm2d  -
    up[6]    C256    256 -> 64 +64    (128, 128, 128)    BatchNorm2d  -
    final    C128    128 -> 3         (3, 256, 256)      -            -
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm="batch",
                 use_dropout=True, dropout_placement="paper", skips=True, dropout_generator=None):
        super().__init__()
        if num_downs < 2:
            raise ValueError(f"a U-Net needs at least 2 downsamplings, got {num_downs}")
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        batch_norm = norm == "batch"
        self.num_downs, self.skips = num_downs, skips
        self.dropout_generator = (dropout_generator if dropout_generator is not None
                                  else np.random.default_rng())
        # Encoder widths: ngf, 2ngf, 4ngf, 8ngf, 8ngf, ... (C64-C128-C256-C512-C512-...)
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        self.down = nn.Sequential(*[
            UNetDown(input_nc if i == 0 else widths[i - 1], widths[i],
                     norm=batch_norm and 0 < i < num_downs - 1, activation=i < num_downs - 1)
            for i in range(num_downs)])
        with_dropout = dropout_blocks(num_downs, dropout_placement) if use_dropout else set()
        ups = []
        for j in range(num_downs - 1):
            level = num_downs - 2 - j            # the encoder block whose output we meet
            in_ch = widths[level + 1] * (2 if (skips and j > 0) else 1)
            ups.append(UNetUp(in_ch, widths[level], norm=batch_norm, dropout=j in with_dropout,
                              generator=self.dropout_generator))
        self.up = nn.Sequential(*ups)
        self.final = UNetUp(widths[0] * (2 if skips else 1), output_nc, norm=False, bias=True)

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

    def blocks(self, size=256):
        """One Block per layer as built, for a (N, input_nc, size, size) input."""
        rows = []
        for i, block in enumerate(self.down):    # outputs size/2, ..., size/2**num_downs
            conv = block.conv
            rows.append(Block(f"down[{i}]", f"C{conv.out_channels}", conv.in_channels,
                              conv.out_channels, 0, size // 2 ** (i + 1), _norm_name(block), "-"))
        for j, block in enumerate(list(self.up) + [self.final]):   # back up to size
            conv, dropout = block.conv, block.dropout
            is_final = block is self.final
            skip = 0 if is_final or not self.skips else \
                self.down[self.num_downs - 2 - j].conv.out_channels
            rows.append(Block("final" if is_final else f"up[{j}]",
                              f"C{'D' if dropout is not None else ''}{conv.in_channels}",
                              conv.in_channels, conv.out_channels, skip,
                              size // 2 ** (self.num_downs - 1 - j), _norm_name(block),
                              dropout.p if dropout is not None else "-"))
        return rows

    def paper_spec(self):
        """The appendix's notation for this network as built, e.g. for unet_256:
        {"encoder": "C64-C128-C256-C512-C512-C512-C512-C512",
         "decoder": "CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128"}."""
        rows = self.blocks()
        return {"encoder": "-".join(r.paper for r in rows[:self.num_downs]),
                "decoder": "-".join(r.paper for r in rows[self.num_downs:])}

    def layer_table(self, size=256):
        """The per-layer table of the class docstring, for this network and input size."""
        lines = [f"{'block':<9}{'paper':<8}{'channels':<17}{'output (C, H, W)':<19}"
                 f"{'norm':<13}dropout"]
        for r in self.blocks(size):
            channels = f"{r.in_channels} -> {r.out_channels}" + (f" +{r.skip}" if r.skip else "")
            output = str((r.out_channels + r.skip, r.size, r.size))
            lines.append(f"{r.name:<9}{r.paper:<8}{channels:<17}{output:<19}{r.norm:<13}"
                         f"{r.dropout}")
        return "\n".join(lines)
