"""Get a pix2pix dataset: download the official archive, or link a local copy.

    python -m pix2pix.download facades                  # -> datasets/facades/{train,val,test}
    python -m pix2pix.download facades --link           # datasets/facades -> ../shared/facades
    python -m pix2pix.download facades --link-from DIR  # datasets/facades -> DIR
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
from pix2pix.data.published import DATASETS

BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets"
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


def manual_instructions(name, dataroot):
    folder = Path(dataroot) / name
    return (f"To install it by hand, put the images in {folder}/train/ (and val/, test/):\n"
            "  one JPEG per pair, A|B side by side (width = 2 x height, e.g. 512x256),\n"
            "  photo on the left, label map on the right.\n"
            f"Or link a local copy: python -m pix2pix.download {name} --link-from PATH")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Download or link a pix2pix dataset.")
    parser.add_argument("name", choices=DATASETS, help="dataset name")
    parser.add_argument("--dataroot", default="datasets", help="folder that will hold <name>/")
    parser.add_argument("--url", default=None, help="archive URL (default: the official one)")
    parser.add_argument("--link", action="store_true",
                        help="symlink <dataroot>/<name> to ../shared/<name> instead of downloading")
    parser.add_argument("--link-from", default=None, help="folder to link to (implies --link)")
    args = parser.parse_args(argv)

    # A local copy beside the checkout (../shared/<name>) is linked rather than downloaded.
    shared = REPO_ROOT.parent / "shared" / args.name
    local_copy = args.url is None and shared.is_dir() and not (Path(args.dataroot) / args.name).exists()
    try:
        if args.link or args.link_from or local_copy:
            link(args.name, args.dataroot, args.link_from)
        else:
            download(args.name, args.dataroot, args.url)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (OSError, tarfile.TarError) as err:  # URLError, timeouts, disk full, bad archive
        url = args.url or f"{BASE_URL}/{args.name}.tar.gz"
        reason = getattr(err, "reason", None) or err
        print(f"error: downloading {args.name} from {url} failed.\n"
              f"  reason: {reason}\n{manual_instructions(args.name, args.dataroot)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
