"""The official port's --preprocess modes, for each half of a pair (or a single image).

    resize_and_crop       resize to load_size x load_size, then a crop_size crop (default)
    crop                  a crop_size crop of the image as it is
    scale_width           resize to width load_size, keeping the aspect ratio
    scale_width_and_crop  scale_width, then a crop_size crop
    none                  the image as it is

Training draws one crop corner and one flip for both halves (so they stay aligned); test
time uses the centre crop and no flip. The generator needs every side to be a multiple of
2**depth, which size_problem() checks before any training.
"""
from PIL import Image

MODES = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")

BICUBIC = getattr(Image, "Resampling", Image).BICUBIC
FLIP = getattr(Image, "Transpose", Image).FLIP_LEFT_RIGHT


def resized_size(size, mode, load_size, crop_size):
    """(w, h) of an image of ``size`` after the resize step of ``mode`` (the port's rules:
    scale_width never makes the height smaller than crop_size)."""
    w, h = size
    if mode == "resize_and_crop":
        return load_size, load_size
    if mode.startswith("scale_width"):
        if w == load_size and h >= crop_size:
            return w, h
        return load_size, int(max(load_size * h / w, crop_size))
    return w, h


def output_size(size, mode, load_size, crop_size):
    """(w, h) that ``mode`` makes of an image of ``size``."""
    w, h = resized_size(size, mode, load_size, crop_size)
    return (crop_size, crop_size) if mode.endswith("crop") else (w, h)


def draw_params(rng, size, mode, load_size, crop_size, no_flip=False):
    """A random crop corner (x, y) and flip flag for an image of ``size`` (training).

    Drawn in the order x, y, flip, so resize_and_crop repeats data.jitter_params.
    """
    x = y = 0
    if mode.endswith("crop"):
        w, h = resized_size(size, mode, load_size, crop_size)
        x = int(rng.integers(0, max(0, w - crop_size) + 1))
        y = int(rng.integers(0, max(0, h - crop_size) + 1))
    flip = (not no_flip) and bool(rng.random() < 0.5)
    return x, y, flip


def centre_params(size, mode, load_size, crop_size):
    """The test-time crop: centred, no flip."""
    w, h = resized_size(size, mode, load_size, crop_size)
    return max(0, w - crop_size) // 2, max(0, h - crop_size) // 2, False


def apply(img, mode, load_size, crop_size, params, grayscale=False):
    """Resize, crop and flip one PIL image as ``mode`` says; params = (x, y, flip)."""
    x, y, flip = params
    if grayscale:
        img = img.convert("L")
    new_size = resized_size(img.size, mode, load_size, crop_size)
    if new_size != img.size:
        img = img.resize(new_size, BICUBIC)
    if mode.endswith("crop"):
        img = img.crop((x, y, x + crop_size, y + crop_size))
    return img.transpose(FLIP) if flip else img


def nearest_multiples(n, multiple):
    """The multiples of ``multiple`` just below and above n (without 0)."""
    below = max(multiple, n // multiple * multiple)
    above = -(-n // multiple) * multiple
    return sorted({below, above})


def size_problem(size, mode, load_size, crop_size, multiple):
    """None if ``mode`` turns an image of ``size`` into one the generator takes, else why
    not and what would work instead."""
    if mode.endswith("crop"):
        w, h = resized_size(size, mode, load_size, crop_size)
        if w < crop_size or h < crop_size:
            return (f"{size[0]}x{size[1]} is {w}x{h} after the resize, smaller than "
                    f"--crop_size {crop_size}; use a smaller --crop_size or --preprocess "
                    f"resize_and_crop")
    w, h = output_size(size, mode, load_size, crop_size)
    if w % multiple or h % multiple:
        return (f"--preprocess {mode} makes {size[0]}x{size[1]} into {w}x{h}, but the "
                f"generator needs multiples of {multiple}: nearest widths "
                f"{nearest_multiples(w, multiple)}, heights {nearest_multiples(h, multiple)}; "
                f"resize the images, or use --preprocess resize_and_crop or crop")
    return None
