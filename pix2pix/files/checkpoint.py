"""Checkpoints: everything needed to resume a run exactly, in one .npz file.

Layout: "G.<name>" and "D.<name>" (parameters and buffers), "optimizer_G.<key>" and
"optimizer_D.<key>" (Adam's moments and step), and "meta": a JSON string with the epoch,
the iteration, the options and the dropout generator's state. nn.save writes it
atomically, so a crash or a full disk never leaves half a checkpoint behind.
"""
import json
import os
from pathlib import Path

import numpy as np

import nn

FORMAT = "pix2pix-from-scratch"
VERSION = 1
# Options that change the networks' shapes: a checkpoint only fits the same values.
ARCHITECTURE_OPTIONS = ("netG", "netD", "n_layers_D", "ngf", "ndf", "norm", "no_skips",
                        "gan_mode", "conditional_D", "input_nc", "output_nc")


# Options that define the experiment: resuming with another value would silently train a
# different model than the one the run started. The rest (the schedule's length, the lr
# after a divergence, how often to save, the device, ...) may change on resume and apply
# from then on.
EXPERIMENT_OPTIONS = ("direction", "lambda_L1", "beta1", "dataroot", "load_size",
                      "crop_size", "no_flip", "seed", "unconditional_D", "no_dropout",
                      "dropout_placement", "max_dataset_size")


class CheckpointError(ValueError):
    pass


class NonFiniteStateError(CheckpointError):
    """An array about to be saved holds NaN or Inf: the run has diverged."""


def disk_error_message(error, path=None):
    """One line for an OSError while writing: the path, the cause and what to do."""
    where = error.filename or path
    return (f"cannot write {where}: {error.strerror or error}. Free disk space, fix the "
            "folder's permissions, or choose another folder")


def first_non_finite(state):
    """The name of the first floating-point array in ``state`` (host arrays or numbers)
    holding NaN or Inf, or None."""
    for name, value in state.items():
        value = np.asarray(value)
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return name
    return None


def snapshot_path(run_dir, epoch="latest", load_iter=0):
    """The checkpoint --continue_train (or the test command) reads."""
    if load_iter and load_iter > 0:
        return Path(run_dir) / f"iter_{load_iter}.npz"
    return Path(run_dir) / ("latest.npz" if epoch == "latest" else f"epoch_{epoch}.npz")


def save_checkpoint(path, model, epoch, epoch_iter, total_iters, options, weights_only=False,
                    dropout_rngs=None):
    """Write model (and, unless weights_only, optimiser) state to ``path`` atomically.

    epoch: completed epochs; epoch_iter: batches done in the epoch under way;
    dropout_rngs: with several processes, every rank's dropout generator state.
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
    if dropout_rngs is not None:
        meta["dropout_rngs"] = dropout_rngs
    # One copy to the host, before the check: the file needs host arrays anyway, and a GPU
    # array refuses np.asarray (the check would crash every GPU run at its first save).
    state = {name: nn.to_numpy(value) for name, value in state.items()}
    bad = first_non_finite(state)
    if bad is not None:
        raise NonFiniteStateError(f"{bad} holds NaN or Inf, so it was not saved to {path}")
    state["meta"] = np.array(json.dumps(meta))
    try:
        nn.save(state, path)
    except OSError as e:
        raise CheckpointError(f"could not write checkpoint {path}: {e.strerror or e}. The "
                              "previous checkpoint (if any) is intact. Free disk space or "
                              "choose another --checkpoints_dir.") from e


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
    meta = _parse_meta(arrays.pop("meta"), path)
    for name, value in arrays.items():
        if value.dtype.kind not in "biuf":
            raise CheckpointError(f"{path}: array {name!r} has dtype {value.dtype}, not numbers "
                                  "(hand-edited or corrupt checkpoint)")
    return meta, arrays


# meta entry -> the JSON types it must have
_META_TYPES = {"epoch": int, "epoch_iter": int, "total_iters": int, "options": dict,
               "dropout_rng": dict}


def _parse_meta(raw, path):
    """The checkpoint's meta entry as a dict, every field checked: a hand-edited or
    truncated one is a one-line CheckpointError naming the file."""
    def bad(what):
        return CheckpointError(f"{path}: {what} (hand-edited or corrupt checkpoint; use "
                               "another one, e.g. an epoch_<N>.npz snapshot)")
    try:
        meta = json.loads(str(raw))
    except ValueError as e:
        raise bad(f"meta is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise bad(f"meta is a {type(meta).__name__}, not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    if type(meta.get("version", 0)) is not int:
        raise bad(f"meta 'version' is {meta['version']!r}, expected an integer")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {meta['version']}, newer "
                              f"than this code understands ({VERSION}): update the code")
    for key, kind in _META_TYPES.items():
        if key not in meta:
            raise bad(f"meta lacks {key!r}")
        if type(meta[key]) is not kind or (kind is int and meta[key] < 0):
            raise bad(f"meta {key!r} is {meta[key]!r}, expected a "
                      f"{'non-negative integer' if kind is int else 'JSON object'}")
    try:  # the dropout generator's state must be one numpy accepts
        np.random.Generator(np.random.PCG64()).bit_generator.state = meta["dropout_rng"]
    except (TypeError, ValueError, KeyError) as e:
        raise bad(f"the dropout generator state is invalid ({type(e).__name__}: {e})") from None
    return meta


def architecture_differences(saved_options, options):
    """Human-readable list of architecture options that differ, e.g. ["ngf: 64 vs 32"]."""
    return [f"{k}: checkpoint {saved_options.get(k)!r}, now {options.get(k)!r}"
            for k in ARCHITECTURE_OPTIONS
            if k in saved_options and k in options and saved_options[k] != options[k]]


def experiment_differences(saved_options, options):
    """["--lambda_L1: saved 100.0, given 10.0", ...] for the experiment options that differ."""
    return [f"--{k}: saved {saved_options[k]!r}, given {options[k]!r}"
            for k in EXPERIMENT_OPTIONS
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
    model.netG.dropout_generator.bit_generator.state = meta["dropout_rng"]
    return meta
