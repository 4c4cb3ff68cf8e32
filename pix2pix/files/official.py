"""Weights of the official PyTorch implementation (junyanz/pytorch-CycleGAN-and-pix2pix).

Its ResNet generators (resnet_9blocks, resnet_6blocks) have our names already
(pix2pix/models/resnet.py keeps its indices). Its U-Net is a nest of blocks: block d (0 = outermost) keeps its layers in a Sequential
``model``, with the next block at index 1 (outermost) or 3 (the others). Our U-Net keeps
the same layers in flat lists, so the names map one to one:

    ours                         official (block d's prefix P_d)
    down.{d}.conv                P_d.model.0 (d = 0) or P_d.model.1
    down.{d}.norm                P_d.model.2
    up.{D-1-d}.conv / .norm      P_d.model.5 / .6 (innermost: .3 / .4)
    final.conv                   P_0.model.3

with P_0 = "model", P_1 = "model.model.1", P_d = P_{d-1} + ".model.3". The PatchGAN's
names already match ("model.0.weight", ...). PyTorch's BatchNorm also stores a
``num_batches_tracked`` counter, which our layers do not need.

    python -m pix2pix.official export --name facades_label2photo --out latest_net_G.pth
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

import nn
from pix2pix.files.checkpoint import CheckpointError, read_checkpoint
from pix2pix.files.pth import load_pth, save_pth
from pix2pix.models import define_G
from pix2pix.models.networks import unet_depth
from pix2pix.models.budget import check_generator_claim, memory_budget

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _block_prefix(depth):
    prefix = "model"
    for d in range(1, depth + 1):
        prefix += ".model.1" if d == 1 else ".model.3"
    return prefix


def unet_key_map(num_downs):
    """{our key: official key} for a U-Net with ``num_downs`` levels and BatchNorm."""
    mapping = {}
    for d in range(num_downs):
        p = _block_prefix(d) + ".model"
        outermost, innermost = d == 0, d == num_downs - 1
        mapping[f"down.{d}.conv.weight"] = f"{p}.{0 if outermost else 1}.weight"
        if outermost:
            mapping["final.conv.weight"] = f"{p}.3.weight"
            mapping["final.conv.bias"] = f"{p}.3.bias"
            continue
        j = num_downs - 1 - d
        up_conv, up_norm = (3, 4) if innermost else (5, 6)
        mapping[f"up.{j}.conv.weight"] = f"{p}.{up_conv}.weight"
        for k in _BN_KEYS:
            mapping[f"up.{j}.norm.{k}"] = f"{p}.{up_norm}.{k}"
            if not innermost:
                mapping[f"down.{d}.norm.{k}"] = f"{p}.2.{k}"
    return mapping


def infer_unet(official_state):
    """(num_downs, input_nc, output_nc, ngf) read off an official U-Net state dict."""
    first = official_state.get("model.model.0.weight")
    if first is None:
        raise CheckpointError("not an official U-Net generator: no 'model.model.0.weight' key "
                              "(is it a ResNet generator, or a discriminator?)")
    num_downs = 1
    while f"{_block_prefix(num_downs)}.model.1.weight" in official_state:
        num_downs += 1
    output_nc = official_state["model.model.3.weight"].shape[1]
    return num_downs, first.shape[1], output_nc, first.shape[0]


def official_to_ours(official_state, our_keys_shapes, key_map):
    """Rename official arrays to our keys, checking that every key is used and every
    shape matches; raises CheckpointError listing everything that does not fit."""
    ours, problems = {}, []
    used = set()
    for our_key, shape in our_keys_shapes.items():
        theirs = key_map.get(our_key, our_key)
        if theirs not in official_state:
            problems.append(f"missing {theirs} (for {our_key})")
            continue
        array = np.asarray(official_state[theirs])
        if tuple(array.shape) != tuple(shape):
            problems.append(f"{theirs}: shape {tuple(array.shape)}, expected {tuple(shape)}")
        ours[our_key] = array
        used.add(theirs)
    extra = [k for k in official_state if k not in used and not k.endswith("num_batches_tracked")]
    problems += [f"unexpected key {k}" for k in extra]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... ({len(problems)} problems)"
                                           if len(problems) > 8 else "")
        raise CheckpointError(f"the official weights do not fit this network: {shown}")
    return ours


def ours_to_official(state, key_map):
    """Our state dict renamed to official keys, with PyTorch's num_batches_tracked added."""
    out = {}
    for key, array in state.items():
        official = key_map.get(key, key)
        out[official] = np.asarray(array)
        if official.endswith(".running_var"):
            out[official[:-len("running_var")] + "num_batches_tracked"] = np.array(0, np.int64)
    return out


def infer_resnet(official_state):
    """define_G's options read off an official ResnetGenerator state dict: the blocks are
    model.10 .. model.<9 + n>, the output conv model.<17 + n>; BatchNorm keeps running
    statistics, instance norm none but its convs have biases; dropout shifts a block's
    second conv from conv_block.5 to conv_block.6."""
    first = official_state["model.1.weight"]
    blocks = len([k for k in official_state
                  if k.endswith(".conv_block.1.weight") and k.count(".") == 4])
    netG = {9: "resnet_9blocks", 6: "resnet_6blocks"}.get(blocks)
    last = official_state.get(f"model.{17 + blocks}.weight")
    if netG is None or last is None or first.ndim != 4 or last.ndim != 4:
        raise CheckpointError(f"not an official ResNet generator with 6 or 9 blocks ({blocks} "
                              "residual blocks found)")
    norm = ("batch" if "model.2.running_mean" in official_state else
            "instance" if "model.1.bias" in official_state else "none")
    dropout = np.ndim(official_state.get("model.10.conv_block.6.weight")) == 4
    return dict(netG=netG, input_nc=first.shape[1], output_nc=last.shape[0], ngf=first.shape[0],
                norm=norm, use_dropout=dropout)


def infer_generator(official_state):
    """(define_G's options, {our key: official key}) of an official generator's state dict:
    a U-Net (read by infer_unet) or a ResNet (infer_resnet; the names are already ours)."""
    if "model.model.0.weight" in official_state:
        num_downs, input_nc, output_nc, ngf = infer_unet(official_state)
        return (dict(netG=f"unet_{2 ** num_downs}", input_nc=input_nc, output_nc=output_nc,
                     ngf=ngf, norm="batch", use_dropout=True), unet_key_map(num_downs))
    if "model.1.weight" in official_state:
        return infer_resnet(official_state), {}
    raise CheckpointError("not an official U-Net or ResNet generator: no 'model.model.0.weight' "
                          "or 'model.1.weight' key (is it a discriminator?)")


def load_official_generator(path, opt=None):
    """Our generator holding the weights of an official ``latest_net_G.pth``: a U-Net
    (unet_<size>, BatchNorm, the port's dropout placement) or a ResNet (resnet_9blocks,
    resnet_6blocks). The architecture is read off the file and checked against its size
    and the memory budget before anything is built."""
    state = load_pth(path)
    found, key_map = infer_generator(state)
    side = 2 ** unet_depth(found["netG"]) if found["netG"].startswith("unet_") else 256
    check_generator_claim(path, found["netG"], found["input_nc"], found["output_nc"],
                          found["ngf"], found["norm"], True, os.path.getsize(path), side,
                          memory_budget(getattr(opt, "memory_budget", None)))
    seed = getattr(opt, "seed", 0) if opt is not None else 0
    G = define_G(**found, dropout_placement="pytorch", seed=seed)
    shapes = {k: v.shape for k, v in G.state_dict().items()}
    try:
        G.load_state_dict(official_to_ours(state, shapes, key_map))
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from e
    if opt is not None:  # the test command then resizes images for this generator
        for key in ("netG", "ngf", "input_nc", "output_nc", "norm"):
            setattr(opt, key, found[key])
        opt.no_dropout, opt.dropout_placement = not found["use_dropout"], "pytorch"
    return G


def export_generator(checkpoint, out):
    """Write the G of one of our checkpoints with official names (.pth or .npz)."""
    meta, arrays = read_checkpoint(checkpoint)
    options = meta["options"]
    if options.get("norm", "batch") != "batch" or options.get("no_skips"):
        raise CheckpointError("only U-Nets with BatchNorm and skips have an official layout")
    num_downs = int(options["netG"].split("_")[1]).bit_length() - 1
    state = {k[2:]: v for k, v in arrays.items() if k.startswith("G.")}
    official = ours_to_official(state, unet_key_map(num_downs))
    if str(out).endswith(".npz"):
        nn.save(official, out)
    else:
        save_pth(official, out)
    return official


def main(argv=None):
    p = argparse.ArgumentParser(description="Export our generator with the official names.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write G as an official latest_net_G.pth (or .npz)")
    e.add_argument("--name", default="facades_label2photo")
    e.add_argument("--checkpoints_dir", default="checkpoints")
    e.add_argument("--checkpoint", default=None, help="a checkpoint file instead of --name")
    e.add_argument("--out", required=True, help="output .pth (torch-loadable) or .npz")
    opt = p.parse_args(argv)
    path = opt.checkpoint or Path(opt.checkpoints_dir) / opt.name / "latest.npz"
    try:
        official = export_generator(path, opt.out)
    except (CheckpointError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(official)} arrays with official names to {opt.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
