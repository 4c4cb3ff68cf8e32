"""The port's --dataset_mode choices beyond one folder of A|B files.

    aligned       <root>/<split>/ of A|B files side by side, or the halves as same-named
                  files in <root>/A/<split>/ and <root>/B/<split>/ (what combine.py joins)
    colorization  <root>/<split>/ of plain photos: L in, ab out (color.py)
    single        every image of one folder, inputs only (testing without B)

Every file is checked before training: missing partners, halves of different sizes,
unreadable files and sizes the generator cannot take are listed with their paths.
"""
import sys
from pathlib import Path

import numpy as np

from . import preprocess as prep
from .color import rgb_to_network
from .data import (IMG_EXTENSIONS, DataError, check_images, load_image, natural_key,
                   scan_dataset, to_array)

MODES = ("aligned", "colorization", "single")
_SHOWN = 10  # problems listed in full; the rest are counted


def problems_error(where, problems, fix):
    """One DataError listing (path, reason) problems, the first _SHOWN of them in full."""
    listing = "\n".join(f"  {path}: {reason}" for path, reason in problems[:_SHOWN])
    if len(problems) > _SHOWN:
        listing += f"\n  ... and {len(problems) - _SHOWN} more"
    return DataError(f"{len(problems)} problem(s) in {where}:\n{listing}\n{fix}",
                     path=str(where), reason="bad files")


def image_files(folder):
    return {p.name: p for p in Path(folder).iterdir() if p.suffix.lower() in IMG_EXTENSIONS}


def match_partners(a_dir, b_dir, partner_name=lambda name: name, is_a=lambda name: True,
                   is_b=lambda name: True):
    """Same-named images of a_dir and b_dir, each pair read fully and compared in size.

    Returns (pairs [(a_path, b_path)], sizes {a_path: (w, h)}, problems [(path, reason)]).
    partner_name maps a name in a_dir to its partner's name in b_dir; is_a and is_b pick
    the files of each side (the port's --use_AB keeps both sides in one folder).
    """
    a_files = {name: p for name, p in image_files(a_dir).items() if is_a(name)}
    b_files = {name: p for name, p in image_files(b_dir).items() if is_b(name)}
    wanted = {partner_name(name): name for name in a_files}
    pairs, sizes, problems = [], {}, []
    for name in sorted(a_files, key=natural_key):
        a_path, b_path = a_files[name], Path(b_dir) / partner_name(name)
        if partner_name(name) not in b_files:
            problems.append((a_path, f"no partner {b_path}"))
            continue
        try:
            size_a, size_b = load_image(a_path).size, load_image(b_path).size
        except DataError as err:
            problems.append((err.path, err.reason))
            continue
        if size_a != size_b:
            problems.append((a_path, f"is {size_a[0]}x{size_a[1]} but its partner {b_path} is "
                                     f"{size_b[0]}x{size_b[1]}: the halves must match"))
            continue
        pairs.append((a_path, b_path))
        sizes[a_path] = size_a
    problems += [(p, f"no partner {Path(a_dir) / name}") for name, p in
                 sorted(b_files.items()) if name not in wanted]
    return pairs, sizes, problems


def scan_ab_folders(a_dir, b_dir, skip_bad_files=False):
    """(pairs, {a_path: (half size, half size)}) of two folders of halves."""
    pairs, sizes, problems = match_partners(a_dir, b_dir)
    if problems and not skip_bad_files:
        raise problems_error(f"{a_dir} + {b_dir}", problems, "Fix or remove them, or pass "
                             "--skip_bad_files to train without them.")
    if problems:
        print(str(problems_error(f"{a_dir} + {b_dir}", problems, "skipped.")), file=sys.stderr)
    if not pairs:
        raise DataError(f"no complete A/B pairs in {a_dir} and {b_dir}", path=str(a_dir))
    return pairs, {a: (sizes[a], sizes[a]) for a, _ in pairs}


def scan_pairs(root, split, skip_bad_files=False):
    """(entries, half_sizes) of the aligned data set: an entry is an A|B file's Path, or an
    (A path, B path) pair when the halves live in <root>/A/<split> and <root>/B/<split>."""
    root = Path(root)
    a_dir, b_dir = root / "A" / split, root / "B" / split
    if not (root / split).is_dir() and a_dir.is_dir() and b_dir.is_dir():
        return scan_ab_folders(a_dir, b_dir, skip_bad_files)
    sizes = {}
    paths = scan_dataset(root, split, skip_bad_files, sizes)
    halves = {}
    for path in paths:
        w, h = sizes[path]
        halves[path] = ((w // 2, h), (w - w // 2, h))  # split at w/2, as the port does
    return paths, halves


def load_halves(entry):
    """(A, B) PIL images of one entry of scan_pairs."""
    if isinstance(entry, tuple):
        return load_image(entry[0]), load_image(entry[1])
    img = load_image(entry, pair=True)
    w, h = img.size
    return img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))


def check_preprocess(mode, load_size, crop_size, train=True):
    """ValueError for an unknown mode or a crop larger than the resize it crops."""
    if mode not in prep.MODES:
        raise ValueError(f"unknown --preprocess {mode!r}: use one of {', '.join(prep.MODES)}")
    if train and mode in ("resize_and_crop", "scale_width_and_crop") and crop_size > load_size:
        raise ValueError(f"crop_size ({crop_size}) must be <= load_size ({load_size}) with "
                         f"--preprocess {mode}")


def check_sizes(sizes, mode, load_size, crop_size, multiple):
    """Refuse, before any training, images that ``mode`` cannot make into sizes the
    generator takes. sizes: {path: [(w, h), ...]} (one size per half). Returns the set of
    output sizes, so that a caller can refuse a batch of mixed sizes."""
    problems, outputs = [], set()
    for path, halves in sizes.items():
        whys = [prep.size_problem(size, mode, load_size, crop_size, multiple) for size in halves]
        made = {prep.output_size(size, mode, load_size, crop_size) for size in halves}
        if any(whys):
            problems.append((path, next(why for why in whys if why)))
        elif len(made) > 1:  # an odd width split at w/2 with --preprocess none
            problems.append((path, f"the halves become {' and '.join(map(str, sorted(made)))}"
                                   f" (w, h): use an even width or a --preprocess that crops"))
        outputs |= made
    if problems:
        raise problems_error("the data set", problems, "Fix the sizes or the --preprocess, "
                             "--load_size and --crop_size options.")
    return outputs


class ColorizationDataset:
    """<root>/<split>/ of plain photos -> dict(A=(1, H, W) L, B=(2, H, W) ab, path=str),
    both about [-1, 1] (color.rgb_to_network); jitter as for pairs."""

    def __init__(self, root, split="train", load_size=286, crop_size=256, no_flip=False,
                 train=True, skip_bad_files=False, preprocess="resize_and_crop",
                 size_multiple=1, test_load_size=None):
        check_preprocess(preprocess, load_size, crop_size, train)
        self.mode, self.crop_size, self.no_flip, self.train = preprocess, crop_size, no_flip, train
        self.load_size = load_size if train else (test_load_size or crop_size)
        sizes = {}
        self.paths = scan_dataset(root, split, skip_bad_files, sizes)
        self.output_sizes = check_sizes({p: [s] for p, s in sizes.items()}, preprocess,
                                        self.load_size, crop_size, size_multiple)

    def __len__(self):
        return len(self.paths)

    def get(self, index, rng=None):
        img = load_image(self.paths[index])
        if self.train:
            rng = np.random.default_rng() if rng is None else rng
            params = prep.draw_params(rng, img.size, self.mode, self.load_size,
                                      self.crop_size, self.no_flip)
        else:
            params = prep.centre_params(img.size, self.mode, self.load_size, self.crop_size)
        rgb = np.asarray(prep.apply(img, self.mode, self.load_size, self.crop_size, params))
        L, ab = rgb_to_network(rgb)
        return {"A": L, "B": ab, "path": str(self.paths[index])}


class SingleDataset:
    """Every image of ``folder``, inputs only: dict(A=(input_nc, H, W), B=None, path=str),
    preprocessed as at test time (resize to load_size, centre crop, no flip)."""

    def __init__(self, folder, input_nc=3, preprocess="resize_and_crop", load_size=256,
                 crop_size=256, skip_bad_files=False, size_multiple=1):
        check_preprocess(preprocess, load_size, crop_size, train=False)
        self.mode, self.load_size, self.crop_size = preprocess, load_size, crop_size
        self.grey = input_nc == 1
        # Other files (notes, masks of another format) are left alone: it is a user's folder.
        self.paths = sorted(image_files(folder).values(), key=natural_key)
        if not self.paths:
            raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) in {folder}",
                            path=str(folder))
        sizes = {}
        self.paths = check_images(self.paths, folder, skip_bad_files, load_image, sizes=sizes)
        self.output_sizes = check_sizes({p: [s] for p, s in sizes.items()}, preprocess,
                                        load_size, crop_size, size_multiple)

    def __len__(self):
        return len(self.paths)

    def get(self, index, rng=None):
        img = load_image(self.paths[index])
        params = prep.centre_params(img.size, self.mode, self.load_size, self.crop_size)
        img = prep.apply(img, self.mode, self.load_size, self.crop_size, params, self.grey)
        return {"A": to_array(img), "B": None, "path": str(self.paths[index])}


def build_dataset(opt, split, train, test_load_size=None):
    """The data set that opt.dataset_mode names, for training (jitter) or testing."""
    from .data import AlignedDataset
    from .models.networks import unet_depth
    from .synthetic import SyntheticFacades
    pair = dict(preprocess=opt.preprocess, input_nc=opt.input_nc, output_nc=opt.output_nc)
    if opt.dataroot == "synthetic":
        return SyntheticFacades(n=8 if train else 4, size=opt.crop_size,
                                seed=opt.seed if train else opt.seed + 1,
                                direction=opt.direction, train=train, load_size=opt.load_size,
                                crop_size=opt.crop_size, no_flip=opt.no_flip, **pair,
                                test_load_size=test_load_size)
    common = dict(load_size=opt.load_size, crop_size=opt.crop_size, no_flip=opt.no_flip,
                  train=train, skip_bad_files=opt.skip_bad_files, preprocess=opt.preprocess,
                  size_multiple=2 ** unet_depth(opt.netG), test_load_size=test_load_size)
    if opt.dataset_mode == "colorization":
        return ColorizationDataset(opt.dataroot, split, **common)
    return AlignedDataset(opt.dataroot, split, opt.direction, input_nc=opt.input_nc,
                          output_nc=opt.output_nc, **common)


def check_batchable(dataset, batch_size):
    """Refuse a batch of images of different sizes (--preprocess without a crop)."""
    sizes = getattr(dataset, "output_sizes", set())
    if batch_size > 1 and len(sizes) > 1:
        raise DataError(f"--batch_size {batch_size} stacks images, but this --preprocess gives "
                        f"{len(sizes)} different sizes (e.g. {sorted(sizes)[:3]}): use "
                        f"--batch_size 1 or a --preprocess that crops")
