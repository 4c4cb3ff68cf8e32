"""Option checks that need no data: numeric ranges, and what --continue_train may change.

``range_errors`` lists every number outside its allowed range (an --lr of 0 used to end
in ZeroDivisionError, --seed -1 in a ValueError traceback). ``resume_errors`` compares
the options of a run being resumed with the ones its checkpoint saved: an option that
changes the experiment (the direction, the loss weights, the data pipeline) is refused,
naming both values; one of the schedule's (the number of epochs, the learning rate) is
accepted with a note that it applies from now on.
"""
import math
import sys
from pathlib import Path

from .checkpoint import ARCHITECTURE_OPTIONS, CheckpointError, read_meta

# name -> (lowest, highest, lowest allowed?, highest allowed?); None = no limit.
RANGES = {
    "lr": (0, None, False, True), "beta1": (0, 1, True, False),
    "lambda_L1": (0, None, True, True), "ngf": (1, None, True, True),
    "ndf": (1, None, True, True),
    "input_nc": (1, None, True, True), "output_nc": (1, None, True, True),
    "load_size": (1, None, True, True), "crop_size": (1, None, True, True),
    "seed": (0, None, True, True), "batch_size": (1, None, True, True),
    "n_epochs": (0, None, True, True), "n_epochs_decay": (0, None, True, True),
    "save_epoch_freq": (1, None, True, True), "num_samples": (1, None, True, True),
    "max_iters": (1, None, True, True), "max_dataset_size": (1, None, True, True),
}

# Options that may differ on resume: they say where and how this invocation runs.
FREE_ON_RESUME = {"name", "checkpoints_dir", "continue_train", "epoch", "device",
                  "no_progress", "max_iters", "preset"}
# The schedule, and where the data lives: a new value applies from now on.
FROM_NOW_ON = {"n_epochs", "n_epochs_decay", "lr", "save_epoch_freq", "num_samples",
               "batch_size", "dataroot"}


def _describe(low, high, low_ok, high_ok):
    if high is None:
        return f"{'>=' if low_ok else '>'} {low}"
    return f"in {'[' if low_ok else '('}{low}, {high}{']' if high_ok else ')'}"


def range_errors(opt):
    """One message per option of ``opt`` (a Namespace) outside RANGES."""
    errors = []
    for name, (low, high, low_ok, high_ok) in RANGES.items():
        value = getattr(opt, name, None)
        if value is None:  # not an option of this command, or "no limit" (max_iters)
            continue
        ok = (math.isfinite(value) and (value >= low if low_ok else value > low)
              and (high is None or (value <= high if high_ok else value < high)))
        if not ok:
            errors.append(f"--{name} must be {_describe(low, high, low_ok, high_ok)}, "
                          f"got {value}")
    if getattr(opt, "n_epochs", 1) + getattr(opt, "n_epochs_decay", 0) < 1:
        errors.append("--n_epochs + --n_epochs_decay must be at least 1 (the run's length "
                      "in epochs)")
    return errors


def _as_argument(name, value):
    """How to give ``value`` on the command line (store_true flags have no value)."""
    if isinstance(value, bool) or value is None:
        return f"--{name}" if value else f"no --{name}"
    return f"--{name} {value}"


def resume_errors(saved, given):
    """(errors, notes) comparing a checkpoint's saved options with the given ones. The
    architecture is left to load_checkpoint, which names what does not fit."""
    errors, notes = [], []
    for name in sorted(set(saved) & set(given) - FREE_ON_RESUME - set(ARCHITECTURE_OPTIONS)):
        if saved[name] == given[name]:
            continue
        if name in FROM_NOW_ON:
            notes.append(f"--{name} {given[name]} (the checkpoint's run used "
                         f"{saved[name]}) applies from now on")
        else:
            errors.append(f"--{name} changes the experiment: the checkpoint was trained with "
                          f"{saved[name]!r}, the command gives {given[name]!r}. Resume with "
                          f"{_as_argument(name, saved[name])}, or start a new run with another "
                          "--name")
    return errors, notes


def saved_options(opt):
    """The options saved in the checkpoint --continue_train will load, or None when it
    cannot be read (Trainer.start then says why)."""
    name = "latest.npz" if opt.epoch == "latest" else f"epoch_{opt.epoch}.npz"
    try:
        options = read_meta(Path(opt.checkpoints_dir) / opt.name / name).get("options")
    except CheckpointError:  # missing, truncated, edited: Trainer.start reports it
        return None
    return options if isinstance(options, dict) else None


def check_options(opt):
    """All of the above for ``opt``; notes go to stderr, errors are returned."""
    errors = range_errors(opt)
    if getattr(opt, "continue_train", False):
        saved = saved_options(opt)
        if saved is not None:
            resume, notes = resume_errors(saved, vars(opt))
            errors += resume
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
    return errors
