"""The official port's option names (junyanz/pytorch-CycleGAN-and-pix2pix), so that its
pix2pix command lines run here unchanged, and the rules that turn them into our options.

Each option either means the same here, or is accepted with one line saying what this
project does instead (the visdom / wandb display), or is refused with the reason.
"""
import os
from pathlib import Path

from pix2pix.data.datasets import MODES as DATASET_MODES
from pix2pix.data.preprocess import MODES as PREPROCESS_MODES
from pix2pix.data.published import DIRECTIONS
from pix2pix.models import INIT_TYPES
from pix2pix.models.pix2pix_model import PIX2PIX_DEFAULTS as MODEL

LR_POLICIES = ("linear", "step", "plateau", "cosine")
MODELS = ("pix2pix", "colorization", "test")
# The port's display options: accepted, answered with what this project writes instead.
DISPLAY_OPTIONS = {"display_id": int, "display_freq": int, "display_ncols": int,
                   "display_server": str, "display_env": str, "display_port": int,
                   "update_html_freq": int, "display_winsize": int, "wandb_project_name": str}
DISPLAY_FLAGS = ("no_html", "use_wandb")


def given_options(parser, argv):
    """dest names of the options written out in argv (no abbreviations: allow_abbrev=False)."""
    flags = {arg.split("=", 1)[0] for arg in argv}
    return {a.dest for a in parser._actions if flags.intersection(a.option_strings)}


def add_port_common_options(p):
    g = p.add_argument_group("the official port's names (train and test)")
    g.add_argument("--model", default="pix2pix", choices=MODELS,
                   help="colorization = --dataset_mode colorization; test = inputs only")
    g.add_argument("--dataset_mode", default="aligned", choices=DATASET_MODES,
                   help="aligned: A|B pairs (or A/ + B/ folders); colorization: plain photos, "
                        "L -> ab; single: one folder of inputs (test only)")
    g.add_argument("--preprocess", default="resize_and_crop", choices=PREPROCESS_MODES,
                   help="how each half is resized and cropped (the port's meanings)")
    g.add_argument("--gpu_ids", default=None, help="-1 = cpu, 0 = cuda; 0,1,... = one "
                   "process per GPU under mpiexec (default: --device)")
    g.add_argument("--init_type", default=MODEL["init_type"], choices=INIT_TYPES)
    g.add_argument("--init_gain", type=float, default=MODEL["init_gain"],
                   help="std of normal; gain of "
                   "xavier and orthogonal")
    g.add_argument("--serial_batches", action="store_true", help="images in order, no shuffle")
    g.add_argument("--num_threads", type=int, default=4, help="0 = load data in the main "
                   "thread; otherwise one prefetch thread")
    g.add_argument("--load_iter", type=int, default=0, help="> 0: load iter_<N>.npz "
                   "(saved with --save_by_iter) instead of --epoch")
    g.add_argument("--verbose", action="store_true", help="print the networks")
    g.add_argument("--suffix", default="", help="appended to --name: e.g. {netG}_{load_size}")
    for name, kind in DISPLAY_OPTIONS.items():
        g.add_argument(f"--{name}", type=kind, default=None, help="accepted; see the run page")
    for name in DISPLAY_FLAGS:
        g.add_argument(f"--{name}", action="store_true", help="accepted; see the run page")


def add_port_train_options(p):
    g = p.add_argument_group("the official port's names (training)")
    g.add_argument("--phase", default="train", help="the split to train on")
    g.add_argument("--pool_size", type=int, default=0, help="0: pix2pix has no image pool")
    g.add_argument("--lr_policy", default="linear", choices=LR_POLICIES,
                   help="linear: the paper's decay over --n_epochs_decay; step: x0.1 every "
                        "--lr_decay_iters epochs; plateau: x0.2 when the epoch's mean G_L1 "
                        "stops falling for 5 epochs; cosine: over --n_epochs")
    g.add_argument("--lr_decay_iters", type=int, default=50, help="step policy: epochs per step")
    g.add_argument("--epoch_count", type=int, default=1, help="the first epoch's number "
                   "(a fresh or fine-tuning start continues the schedule from there)")
    g.add_argument("--print_freq", type=int, default=100, help="one plain log line every "
                   "N iterations")
    g.add_argument("--save_latest_freq", type=int, default=5000, help="save latest.npz every "
                   "N iterations (and at every epoch end)")
    g.add_argument("--save_by_iter", action="store_true", help="also keep iter_<N>.npz")
    g.add_argument("--init_G", default=None, help="start G from these weights: one of our "
                   ".npz checkpoints or an official latest_net_G.pth (fresh optimisers)")


def display_note(given):
    """One line for the port's display options, or None when none was given."""
    shown = sorted(given & (set(DISPLAY_OPTIONS) | set(DISPLAY_FLAGS)))
    if not shown:
        return None
    return (f"note: {', '.join('--' + s for s in shown)} accepted for the port's command lines; "
            "this project has no visdom/wandb display: it writes index.html, samples_latest.png, "
            "loss_plot.png and loss_log.jsonl in the run folder instead")


def processes_from_environment():
    """How many processes mpiexec started (1 without mpiexec), read from the variables MPI
    launchers set (MPICH and Intel MPI: PMI_SIZE; Open MPI: OMPI_COMM_WORLD_SIZE), so that
    a plain run never imports mpi4py."""
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 1


def device_from_gpu_ids(gpu_ids, device, device_given, train_argv=None):
    """--gpu_ids -1 -> cpu, 0 -> cuda; for training (train_argv: its arguments) also
    0,1,... -> cuda with one process per GPU under mpiexec. Returns (device, error or None)."""
    ids = [s.strip() for s in str(gpu_ids).split(",") if s.strip()]
    if len(ids) > 1 and train_argv is None:
        return device, (f"--gpu_ids {gpu_ids}: one device per run; use --gpu_ids 0 "
                        f"(CUDA_VISIBLE_DEVICES=N picks another GPU)")
    if len(ids) > 1 and processes_from_environment() == 1:
        return device, (f"--gpu_ids {gpu_ids}: one process per GPU here; start {len(ids)} "
                        f"with: mpiexec -n {len(ids)} python train.py {' '.join(train_argv)}"
                        f" (needs pip install -e \".[distributed]\")")
    if len(ids) > 1 and all(i.isdigit() for i in ids):
        wanted = "cuda"
    elif ids not in (["-1"], ["0"]):
        return device, (f"--gpu_ids {gpu_ids}: use -1 (cpu) or 0 (cuda; CUDA_VISIBLE_DEVICES=N "
                        f"picks another GPU), or a list such as 0,1 under mpiexec")
    else:
        wanted = "cpu" if ids == ["-1"] else "cuda"
    if device_given and device != wanted:
        return device, f"--gpu_ids {gpu_ids} means --device {wanted}, but --device {device} was given"
    return wanted, None


def default_direction(dataroot):
    """(direction, why): the download table's direction for a known data set, else AtoB."""
    name = Path(str(dataroot)).name
    if str(dataroot) == "synthetic":
        return "BtoA", "the synthetic facades: labels -> photo"
    if name in DIRECTIONS:
        direction, what = DIRECTIONS[name]
        return direction, f"the default for {name}: {what}"
    return "AtoB", "the port's default for data sets it does not know"


def _mode_errors(opt, given, train):
    """--model and --dataset_mode: what they imply, and the combinations refused."""
    errors = []
    if opt.model == "colorization":
        if "dataset_mode" in given and opt.dataset_mode != "colorization":
            errors.append(f"--model colorization needs --dataset_mode colorization, got "
                          f"{opt.dataset_mode}")
        opt.dataset_mode = "colorization"
    if opt.model == "test":
        if train:
            errors.append("--model test is for the test command; train with --model pix2pix")
        opt.dataset_mode = "single"
    if opt.dataset_mode == "single" and train:
        errors.append("--dataset_mode single has no targets to train on: use aligned (A|B "
                      "pairs) or colorization")
    if opt.dataset_mode == "colorization":
        # L in, ab out, as in the port's colorization model.
        for name, channels in (("input_nc", 1), ("output_nc", 2)):
            if name in given and getattr(opt, name) != channels:
                errors.append(f"--dataset_mode colorization has --{name} {channels} (L in, ab "
                              f"out); got {getattr(opt, name)}")
            setattr(opt, name, channels)
        if "direction" in given and opt.direction != "AtoB":
            errors.append("--dataset_mode colorization goes L -> ab: --direction AtoB")
        opt.direction = "AtoB"
    return errors


def _range_errors(opt, train):
    """The new options' allowed values."""
    checks = [("num_threads", 0), ("load_iter", 0)]
    if train:
        checks += [("epoch_count", 1), ("print_freq", 1), ("save_latest_freq", 1),
                   ("lr_decay_iters", 1)]
    errors = [f"--{name} must be >= {low}, got {getattr(opt, name)}"
              for name, low in checks if getattr(opt, name) < low]
    if not opt.init_gain > 0:
        errors.append(f"--init_gain must be > 0, got {opt.init_gain}")
    for name in ("input_nc", "output_nc"):
        if getattr(opt, name) not in (1, 2, 3):
            errors.append(f"--{name} must be 1 (grey) or 3 (RGB), got {getattr(opt, name)}")
    if train and opt.pool_size < 0:
        errors.append(f"--pool_size must be >= 0, got {opt.pool_size}")
    elif train and opt.pool_size > 0:
        errors.append(f"--pool_size {opt.pool_size}: pix2pix trains D on the current fake only "
                      "(the port's pix2pix forces --pool_size 0; its image pool is for CycleGAN)."
                      " Use --pool_size 0")
    return errors


def resolve_port_options(opt, given, train=True, argv=None):
    """Turn the port's options into ours in place; returns lines to print. Raises
    SystemExit listing every problem, each with its fix."""
    errors = _mode_errors(opt, given, train) + _range_errors(opt, train)
    notes = [display_note(given)]
    if opt.gpu_ids is not None:
        opt.device, error = device_from_gpu_ids(opt.gpu_ids, opt.device, "device" in given,
                                                 (argv or []) if train else None)
        errors.append(error)
    if opt.suffix:
        try:
            opt.name = f"{opt.name}_{opt.suffix.format(**vars(opt))}"
        except (KeyError, IndexError, ValueError) as e:
            errors.append(f"--suffix {opt.suffix!r}: {e!r} is not an option name; write e.g. "
                          "{netG}_size{load_size}")
    if opt.num_threads > 1 and "num_threads" in given:
        notes.append(f"note: --num_threads {opt.num_threads}: data is decoded in one "
                     "background thread here")
    errors = [e for e in errors if e]
    if errors:
        raise SystemExit("error: " + "\nerror: ".join(errors))
    return [n for n in notes if n]


def resolve_direction(opt, given):
    """Fill in --direction when it was not given; returns the line that says which."""
    if "direction" in given:
        return f"direction: {opt.direction} (given)"
    if opt.direction is not None:
        return f"direction: {opt.direction} (--dataset_mode {opt.dataset_mode}: L -> ab)"
    opt.direction, why = default_direction(opt.dataroot)
    return f"direction: {opt.direction} ({why}; --direction sets it)"


# What the test command takes from a checkpoint: G's shapes must match (refused if given
# otherwise); the data's meaning must match; the sizes may change (used, and said so).
G_SHAPE_OPTIONS = ("netG", "ngf", "norm", "no_dropout", "dropout_placement", "no_skips",
                   "input_nc", "output_nc")
MEANING_OPTIONS = ("direction", "dataset_mode")
SIZE_OPTIONS = ("crop_size", "preprocess")


def reconcile_with_checkpoint(opt, saved, given):
    """Set opt's model and data options from a checkpoint's saved options, except those the
    command line gave. Returns (notes, errors): an option given with another value than the
    checkpoint's is used where it can be (sizes) and refused where it cannot (shapes, the
    direction), never silently replaced."""
    notes, errors = [], []
    for key in G_SHAPE_OPTIONS + MEANING_OPTIONS + SIZE_OPTIONS:
        if key not in saved:
            continue
        if key not in given or getattr(opt, key) == saved[key]:
            setattr(opt, key, saved[key])
        elif key == "dataset_mode" and opt.dataset_mode == "single":
            notes.append("dataset_mode: single (inputs only)")
        elif key in SIZE_OPTIONS:
            notes.append(f"using --{key} {getattr(opt, key)} (the checkpoint trained with "
                         f"{saved[key]})")
        else:
            errors.append(f"--{key} {getattr(opt, key)}: the checkpoint's generator was trained "
                          f"with --{key} {saved[key]}; omit --{key} or pass {saved[key]}")
    if "load_size" in given:
        notes.append(f"test images: resized to --load_size {opt.load_size}, then the centre "
                     f"{opt.crop_size}x{opt.crop_size}")
    return notes, errors
