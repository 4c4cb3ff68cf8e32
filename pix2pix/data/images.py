"""Image files on disk: reading them as RGB (or grey), listing a folder, checking every file.

Each A|B file holds one pair side by side, split at w/2 as in the official port: left half
= A (photo for facades), right half = B (label map); any width works. What is done to the
halves (the paper's jitter) is in pairs.py.
"""
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".webp")
# The decoders Pillow may use: never EPS/PostScript (which starts Ghostscript) or any other
# format a renamed file could pick. Each is a format of IMG_EXTENSIONS.
DECODERS = ("JPEG", "PNG", "BMP", "TIFF", "PPM", "WEBP")

# Pixels an image file may claim before it is decoded (a 631-byte JPEG can claim
# 13000x13000, 0.5 GB of RGB): 16 x the area of each half at --load_size 286 by default.
# The commands set it from their options (set_max_pixels); --max_image_pixels raises it.
_max_pixels = [2 * 16 * 286 ** 2]


def pixel_limit(load_size, max_image_pixels=None):
    """The limit the options ask for: --max_image_pixels, else 16 x the --load_size area
    of each half of an A|B file."""
    return max_image_pixels or 2 * 16 * load_size ** 2


def set_max_pixels(limit):
    """Set the most pixels load_image decodes in this process (see pixel_limit)."""
    _max_pixels[0] = int(limit)

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
    """Sort key that puts 2.jpg before 10.jpg, folder by folder (sub/1.png after 2.png)."""
    parts = Path(path).parts
    return [[len(parts) - i > 1] + [int(piece) if piece.isdigit() else piece.lower()
                                    for piece in re.split(r"(\d+)", part)]
            for i, part in enumerate(parts)]


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
        with warnings.catch_warnings():  # the pixel limit below is far lower than Pillow's
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=DECODERS)
        with img:
            w, h = img.size
            if w * h > _max_pixels[0]:
                raise _bad(path, f"{w}x{h} is {w * h:,} pixels, more than the limit of "
                                 f"{_max_pixels[0]:,} (16 x the --load_size area); resize it, "
                                 "or raise the limit with --max_image_pixels")
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


def list_images(folder):
    """Every file with an image extension in folder and its subfolders (the port's
    make_dataset walks them too), naturally sorted by relative path. Other files (.DS_Store,
    README.txt) are left out with one line on stderr saying how many."""
    folder = Path(folder)
    images, others = [], []
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            path = Path(parent) / name
            (images if path.suffix.lower() in IMG_EXTENSIONS else others).append(path)
    if others:
        shown = ", ".join(sorted(p.name for p in others)[:3])
        print(f"note: ignored {len(others)} file(s) in {folder} that are not images "
              f"({' '.join(IMG_EXTENSIONS)}): {shown}{', ...' if len(others) > 3 else ''}",
              file=sys.stderr)
    return sorted(images, key=lambda p: natural_key(p.relative_to(folder)))


def scan_dataset(root, split, skip_bad_files=False, sizes=None):
    """Check every image in root/split (and its subfolders) before training starts; return
    the good paths.

    Returns a naturally sorted list of Path. Bad images (unreadable, truncated, too narrow
    for an A|B pair) raise one DataError listing them all, or with skip_bad_files are left
    out with a warning on stderr. sizes: a dict that receives {path: (w, h)} of the good
    files. Files that are not images are ignored (list_images).
    """
    folder = Path(root) / split
    if not folder.is_dir():
        raise _missing_folder_error(folder)
    entries = list_images(folder)
    if not entries:
        raise DataError(f"no images in dataset folder: {folder}\n"
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
