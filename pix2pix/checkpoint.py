"""Checkpoints: everything needed to resume a run exactly, in one .npz file.

Layout: "G.<name>" and "D.<name>" (parameters and buffers), "optimizer_G.<key>" and
"optimizer_D.<key>" (Adam's moments and step), and "meta": a JSON string with the epoch,
the iteration, the options and the dropout generator's state. nn.save writes it
atomically, so a crash or a full disk never leaves half a checkpoint behind.
"""
import json
import os

import numpy as np

import nn

FORMAT = "pix2pix-from-scratch"
VERSION = 1
# Options that change the networks' shapes: a checkpoint only fits the same values.
ARCHITECTURE_OPTIONS = ("netG", "netD", "n_layers_D", "ngf", "ndf", "norm", "no_skips",
                        "gan_mode", "conditional_D", "input_nc", "output_nc")


# What read_checkpoint needs in "meta", with the type each must have.
META_KEYS = {"epoch": int, "epoch_iter": int, "total_iters": int, "options": dict,
             "dropout_rng": dict}


class CheckpointError(ValueError):
    pass


class NonFiniteStateError(CheckpointError):
    """An array about to be saved holds NaN or inf; nothing was written."""


def _check_finite(state, path):
    """Refuse to save a NaN/inf weight, running statistic or Adam moment: a checkpoint
    that resumes or evaluates to NaN is worse than the previous one."""
    for name, value in state.items():
        array = nn.to_numpy(value) if hasattr(value, "shape") else np.asarray(value)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = int(array.size - np.isfinite(array).sum())
            raise NonFiniteStateError(
                f"{name} holds {bad} non-finite value(s) (NaN or inf) of {array.size}; "
                f"{path} was not written")


def save_checkpoint(path, model, epoch, epoch_iter, total_iters, options, weights_only=False):
    """Write model (and, unless weights_only, optimiser) state to ``path`` atomically.

    epoch: completed epochs; epoch_iter: batches done in the epoch under way.
    """
    state = {}
    for prefix, net in model.networks().items():
        state.update({f"{prefix}.{k}": v for k, v in net.state_dict().items()})
    if not weights_only:
        for prefix, opt in model.optimizers().items():
            state.update({f"optimizer_{prefix}.{k}": v for k, v in opt.state_dict().items()})
    meta = dict(format=FORMAT, version=VERSION, epoch=epoch, epoch_iter=epoch_iter,
                total_iters=total_iters, options=options, weights_only=weights_only,
                dropout_rng=model.netG.dropout_generator.bit_generator.state)
    _check_finite(state, path)
    state["meta"] = np.array(json.dumps(meta))
    try:
        nn.save(state, path)
    except OSError as e:
        raise CheckpointError(
            f"could not write checkpoint {path}: {e.strerror or e}. The previous checkpoint "
            f"(if any) is intact. Free disk space or choose another --checkpoints_dir.") from e


def read_checkpoint(path):
    """(meta dict, arrays dict) of a checkpoint, after checking its format and version."""
    if not os.path.exists(path):
        raise CheckpointError(f"no checkpoint at {path}: train first, or check --name, "
                              f"--checkpoints_dir and --epoch")
    try:
        arrays = nn.load(path)
    except ValueError as e:  # truncated, or not an .npz: the message names the file
        raise CheckpointError(str(e)) from e
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is not a pix2pix checkpoint of this project (no 'meta' "
                              "entry); for official PyTorch weights pass the .pth file instead")
    meta = _parse_meta(path, arrays.pop("meta"))
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {meta['version']}, newer "
                              f"than this code understands ({VERSION}): update the code")
    for key in META_KEYS:
        value = meta.get(key)
        if not isinstance(value, META_KEYS[key]) or isinstance(value, bool) or (
                META_KEYS[key] is int and value < 0):
            raise CheckpointError(f"{path}: its meta has no valid {key!r} (expected "
                                  f"{'an int >= 0' if META_KEYS[key] is int else 'a dict'}, "
                                  f"found {value!r:.60}); "
                                  "the file was edited or damaged: use another checkpoint")
    not_numbers = [k for k, v in arrays.items() if v.dtype.kind not in "biuf"]
    if not_numbers:
        raise CheckpointError(f"{path}: {not_numbers[0]} holds {arrays[not_numbers[0]].dtype} "
                              "values, not numbers; the file was edited or is not a checkpoint "
                              "of this project")
    return meta, arrays


def read_meta(path):
    """The meta dict of a checkpoint, without reading its arrays."""
    try:
        raw = nn.load(path, names={"meta"}).get("meta")
    except (ValueError, FileNotFoundError) as e:
        raise CheckpointError(str(e)) from e
    if raw is None:
        raise CheckpointError(f"{path} is not a pix2pix checkpoint of this project (no 'meta')")
    return _parse_meta(path, raw)


def _parse_meta(path, raw):
    """The meta entry as a dict, or a CheckpointError naming the file and the problem."""
    try:
        meta = json.loads(str(raw))
    except ValueError as e:
        raise CheckpointError(f"{path}: its meta entry is not valid JSON ({e}); the file was "
                              "edited or damaged: use another checkpoint") from e
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its meta entry is a JSON {type(meta).__name__}, not an "
                              "object; the file was edited or damaged: use another checkpoint")
    return meta


def architecture_differences(saved_options, options):
    """Human-readable list of architecture options that differ, e.g. ["ngf: 64 vs 32"]."""
    return [f"{k}: checkpoint {saved_options.get(k)!r}, now {options.get(k)!r}"
            for k in ARCHITECTURE_OPTIONS
            if k in saved_options and k in options and saved_options[k] != options[k]]


def _subset(arrays, prefix):
    start = len(prefix) + 1
    return {k[start:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}


def load_checkpoint(path, model, options=None, weights_only=False):
    """Restore ``model`` (networks, optimisers unless weights_only, dropout generator) from
    ``path``; returns the meta dict. Names the options that differ when the architecture
    does not match."""
    meta, arrays = read_checkpoint(path)
    if options is not None:
        diffs = architecture_differences(meta.get("options", {}), options)
        if diffs:
            raise CheckpointError(f"{path} was trained with another architecture: "
                                  + "; ".join(diffs) + ". Use the same options to load it.")
    try:
        for prefix, net in model.networks().items():
            net.load_state_dict(_subset(arrays, prefix))
        if not weights_only:
            if meta.get("weights_only"):
                raise CheckpointError(f"{path} holds weights only; it cannot resume training "
                                      "(use latest.npz)")
            for prefix, opt in model.optimizers().items():
                opt.load_state_dict(_subset(arrays, f"optimizer_{prefix}"))
    except ValueError as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path} does not fit this model: {e}") from e
    try:
        model.netG.dropout_generator.bit_generator.state = meta["dropout_rng"]
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: its meta holds an invalid dropout generator state "
                              f"({type(e).__name__}: {e}); the file was edited or damaged") from e
    return meta
