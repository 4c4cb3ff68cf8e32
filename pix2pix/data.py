"""Aligned A|B image pairs (CMP Facades layout) and the paper's random jitter.

Each file holds one pair side by side, split at w/2 as in the official port: left half = A
(photo for facades), right half = B (label map); any width works. Training jitter (paper
Sec. 3 / 6.2, PyTorch port, --preprocess resize_and_crop): resize each half to load_size x
load_size (bicubic), take the same random crop_size crop and the same random horizontal
flip of both halves. Test time: resize to crop_size, no crop, no flip. The port's other
--preprocess modes are in preprocess.py. Pixels are scaled to [-1, 1] to match the
generator's Tanh output; a half for a 1-channel side (--input_nc / --output_nc 1) is grey.
"""
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from . import preprocess as prep

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

# Image.Resampling exists from Pillow 9.1; the bare constant works on every version.
BICUBIC = getattr(Image, "Resampling", Image).BICUBIC

# PIL modes holding 16-bit grey levels (16-bit PNGs open as one of these).
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class DataError(ValueError):
    """A dataset problem the user can fix; the message says what and how."""

    def __init__(self, message, path=None, reason=None):
        super().__init__(message)
        self.path = path
        self.reason = reason


def natural_key(path):
    """Sort key that puts 2.jpg before 10.jpg."""
    name = Path(path).name
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


# ----------------------------------------------------------------------------- loading

def _bad(path, reason):
    return DataError(f"{path}: {reason}", path=str(path), reason=reason)


def _to_rgb(img):
    """Convert any PIL mode we can make sense of to 8-bit RGB."""
    if img.mode == "RGB":
        return img.copy()  # the copy outlives the file that `with Image.open` closes
    if img.mode in _SIXTEEN_BIT_MODES:
        # convert("RGB") would clip 16-bit values at 255; rescale 0..65535 -> 0..255 instead.
        grey = np.asarray(img).astype(np.float64) / 257.0
        grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")
    if img.mode in ("P", "PA") or "transparency" in img.info:
        # Going through RGBA avoids PIL's warning about palette transparency.
        img = img.convert("RGBA")
    return img.convert("RGB")  # drops alpha (RGBA, LA); expands L, 1, CMYK, ...


def load_ab_image(path):
    """Open one A|B file and return it as a fully decoded PIL RGB image (w, h), w >= 2.

    Raises DataError (naming the path, the reason and the fix) for empty, truncated,
    unreadable or non-image files, directories, and images too narrow to split.
    """
    return load_image(path, pair=True)


def load_image(path, pair=False):
    """Open one image file as a fully decoded PIL RGB image (pair=True: an A|B pair)."""
    path = Path(path)
    if path.is_dir():
        raise _bad(path, "is a directory, not an image; move it out of the dataset folder")
    if not path.is_file():
        raise _bad(path, "file not found")
    if path.suffix.lower() not in IMG_EXTENSIONS:
        raise _bad(path, f"not an image file (expected {' '.join(IMG_EXTENSIONS)}); "
                         "move it out of the dataset folder")
    if path.stat().st_size == 0:
        raise _bad(path, "empty file (0 bytes); re-download or delete it")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if pair and w < 2:
                raise _bad(path, f"expected an A|B pair side by side, got {w}x{h}: too narrow "
                                 "to split; each file must hold A (left) and B (right)")
            img.load()  # full decode: truncated JPEGs only fail here
            return _to_rgb(img)
    except DataError:
        raise
    except Image.DecompressionBombError as err:
        # Pillow refuses images over 2 x MAX_IMAGE_PIXELS (about 179 million pixels) before
        # decoding them: a tiny file can claim gigabytes of pixels. No photo is that large.
        raise _bad(path, f"too many pixels to decode safely ({err}); resize it")
    except UnidentifiedImageError:
        raise _bad(path, "not a readable image (unknown or corrupt format); replace or delete it")
    except (OSError, SyntaxError, ValueError) as err:
        raise _bad(path, f"corrupt or truncated image ({err}); re-download or delete it")


# ----------------------------------------------------------------------------- scanning

def _missing_folder_error(folder):
    return DataError(
        f"dataset folder not found: {folder}\n"
        "Get the facades data with `python -m pix2pix.download facades` "
        "(or `python -m pix2pix.download facades --link` to link a local copy),\n"
        f"or put A|B images (photo left, label map right, side by side) into {folder}/,\n"
        f"or the two halves as same-named files in {Path(folder).parent}/A/{Path(folder).name}/ "
        f"and {Path(folder).parent}/B/{Path(folder).name}/",
        path=str(folder), reason="missing folder")


def scan_dataset(root, split, skip_bad_files=False, sizes=None):
    """Check every file in root/split before training starts; return the good paths.

    Returns a naturally sorted list of Path. Bad files (anything that is not a readable A|B
    image) raise one DataError listing them all, or with skip_bad_files are left out with
    a warning on stderr. sizes: a dict that receives {path: (w, h)} of the good files.
    """
    folder = Path(root) / split
    if not folder.is_dir():
        raise _missing_folder_error(folder)
    entries = sorted(folder.iterdir(), key=natural_key)
    if not entries:
        raise DataError(f"dataset folder is empty: {folder}\n"
                        f"Put A|B images (photo left, label map right) into {folder}/",
                        path=str(folder), reason="empty folder")

    return check_images(entries, folder, skip_bad_files, load_ab_image, "A|B images", sizes)


def check_images(paths, folder, skip_bad_files=False, load=load_ab_image, what="images",
                 sizes=None):
    """The paths that ``load`` reads; bad files raise one DataError listing them all, or
    with skip_bad_files are left out with a warning on stderr. sizes: a dict that receives
    {path: (w, h)} of the good files."""
    good, bad = [], []
    # delay=1: a bar only appears when the scan is slow enough to need one.
    for path in tqdm(paths, desc=f"checking {folder}", unit="file", delay=1.0,
                     disable=None, leave=False):
        try:
            size = load(path).size
            good.append(path)
            if sizes is not None:
                sizes[path] = size
        except DataError as err:
            bad.append(err)

    if bad:
        listing = "\n".join(f"  {err.path}: {err.reason}" for err in bad)
        if not skip_bad_files:
            raise DataError(f"{len(bad)} bad file(s) in {folder}:\n{listing}\n"
                            "Fix or remove them, or pass --skip_bad_files to go on without them.",
                            path=str(folder), reason="bad files")
        print(f"warning: skipping {len(bad)} bad file(s) in {folder}:\n{listing}",
              file=sys.stderr)
    if not good:
        raise DataError(f"no readable {what} in {folder}", path=str(folder),
                        reason="no good files")
    return good


# ----------------------------------------------------------------------------- jitter

def jitter_params(rng, load_size, crop_size, no_flip=False):
    """Draw one random jitter: crop corner (x, y) in [0, load_size - crop_size] and a flip flag."""
    x = int(rng.integers(0, load_size - crop_size + 1))
    y = int(rng.integers(0, load_size - crop_size + 1))
    flip = (not no_flip) and bool(rng.random() < 0.5)
    return x, y, flip


def to_array(img):
    """PIL RGB image -> (3, H, W) float32 in [-1, 1]; a grey ("L") image -> (1, H, W)."""
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def transform_half(img, size, x=0, y=0, crop_size=None, flip=False):
    """Resize one half to size x size (bicubic), crop, flip.

    Returns (3, crop_size, crop_size) float32 in [-1, 1] (crop_size defaults to size).
    """
    crop_size = size if crop_size is None else crop_size
    arr = to_array(img.resize((size, size), BICUBIC))
    arr = arr[:, y:y + crop_size, x:x + crop_size]
    if flip:
        arr = arr[:, :, ::-1]
    return np.ascontiguousarray(arr)


def split_ab(img):
    """Split an A|B image (2w x h) into its left half A and right half B."""
    w, h = img.size
    half = w // 2
    return img.crop((0, 0, half, h)), img.crop((half, 0, w, h))


def make_pair(ab_img, direction="BtoA", train=True, load_size=286, crop_size=256,
              no_flip=False, rng=None, **options):
    """Jitter an A|B image and orient it so that A is the network input.

    Returns (A, B), each (C, crop_size, crop_size) float32 in [-1, 1] with the default
    --preprocess resize_and_crop (C = 3, or 1 for a grey side). options: see
    transform_pair (preprocess, input_nc, output_nc, test_load_size).
    """
    a_img, b_img = split_ab(ab_img)
    return transform_pair(a_img, b_img, direction, train, load_size, crop_size, no_flip, rng,
                          **options)


def transform_pair(a_img, b_img, direction="BtoA", train=True, load_size=286, crop_size=256,
                   no_flip=False, rng=None, preprocess="resize_and_crop", input_nc=3,
                   output_nc=3, test_load_size=None):
    """(input, target) arrays of the halves A and B, as ``preprocess`` says.

    Training draws one crop and flip for both halves (from A's size, as the port does), so
    they stay aligned. Test time: resize to test_load_size (default crop_size, the port's
    test default), centre crop, no flip. A side with 1 channel is converted to grey.
    """
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    if train:
        rng = np.random.default_rng() if rng is None else rng
        params = prep.draw_params(rng, a_img.size, preprocess, load_size, crop_size, no_flip)
    else:
        load_size = test_load_size or crop_size
        params = prep.centre_params(a_img.size, preprocess, load_size, crop_size)
    source, target = (b_img, a_img) if direction == "BtoA" else (a_img, b_img)
    return tuple(to_array(prep.apply(img, preprocess, load_size, crop_size, params,
                                     grayscale=channels == 1))
                 for img, channels in ((source, input_nc), (target, output_nc)))


# ----------------------------------------------------------------------------- dataset

class AlignedDataset:
    """Folder root/split of A|B images (or root/A/split + root/B/split of halves).

    get(i) returns dict(A=(C, crop, crop) float32 in [-1, 1], B=same, path=str), where A is
    the network input after applying direction (BtoA: A = right half, B = left half).
    preprocess, input_nc, output_nc, test_load_size: see transform_pair. size_multiple:
    every output side must be a multiple of it (the U-Net's 2**depth), checked up front.
    """

    def __init__(self, root, split="train", direction="BtoA", load_size=286, crop_size=256,
                 no_flip=False, train=True, skip_bad_files=False, preprocess="resize_and_crop",
                 input_nc=3, output_nc=3, size_multiple=1, test_load_size=None):
        from .datasets import check_preprocess, check_sizes, scan_pairs  # imports this module
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
        check_preprocess(preprocess, load_size, crop_size, train)
        self.root = Path(root)
        self.split = split
        self.direction = direction
        self.load_size = load_size
        self.crop_size = crop_size
        self.no_flip = no_flip
        self.train = train
        self.options = dict(preprocess=preprocess, input_nc=input_nc, output_nc=output_nc,
                            test_load_size=test_load_size)
        self.paths, half_sizes = scan_pairs(root, split, skip_bad_files)
        self.output_sizes = check_sizes(half_sizes, preprocess, load_size if train else
                                        (test_load_size or crop_size), crop_size, size_multiple)

    def __len__(self):
        return len(self.paths)

    def get(self, index, rng=None):
        """Load item index; rng (np.random.Generator) drives the jitter when training."""
        from .datasets import load_halves
        entry = self.paths[index]
        a_img, b_img = load_halves(entry)
        a, b = transform_pair(a_img, b_img, self.direction, self.train, self.load_size,
                              self.crop_size, self.no_flip, rng, **self.options)
        return {"A": a, "B": b, "path": str(entry[0] if isinstance(entry, tuple) else entry)}

    def __getitem__(self, index):
        return self.get(index)
