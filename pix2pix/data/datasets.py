"""The port's --dataset_mode choices beyond one folder of A|B files.

    aligned       A|B pairs, in either folder layout that folders.py scans
    colorization  <root>/<split>/ of plain photos: L in, ab out (color.py)
    single        every image of one folder, inputs only (testing without B)

The files are checked before training by folders.py's scans, which list every problem.
"""
from pathlib import Path

import numpy as np

from pix2pix.data import preprocess as prep
from pix2pix.data.color import rgb_to_network
from pix2pix.data.folders import (
    check_preprocess,
    check_sizes,
    image_files,
    load_halves,
    scan_pairs,
)
from pix2pix.data.images import (
    IMG_EXTENSIONS,
    DataError,
    check_images,
    load_image,
    natural_key,
    pixel_limit,
    scan_dataset,
    set_max_pixels,
)
from pix2pix.data.pairs import to_array, transform_pair
from pix2pix.data.synthetic import SyntheticFacades
from pix2pix.models.networks import size_multiple

MODES = ("aligned", "colorization", "single")


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
        entry = self.paths[index]
        a_img, b_img = load_halves(entry)
        a, b = transform_pair(a_img, b_img, self.direction, self.train, self.load_size,
                              self.crop_size, self.no_flip, rng, **self.options)
        return {"A": a, "B": b, "path": str(entry[0] if isinstance(entry, tuple) else entry)}

    def __getitem__(self, index):
        return self.get(index)


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
    set_max_pixels(pixel_limit(opt.load_size, getattr(opt, "max_image_pixels", None)))
    pair = dict(preprocess=opt.preprocess, input_nc=opt.input_nc, output_nc=opt.output_nc)
    if opt.dataroot == "synthetic":
        return SyntheticFacades(n=8 if train else 4, size=opt.crop_size,
                                seed=opt.seed if train else opt.seed + 1,
                                direction=opt.direction, train=train, load_size=opt.load_size,
                                crop_size=opt.crop_size, no_flip=opt.no_flip, **pair,
                                test_load_size=test_load_size)
    common = dict(load_size=opt.load_size, crop_size=opt.crop_size, no_flip=opt.no_flip,
                  train=train, skip_bad_files=opt.skip_bad_files, preprocess=opt.preprocess,
                  size_multiple=size_multiple(opt.netG), test_load_size=test_load_size)
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
