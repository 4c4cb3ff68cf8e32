"""Join two folders of halves into A|B pairs side by side (the port's combine_A_and_B.py).

    python -m pix2pix.combine --fold_A A --fold_B B --fold_AB AB

A/<split>/x.jpg and B/<split>/x.jpg (the same file name in each split) become
AB/<split>/x.jpg, A on the left. Unlike the port, every split is checked first: halves of
different sizes and unreadable files are listed with their paths and nothing is written.
As in the port, a half without a partner is skipped with a warning, files that are not
images are ignored, and EXIF orientation is applied; subfolders are read too. --split_AB
does the reverse (AB/<split>/x.jpg -> A/..., B/...).
"""
import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from nn.serialization import atomic_write
from pix2pix.data.folders import match_partners, problems_error
from pix2pix.data.images import DataError, load_image, scan_dataset, set_max_pixels
from pix2pix.files.checkpoint import disk_error_message
from pix2pix.options.console import command


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fold_A", required=True, help="input folder of A halves (<split>/ inside)")
    p.add_argument("--fold_B", required=True, help="input folder of B halves (<split>/ inside)")
    p.add_argument("--fold_AB", required=True, help="output folder for the A|B pairs")
    p.add_argument("--num_imgs", type=int, default=1000000, help="at most this many per split")
    p.add_argument("--use_AB", action="store_true",
                   help="A files are named *_A.<ext>, their partners *_B.<ext>, pairs *.<ext>")
    p.add_argument("--no_multiprocessing", action="store_true",
                   help="write in one thread (default: a few threads)")
    p.add_argument("--max_image_pixels", type=int, default=None, help="refuse image files "
                   "of more pixels (default: 16 x a 286x286 half's area, for each half)")
    p.add_argument("--split_AB", action="store_true",
                   help="the reverse: cut the pairs in --fold_AB into --fold_A and --fold_B")
    return p


def _partner(use_AB):
    return (lambda name: name.replace("_A.", "_B.")) if use_AB else (lambda name: name)


def _ab_name(relative, use_AB):
    """The pair's path below <fold_AB>/<split>/: the A half's (x_A.png -> x.png with
    --use_AB)."""
    return relative.with_name(relative.name.replace("_A.", ".")) if use_AB else relative


def plan_combine(opt):
    """[(a_path, b_path, ab_path)] of every split, or DataError listing every problem."""
    fold_A, fold_B = Path(opt.fold_A), Path(opt.fold_B)
    for folder in (fold_A, fold_B):
        if not folder.is_dir():
            raise DataError(f"{folder} is not a folder: --fold_A and --fold_B must hold one "
                            f"subfolder per split (train/, val/, test/)")
    splits = sorted(p.name for p in fold_A.iterdir() if p.is_dir())
    if not splits:
        raise DataError(f"{fold_A} has no split subfolders (train/, val/, ...): put the A "
                        f"halves in {fold_A}/train/ and the B halves in {fold_B}/train/")
    jobs, problems = [], []
    for split in splits:
        if not (fold_B / split).is_dir():
            problems.append((fold_B / split, f"missing: {fold_A / split} has no partner folder"))
            continue
        sides = (dict(is_a=lambda name: "_A." in name, is_b=lambda name: "_B." in name)
                 if opt.use_AB else {})
        pairs, _, found = match_partners(fold_A / split, fold_B / split, _partner(opt.use_AB),
                                         **sides, load=load_upright)
        # As the port's script: a half without a partner is skipped, not an error.
        lonely = [(path, why) for path, why in found if why.startswith("no partner")]
        problems += [problem for problem in found if problem not in lonely]
        if lonely:
            print(f"warning: {problems_error(fold_A / split, lonely, 'skipped.')}",
                  file=sys.stderr)
        jobs += [(a, b, Path(opt.fold_AB) / split / _ab_name(a.relative_to(fold_A / split),
                                                             opt.use_AB))
                 for a, b in pairs[:opt.num_imgs]]
    if problems:
        raise problems_error(f"{fold_A} + {fold_B}", problems,
                             "Nothing was written. Fix or remove these files and run again.")
    return jobs


def save_as(img, path):
    """Write img atomically: a full disk leaves no empty or half-written file."""
    options = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    kind = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    atomic_write(path, lambda f: img.save(f, format=kind, **options))


def load_upright(path):
    """The image as a camera meant it: the port's script reads with OpenCV, which applies
    the EXIF orientation."""
    return ImageOps.exif_transpose(load_image(path))


def combine_one(job):
    """A and B (same size) side by side: (h, 2w) with A on the left."""
    a_path, b_path, ab_path = job
    ab = np.concatenate([np.asarray(load_upright(a_path)), np.asarray(load_upright(b_path))],
                        axis=1)
    save_as(Image.fromarray(ab), ab_path)


def split_one(job):
    ab_path, a_path, b_path = job
    img = load_image(ab_path, pair=True)
    w, h = img.size
    save_as(img.crop((0, 0, w // 2, h)), a_path)
    save_as(img.crop((w // 2, 0, w, h)), b_path)


def plan_split(opt):
    """[(ab_path, a_path, b_path)] for --split_AB, after checking every file."""
    root = Path(opt.fold_AB)
    if not root.is_dir():
        raise DataError(f"{root} is not a folder of <split>/ subfolders of A|B images")
    jobs = []
    for split in sorted(p.name for p in root.iterdir() if p.is_dir()):
        for path in scan_dataset(root, split)[:opt.num_imgs]:
            jobs.append((path, Path(opt.fold_A) / split / path.name,
                         Path(opt.fold_B) / split / path.name))
    return jobs


@command
def main(argv=None):
    opt = parser().parse_args(argv)
    for name in ("num_imgs", "max_image_pixels"):
        if (getattr(opt, name) or 1) < 1:
            print(f"error: --{name} must be at least 1, got {getattr(opt, name)}",
                  file=sys.stderr)
            return 2
    if opt.max_image_pixels:
        set_max_pixels(opt.max_image_pixels)
    try:
        jobs = plan_split(opt) if opt.split_AB else plan_combine(opt)
        work = split_one if opt.split_AB else combine_one
        if opt.no_multiprocessing:
            for job in jobs:
                work(job)
        else:
            with ThreadPoolExecutor(max_workers=4) as pool:  # PIL codecs release the GIL
                list(pool.map(work, jobs))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, an unwritable --fold_AB
        print(f"error: {disk_error_message(err, opt.fold_AB)}", file=sys.stderr)
        return 2
    verb = "split" if opt.split_AB else "combined"
    print(f"{verb} {len(jobs)} image(s) into "
          f"{f'{opt.fold_A} and {opt.fold_B}' if opt.split_AB else opt.fold_AB}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
