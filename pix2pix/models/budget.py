"""What a network costs before it is built: its state-dict size and an upper estimate of
its activation memory, computed from the options alone.

A checkpoint's saved options, a .pth's tensor shapes and the command line all *claim* a
network; building it allocates what they claim (a 1 KB file saying ngf 100000 asks for a
terabyte). These counts let the callers refuse a claim first: weights that cannot be in the
file, or memory beyond ``memory_budget()``. tests/pix2pix/models/test_budget.py checks every
count against the networks as built.
"""
import os

from .networks import RESNETS, unet_depth
from .norms import check_norm
from .unet import unet_widths

FLOAT_BYTES = 4
# The smallest float a weight file may hold per number (float16 / bfloat16 in a .pth).
MIN_BYTES_PER_WEIGHT = 2


class BudgetError(ValueError):
    """A claimed network or image does not fit the file or the machine; the message says
    which claim and how to go on."""


def _norm_numbers(norm, channels):
    """State-dict numbers of one norm layer: BatchNorm has weight, bias, running mean and
    variance; the port's InstanceNorm has none (affine=False)."""
    return 4 * channels if norm == "batch" else 0


def unet_state_size(num_downs, input_nc, output_nc, ngf, norm="batch", skips=True):
    """Numbers in a UNet's state dict (parameters and buffers), as UNet builds it."""
    check_norm(norm)
    widths, bias = unet_widths(num_downs, ngf), norm == "instance"
    total = 0
    for i, out in enumerate(widths):
        inp = input_nc if i == 0 else widths[i - 1]
        total += 16 * inp * out + (out if bias else 0)
        if 0 < i < num_downs - 1:
            total += _norm_numbers(norm, out)
    for j in range(num_downs - 1):
        level = num_downs - 2 - j
        inp = widths[level + 1] * (2 if skips and j > 0 else 1)
        out = widths[level]
        total += 16 * inp * out + (out if bias else 0) + _norm_numbers(norm, out)
    final_in = widths[0] * (2 if skips else 1)
    return total + 16 * final_in * output_nc + output_nc


def unet_activation_bytes(num_downs, input_nc, output_nc, ngf, height, width, batch=1,
                          skips=True):
    """An upper estimate of one forward pass's memory on (batch, input_nc, height, width):
    per layer its im2col columns (16 x c_in numbers per output pixel) and four copies of its
    output (conv, norm, activation, the concatenated skip), all kept for backward."""
    widths = unet_widths(num_downs, ngf)
    total, h, w, channels = 0, height, width, input_nc
    for out in widths:
        h, w = max(h // 2, 1), max(w // 2, 1)
        total += (16 * channels + 4 * out) * h * w
        channels = out
    for j in range(num_downs - 1):
        level = num_downs - 2 - j
        h, w = 2 * h, 2 * w
        total += (16 * channels + 4 * widths[level]) * h * w
        channels = widths[level] * (2 if skips else 1)
    total += (16 * channels + 4 * output_nc) * (2 * h) * (2 * w)
    return FLOAT_BYTES * batch * total


def resnet_layers(input_nc, output_nc, ngf, n_blocks):
    """(kernel, c_in, c_out, scale) of every conv of a ResnetGenerator in forward order;
    scale: the output's side relative to the input image's."""
    layers = [(7, input_nc, ngf, 1), (3, ngf, 2 * ngf, 0.5), (3, 2 * ngf, 4 * ngf, 0.25)]
    layers += [(3, 4 * ngf, 4 * ngf, 0.25)] * (2 * n_blocks)
    return layers + [(3, 4 * ngf, 2 * ngf, 0.5), (3, 2 * ngf, ngf, 1), (7, ngf, output_nc, 1)]


def generator_state_size(netG, input_nc, output_nc, ngf, norm="batch", skips=True):
    """Numbers in the state dict of define_G(netG, ...) (parameters and buffers)."""
    if netG not in RESNETS:
        return unet_state_size(unet_depth(netG), input_nc, output_nc, ngf, norm, skips)
    check_norm(norm)
    layers = resnet_layers(input_nc, output_nc, ngf, RESNETS[netG])
    total = sum(k * k * c_in * c_out for k, c_in, c_out, _ in layers) + output_nc  # last bias
    for _, _, c_out, _ in layers[:-1]:  # every conv but the last has a norm after it
        total += _norm_numbers(norm, c_out) + (c_out if norm == "instance" else 0)
    return total


def generator_activation_bytes(netG, input_nc, output_nc, ngf, height, width, batch=1,
                               skips=True):
    """An upper estimate of one forward pass's memory (see unet_activation_bytes); for a
    ResNet, per conv its im2col columns twice (as for the PatchGAN: the input gradient's
    too) and four copies of its output (reflection padding, conv, norm, ReLU)."""
    if netG not in RESNETS:
        return unet_activation_bytes(unet_depth(netG), input_nc, output_nc, ngf, height,
                                     width, batch, skips)
    total = sum((2 * k * k * c_in + 4 * c_out) * height * width * scale * scale
                for k, c_in, c_out, scale in resnet_layers(input_nc, output_nc, ngf,
                                                           RESNETS[netG]))
    return int(FLOAT_BYTES * batch * total)


def patchgan_state_size(netD, input_nc, ndf, n_layers_D=3, norm="batch"):
    """Numbers in a discriminator's state dict, as define_D builds it."""
    conv_bias = norm != "batch"
    if netD == "pixel":
        return (input_nc * ndf + ndf + ndf * 2 * ndf + (2 * ndf if conv_bias else 0)
                + _norm_numbers(norm, 2 * ndf) + 2 * ndf + (1 if conv_bias else 0))
    n_layers = 3 if netD == "basic" else n_layers_D
    total, width = 16 * input_nc * ndf + ndf, ndf
    for n in range(1, n_layers + 1):
        new = ndf * min(2 ** n, 8)
        total += 16 * width * new + (new if conv_bias else 0) + _norm_numbers(norm, new)
        width = new
    return total + 16 * width + 1


def patchgan_activation_bytes(netD, input_nc, ndf, n_layers_D, height, width, batch=1):
    """An upper estimate of one forward and backward pass's memory, counted as for the
    U-Net but with the im2col columns twice: D's layers are too few and small for the
    U-Net's margin to cover the input gradient's columns."""
    if netD == "pixel":  # 1x1 convs at full size: ndf, 2ndf (+ norm), 1 channels
        return FLOAT_BYTES * batch * height * width * (input_nc + 4 * ndf + 8 * ndf + 1)
    n_layers = 3 if netD == "basic" else n_layers_D
    total, h, w, channels = 0, height, width, input_nc
    for n in range(n_layers + 2):
        out = 1 if n == n_layers + 1 else ndf * min(2 ** n, 8)
        if n <= n_layers - 1:
            h, w = max(h // 2, 1), max(w // 2, 1)
        else:  # stride 1, kernel 4, padding 1: one pixel smaller
            h, w = max(h - 1, 1), max(w - 1, 1)
        total += (32 * channels + 4 * out) * h * w
        channels = out
    return FLOAT_BYTES * batch * total


def available_memory():
    """Bytes of memory the machine can give now (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_budget(gigabytes=None):
    """Bytes a run may plan to use: ``gigabytes`` (--memory_budget) if given, else the
    memory available now (8 GiB where the machine does not say). The estimates above are
    upper bounds (tested against a measured pass: 1.6x to 3x it), which leaves a margin."""
    if gigabytes is not None:
        return int(gigabytes * 2**30)
    return available_memory() or 8 * 2**30


def gib(n_bytes):
    return f"{n_bytes / 2**30:.2f} GiB"


def check_generator_claim(where, netG, input_nc, output_nc, ngf, norm, skips,
                          file_size=None, image_size=256, budget=None):
    """Refuse (BudgetError naming ``where`` and the claim) a generator whose weights cannot
    be in a file of ``file_size`` bytes, or whose weights and one forward pass on an
    image_size x image_size image exceed ``budget`` bytes (default memory_budget())."""
    for name, value in (("ngf", ngf), ("input_nc", input_nc), ("output_nc", output_nc)):
        if type(value) is not int or value < 1:  # a hand-edited meta may hold anything
            raise BudgetError(f"{where} claims {name} {value!r}: expected a positive integer")
    claim = f"{netG} with ngf {ngf}, {input_nc} -> {output_nc} channels"
    numbers = generator_state_size(netG, input_nc, output_nc, ngf, norm, skips)
    if file_size is not None and numbers * MIN_BYTES_PER_WEIGHT > file_size:
        raise BudgetError(f"{where} claims a generator {claim}: {numbers:,} weights, which "
                          f"cannot be in its {file_size:,} bytes (corrupt or crafted file)")
    budget = memory_budget() if budget is None else budget
    needed = FLOAT_BYTES * numbers + generator_activation_bytes(
        netG, input_nc, output_nc, ngf, image_size, image_size, 1, skips)
    if needed > budget:
        raise BudgetError(f"{where} claims a generator {claim}: it needs about {gib(needed)}, "
                          f"more than the memory budget of {gib(budget)} (--memory_budget "
                          "GiB raises it)")
    return needed


def training_bytes(netG, input_nc, output_nc, ngf, norm, skips, netD, ndf, n_layers_D,
                   crop_size, batch_size, conditional_D=True):
    """An upper estimate of a training step's memory: both networks' numbers four times
    (weights, gradients, Adam's two moments), and twice the activations (forward and the
    gradients flowing back) of G once and D three times (real, fake for D, fake for G)."""
    d_input = input_nc + output_nc if conditional_D else output_nc
    numbers = (generator_state_size(netG, input_nc, output_nc, ngf, norm, skips)
               + patchgan_state_size(netD, d_input, ndf, n_layers_D, norm))
    activations = (generator_activation_bytes(netG, input_nc, output_nc, ngf, crop_size,
                                              crop_size, batch_size, skips)
                   + 3 * patchgan_activation_bytes(netD, d_input, ndf, n_layers_D, crop_size,
                                                   crop_size, batch_size))
    return 4 * FLOAT_BYTES * numbers + 2 * activations
