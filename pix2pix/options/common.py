"""Command-line options, named as in the official implementation where the concept matches.

Every default is the paper's setting for facades labels -> photo; the model's (MODEL) are
Pix2Pix's own, written once there. ``--preset cpu`` swaps
in a configuration that trains in reasonable time on a laptop CPU (see README).
"""
import argparse
import sys

from pix2pix.models.networks import unet_depth
from pix2pix.models.pix2pix_model import PIX2PIX_DEFAULTS as MODEL
from pix2pix.options.port import (
    add_port_common_options,
    add_port_train_options,
    given_options,
    resolve_direction,
    resolve_port_options,
)

# A smaller model on smaller images: ~1/16 of the arithmetic of the paper's configuration.
PRESETS = {
    "paper": {},
    "cpu": dict(load_size=143, crop_size=128, netG="unet_128", ngf=32, ndf=32,
                n_epochs=10, n_epochs_decay=10),
}


def add_model_options(p):
    g = p.add_argument_group("model")
    g.add_argument("--netG", default=MODEL["netG"],
                   help="unet_<size>: unet_256 (paper), unet_128 ...")
    g.add_argument("--netD", default=MODEL["netD"], choices=["basic", "n_layers", "pixel"],
                   help="basic = 70x70 PatchGAN; n_layers uses --n_layers_D; pixel = 1x1")
    g.add_argument("--n_layers_D", type=int, default=MODEL["n_layers_D"],
                   help="for netD n_layers: 1..5 -> "
                   "receptive field 16, 34, 70, 142, 286")
    g.add_argument("--ngf", type=int, default=MODEL["ngf"],
                   help="generator width (first conv filters)")
    g.add_argument("--ndf", type=int, default=MODEL["ndf"], help="discriminator width")
    g.add_argument("--norm", default=MODEL["norm"],
                   choices=["batch", "syncbatch", "instance", "none"],
                   help="instance: per-image statistics, no learned scale (the port's); "
                        "syncbatch: batch statistics over all processes under mpiexec")
    g.add_argument("--no_dropout", action="store_true", help="no dropout in G (no noise z)")
    g.add_argument("--dropout_placement", default=MODEL["dropout_placement"],
                   choices=["paper", "pytorch"],
                   help="paper: first three decoder layers; pytorch: the official port's")
    g.add_argument("--no_skips", action="store_true",
                   help="cut the U-Net skips: the paper's encoder-decoder ablation")
    g.add_argument("--input_nc", type=int, default=MODEL["input_nc"],
                   help="1: the input half is read as grey")
    g.add_argument("--output_nc", type=int, default=MODEL["output_nc"],
                   help="1: the target half is read as grey")


def add_data_options(p):
    g = p.add_argument_group("data")
    g.add_argument("--dataroot", default="datasets/facades",
                   help="folder with <split>/ subfolders of A|B images; 'synthetic' for a "
                        "generated facade-like set that needs no download")
    g.add_argument("--direction", default=None, choices=["AtoB", "BtoA"],
                   help="AtoB: left half -> right half. Default: the data set's usual way "
                        "(facades, cityscapes: BtoA = labels -> photo; edges2*, maps, "
                        "night2day: AtoB), else AtoB; printed at the start")
    g.add_argument("--load_size", type=int, default=286, help="resize to this, then crop")
    g.add_argument("--crop_size", type=int, default=256, help="random crop (test: resize)")
    g.add_argument("--no_flip", action="store_true", help="no random horizontal flip")
    g.add_argument("--skip_bad_files", action="store_true",
                   help="train without unreadable images instead of stopping")
    g.add_argument("--max_dataset_size", type=int, default=None,
                   help="use only the first N images (quick experiments)")


def add_common_options(p):
    p.add_argument("--name", default="facades_label2photo", help="run name: folder in "
                   "--checkpoints_dir")
    p.add_argument("--checkpoints_dir", default="checkpoints")
    p.add_argument("--device", default=MODEL["device"], help="cpu or cuda (needs CuPy and a GPU)")
    p.add_argument("--seed", type=int, default=MODEL["seed"],
                   help="same seed + data + device = same run")


def train_parser():
    # allow_abbrev=False: resolve_preset sees which options were given by their full names;
    # an abbreviation (--crop 64) would be silently overridden by the preset.
    p = argparse.ArgumentParser(
        description="Train pix2pix (labels -> photo on facades by default).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter, allow_abbrev=False)
    p.add_argument("--preset", choices=sorted(PRESETS), default="paper",
                   help="cpu: a smaller configuration for a CPU; explicit options override it")
    add_common_options(p)
    add_model_options(p)
    add_data_options(p)
    g = p.add_argument_group("training")
    g.add_argument("--gan_mode", default=MODEL["gan_mode"], choices=["vanilla", "lsgan", "none"],
                   help="vanilla = BCE (paper); none = L1 only, no discriminator")
    g.add_argument("--lambda_L1", type=float, default=MODEL["lambda_L1"],
                   help="weight of L1; 0 = cGAN only")
    g.add_argument("--unconditional_D", action="store_true",
                   help="D sees only the output, not the input (the paper's ablation)")
    g.add_argument("--lr", type=float, default=MODEL["lr"])
    g.add_argument("--beta1", type=float, default=MODEL["beta1"])
    g.add_argument("--n_epochs", type=int, default=100, help="epochs at the initial lr")
    g.add_argument("--n_epochs_decay", type=int, default=100, help="epochs of linear decay to 0")
    g.add_argument("--batch_size", type=int, default=1, help="per process under mpiexec")
    g.add_argument("--save_epoch_freq", type=int, default=5, help="keep G every N epochs")
    g.add_argument("--continue_train", action="store_true", help="resume from latest.npz")
    g.add_argument("--epoch", default="latest", help="with --continue_train: which checkpoint")
    g.add_argument("--max_iters", type=int, default=None,
                   help="stop after this many iterations in all (smoke tests)")
    g.add_argument("--num_samples", type=int, default=4, help="val images in the sample grid")
    g.add_argument("--no_progress", action="store_true", help="no progress bar")
    add_port_common_options(p)
    add_port_train_options(p)
    return p


def parse_train_options(argv=None):
    """(options, lines to print at the start): the preset, the port's names, the direction
    and every range check applied."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = train_parser()
    opt = resolve_preset(parser, argv)
    given = given_options(parser, argv)
    notes = resolve_port_options(opt, given, train=True, argv=argv)
    notes.append(resolve_direction(opt, given))
    return validate(opt), notes


def resolve_preset(parser, argv=None):
    """Parse ``argv``; options the user did not give take the preset's value."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opt = parser.parse_args(argv)
    preset = PRESETS[opt.preset]
    flags = {arg.split("=", 1)[0] for arg in (argv or [])}
    given = {a.dest for a in parser._actions if flags.intersection(a.option_strings)}
    for key, value in preset.items():
        if key not in given:
            setattr(opt, key, value)
    return opt


def validate(opt):
    """Refuse impossible combinations up front, each with the fix."""
    errors = []
    mode = opt.preprocess
    cropping = mode.endswith("crop")
    if opt.crop_size > opt.load_size and mode in ("resize_and_crop", "scale_width_and_crop"):
        errors.append(f"--crop_size {opt.crop_size} is larger than --load_size {opt.load_size}: "
                      f"set --load_size >= crop_size (the paper: 286 and 256)")
    try:
        depth = unet_depth(opt.netG)
        if cropping and opt.crop_size % (2 ** depth):
            errors.append(f"--netG {opt.netG} halves the image {depth} times, so --crop_size "
                          f"must be a multiple of {2 ** depth}; got {opt.crop_size}. Use "
                          f"--netG unet_{opt.crop_size} or --crop_size {2 ** depth}")
    except ValueError as e:
        errors.append(str(e))
    if opt.device not in ("cpu", "cuda"):
        errors.append(f"--device {opt.device!r} is unknown: use cpu or cuda")
    if getattr(opt, "gan_mode", None) == "none" and opt.lambda_L1 <= 0:  # training only
        errors.append("--gan_mode none with --lambda_L1 0 leaves nothing to train")
    if opt.netD == "n_layers" and not 1 <= opt.n_layers_D <= 5:
        errors.append(f"--n_layers_D must be 1..5, got {opt.n_layers_D}")
    errors += range_errors(opt)
    if errors:
        raise SystemExit("error: " + "\nerror: ".join(errors))
    return opt


# option -> (lowest allowed, highest allowed, whether the highest is excluded); None = no bound
RANGES = {
    "lr": (0, None), "beta1": (0, 1, "excluded"), "lambda_L1": (0, None),
    "ngf": (1, None), "ndf": (1, None), "input_nc": (1, None), "output_nc": (1, None),
    "seed": (0, 2**32 - 1), "load_size": (1, None), "crop_size": (1, None),
    "batch_size": (1, None), "n_epochs": (0, None), "n_epochs_decay": (0, None),
    "save_epoch_freq": (1, None), "max_iters": (1, None), "max_dataset_size": (1, None),
    "num_samples": (1, None), "num_test": (1, None),
}


def range_errors(opt):
    """One message per option outside its allowed range (RANGES), with the range."""
    errors = []
    for name, (low, high, *excluded) in RANGES.items():
        value = getattr(opt, name, None)
        if value is None:
            continue
        too_high = high is not None and (value >= high if excluded else value > high)
        # lr 0 trains nothing and divides by zero in Adam's step size: it must be > 0.
        too_low = value <= low if name == "lr" else value < low
        if too_low or too_high:
            allowed = (f"> {low}" if name == "lr" else f">= {low}") + (
                "" if high is None else f" and {'<' if excluded else '<='} {high}")
            errors.append(f"--{name} must be {allowed}, got {value}")
    if hasattr(opt, "n_epochs") and opt.n_epochs + opt.n_epochs_decay < 1:  # training
        errors.append("--n_epochs + --n_epochs_decay must be at least 1: nothing to train")
    return errors


def model_kwargs(opt):
    """The Pix2Pix constructor's arguments from parsed training options."""
    return dict(netG=opt.netG, netD=opt.netD, n_layers_D=opt.n_layers_D, ngf=opt.ngf,
                ndf=opt.ndf, norm=opt.norm, no_dropout=opt.no_dropout,
                dropout_placement=opt.dropout_placement, no_skips=opt.no_skips,
                gan_mode=opt.gan_mode, lambda_L1=opt.lambda_L1,
                conditional_D=not opt.unconditional_D, lr=opt.lr, beta1=opt.beta1,
                input_nc=opt.input_nc, output_nc=opt.output_nc, seed=opt.seed,
                device=opt.device, init_type=opt.init_type, init_gain=opt.init_gain)


def out_of_memory_message(error, opt):
    """One line for a MemoryError (CuPy's OutOfMemoryError is one): what ran out, and the
    options of ``opt`` that shrink the run, with their values."""
    where = "GPU" if opt.device == "cuda" else "machine"
    shrink = [f"--{name} (now {getattr(opt, name)})"
              for name in ("batch_size", "crop_size", "ngf", "ndf") if hasattr(opt, name)]
    cause = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"out of memory on the {where} ({cause}). Lower {', '.join(shrink)}"
