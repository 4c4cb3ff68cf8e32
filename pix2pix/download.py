"""Get a pix2pix dataset (the official archive, or a link to a local copy) or a pretrained G.

    python -m pix2pix.download facades                  # -> datasets/facades/{train,val,test}
    python -m pix2pix.download facades --link           # datasets/facades -> ../shared/facades
    python -m pix2pix.download facades --link-from DIR  # datasets/facades -> DIR
    python -m pix2pix.download --pretrained facades_label2photo
        # the port's G -> checkpoints/facades_label2photo_pretrained/latest_net_G.pth, where
        # `--name facades_label2photo_pretrained` finds it (test command, demo)
"""
import argparse
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from pix2pix.data.images import DataError
from pix2pix.data.published import DATASETS, PRETRAINED
from pix2pix.files.official import infer_unet
from pix2pix.files.pth import load_pth

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
PRETRAINED_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch"  # the port's
REPO_ROOT = Path(__file__).resolve().parents[1]


def fetch(url, dest, timeout=30):
    """Download url to dest via a temporary file, so an interrupted download leaves no dest."""
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                      disable=None) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


def check_member(member):
    """Refuse archive members that could write outside the target folder."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or member.name.startswith(("/", "\\")):
        raise DataError(f"refusing to extract unsafe path {member.name!r} from the archive")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"refusing to extract {member.name!r}: links and special files "
                        "are not expected in a dataset archive")


def safe_extract(archive, dest):
    """Extract a tar(.gz) into dest after checking every member first (nothing is written
    if any member is unsafe)."""
    dest = Path(dest)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            check_member(member)
        dest.mkdir(parents=True, exist_ok=True)
        for member in members:
            tar.extract(member, dest)


def download(name, dataroot="datasets", url=None):
    """Download and unpack dataset `name` into dataroot/name; returns that folder."""
    url = url or f"{BASE_URL}/{name}.tar.gz"
    dataroot = Path(dataroot)
    target = dataroot / name
    if target.exists():
        print(f"{target} already exists; nothing to do")
        return target
    dataroot.mkdir(parents=True, exist_ok=True)
    archive = dataroot / f"{name}.tar.gz"
    print(f"downloading {url}")
    fetch(url, archive)
    # Unpack into a scratch folder first, so a failed extraction leaves no half dataset.
    with tempfile.TemporaryDirectory(dir=dataroot) as scratch:
        safe_extract(archive, scratch)
        unpacked = Path(scratch) / name
        source = unpacked if unpacked.is_dir() else Path(scratch)  # archive without top folder
        target.mkdir()
        for child in source.iterdir():
            os.replace(child, target / child.name)
    archive.unlink()
    print(f"done: {target}")
    return target


def link(name, dataroot="datasets", source=None):
    """Make dataroot/name a symlink to an existing local copy (default: ../shared/name)."""
    source = Path(source) if source else REPO_ROOT.parent / "shared" / name
    target = Path(dataroot) / name
    if not source.is_dir():
        raise DataError(f"cannot link {target}: {source} is not a folder; "
                        "pass --link-from PATH with the dataset's location")
    if target.is_symlink() and target.resolve() == source.resolve():
        print(f"{target} already links to {source.resolve()}")
        return target
    if target.exists() or target.is_symlink():
        raise DataError(f"cannot link: {target} already exists; remove it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve(), target_is_directory=True)
    print(f"linked {target} -> {source.resolve()}")
    return target


def pretrained_url(model):
    """The port's address of a pretrained G (scripts/download_pix2pix_model.sh)."""
    return f"{PRETRAINED_URL}/{model}.pth"


def pretrained_path(model, checkpoints_dir="checkpoints"):
    """Where the port keeps a pretrained G, and where `--name <model>_pretrained` looks."""
    return Path(checkpoints_dir) / f"{model}_pretrained" / "latest_net_G.pth"


def download_pretrained(model, checkpoints_dir="checkpoints", url=None):
    """Fetch the port's G for ``model``; it replaces nothing until it reads as a U-Net G."""
    dest = pretrained_path(model, checkpoints_dir)
    if dest.exists():
        print(f"{dest} already exists; nothing to do")
        return dest
    url = url or pretrained_url(model)
    dest.parent.mkdir(parents=True, exist_ok=True)
    unchecked = dest.with_name(dest.name + ".unchecked")
    print(f"downloading {url}")
    fetch(url, unchecked)
    try:
        infer_unet(load_pth(unchecked))
    except ValueError as err:  # CheckpointError, PickleShapeError: not a U-Net state dict
        unchecked.unlink()
        raise DataError(f"{url} did not give the port's U-Net generator: {err}") from err
    os.replace(unchecked, dest)
    where = "" if str(checkpoints_dir) == "checkpoints" else f" --checkpoints_dir {checkpoints_dir}"
    print(f"done: {dest}\nrun it: python -m pix2pix.demo --name {model}_pretrained{where}")
    return dest


def manual_instructions(name, dataroot):
    folder = Path(dataroot) / name
    return (f"To install it by hand, put the images in {folder}/train/ (and val/, test/):\n"
            "  one JPEG per pair, A|B side by side (width = 2 x height, e.g. 512x256),\n"
            "  photo on the left, label map on the right.\n"
            f"Or link a local copy: python -m pix2pix.download {name} --link-from PATH")


def manual_pretrained_instructions(model, checkpoints_dir, url):
    return (f"To install it by hand, fetch {url} on a machine with internet and save it as\n"
            f"  {pretrained_path(model, checkpoints_dir)}\n"
            f"then: python -m pix2pix.demo --name {model}_pretrained "
            f"--checkpoints_dir {checkpoints_dir}")


def download_parser():
    parser = argparse.ArgumentParser(description="Download or link a pix2pix dataset, or "
                                                 "download a pretrained generator.")
    parser.add_argument("name", nargs="?", choices=DATASETS, help="dataset name")
    parser.add_argument("--dataroot", default="datasets", help="folder that will hold <name>/")
    parser.add_argument("--url", default=None, help="archive or .pth URL (default: the "
                                                    "official one)")
    parser.add_argument("--link", action="store_true",
                        help="symlink <dataroot>/<name> to ../shared/<name> instead of downloading")
    parser.add_argument("--link-from", default=None, help="folder to link to (implies --link)")
    parser.add_argument("--pretrained", default=None, choices=sorted(PRETRAINED),
                        help="the port's pretrained G instead of a dataset")
    parser.add_argument("--checkpoints_dir", default="checkpoints",
                        help="--pretrained: the folder that will hold <model>_pretrained/")
    return parser


def get_dataset(args):
    """Link a local copy (../shared/<name>, or --link-from) or download the archive."""
    shared = REPO_ROOT.parent / "shared" / args.name
    local_copy = (args.url is None and shared.is_dir()
                  and not (Path(args.dataroot) / args.name).exists())
    if args.link or args.link_from or local_copy:
        link(args.name, args.dataroot, args.link_from)
    else:
        download(args.name, args.dataroot, args.url)


def main(argv=None):
    parser = download_parser()
    args = parser.parse_args(argv)
    if (args.name is None) == (args.pretrained is None):
        parser.error("give one of: a dataset name (e.g. facades), or --pretrained MODEL")
    try:
        if args.pretrained:
            download_pretrained(args.pretrained, args.checkpoints_dir, args.url)
        else:
            get_dataset(args)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (OSError, tarfile.TarError) as err:  # URLError, timeouts, disk full, bad archive
        reason = getattr(err, "reason", None) or err
        if args.pretrained:
            url = args.url or pretrained_url(args.pretrained)
            how = manual_pretrained_instructions(args.pretrained, args.checkpoints_dir, url)
        else:
            url = args.url or f"{BASE_URL}/{args.name}.tar.gz"
            how = manual_instructions(args.name, args.dataroot)
        print(f"error: downloading {args.pretrained or args.name} from {url} failed.\n"
              f"  reason: {reason}\n{how}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
