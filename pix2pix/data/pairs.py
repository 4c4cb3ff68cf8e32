"""Aligned A|B pairs and the paper's random jitter (Sec. 3 / 6.2, the port's
--preprocess resize_and_crop): resize each half to load_size x load_size (bicubic), take
the same random crop_size crop and the same random horizontal flip of both halves. Test
time: resize to crop_size, no crop, no flip. The port's other --preprocess modes are in
preprocess.py. Pixels are scaled to [-1, 1] to match the generator's Tanh output; a half
for a 1-channel side (--input_nc / --output_nc 1) is grey.
"""
import numpy as np

from pix2pix.data import preprocess as prep
from pix2pix.data.images import BICUBIC


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
