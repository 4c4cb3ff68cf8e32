"""--norm batch | instance | none: which normalisation layer the networks use.

As in the official port: instance norm has no learned scale and shift (affine=False), so
the convolution before it keeps its bias; batch norm's own shift makes that bias redundant.
syncbatch is batch norm over the batch of all processes (data parallel); in one process it
is batch norm.
"""
import nn

NORMS = ("batch", "syncbatch", "instance", "none")


def check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}; got {norm!r}")
    return norm


def norm_layer(norm, channels):
    """The layer for (N, channels, H, W) features, or None for norm "none"."""
    if check_norm(norm) == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "syncbatch":  # the training code connects it to the other processes
        return nn.SyncBatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    return None


def conv_bias(norm):
    """Whether a conv followed by this norm needs a bias: not before batch norm's own shift."""
    return check_norm(norm) not in ("batch", "syncbatch")


def norm_name(layer):
    """The --norm name of a block's norm layer: "batch", "syncbatch", "instance", or "-"
    for none."""
    if layer is None:
        return "-"
    return {nn.BatchNorm2d: "batch", nn.SyncBatchNorm2d: "syncbatch",
            nn.InstanceNorm2d: "instance"}[type(layer)]
