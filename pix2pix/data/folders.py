"""Scanning data folders: A|B files side by side in <root>/<split>/, or the halves as
same-named files in <root>/A/<split>/ and <root>/B/<split>/ (what combine.py joins).

Every file is checked before training: missing partners, halves of different sizes,
unreadable files and sizes the generator cannot take are listed with their paths.
"""
import sys
from pathlib import Path

from pix2pix.data import preprocess as prep
from pix2pix.data.images import (
    DataError,
    list_images,
    load_image,
    natural_key,
    scan_dataset,
)

_SHOWN = 10  # problems listed in full; the rest are counted


def problems_error(where, problems, fix):
    """One DataError listing (path, reason) problems, the first _SHOWN of them in full."""
    listing = "\n".join(f"  {path}: {reason}" for path, reason in problems[:_SHOWN])
    if len(problems) > _SHOWN:
        listing += f"\n  ... and {len(problems) - _SHOWN} more"
    return DataError(f"{len(problems)} problem(s) in {where}:\n{listing}\n{fix}",
                     path=str(where), reason="bad files")


def image_files(folder):
    """{path relative to folder, as a string: Path} of the images in folder and its
    subfolders (list_images), so that A/train/x/1.png pairs with B/train/x/1.png."""
    return {p.relative_to(folder).as_posix(): p for p in list_images(folder)}


def match_partners(a_dir, b_dir, partner_name=lambda name: name, is_a=lambda name: True,
                   is_b=lambda name: True, load=load_image):
    """Same-named images of a_dir and b_dir, each pair read fully and compared in size.

    Returns (pairs [(a_path, b_path)], sizes {a_path: (w, h)}, problems [(path, reason)]).
    partner_name maps a name in a_dir to its partner's name in b_dir; is_a and is_b pick
    the files of each side (the port's --use_AB keeps both sides in one folder); load reads
    one image (combine's turns it upright first).
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
            size_a, size_b = load(a_path).size, load(b_path).size
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


