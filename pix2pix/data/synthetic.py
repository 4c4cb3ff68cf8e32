"""A tiny deterministic facade-like A|B dataset, generated on the fly.

For tests and for a demo that needs no download. Each item is a label map of coloured
rectangles (sky, wall, cornice, a grid of windows with sills, a door), in colours like those
of the CMP Facades label maps, and a "photo" rendered from it (per-class colours, shading,
a little noise). Everything is a function of (seed, index) only.
"""
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix.data.pairs import make_pair

CLASSES = ("background", "facade", "window", "door", "cornice", "sill")

# Label colours close to those in the pix2pix facades label maps (a jet-like colour scale).
LABEL_COLORS = np.array([
    (0, 0, 222),     # background
    (0, 48, 255),    # facade
    (0, 120, 255),   # window
    (168, 0, 0),     # door
    (248, 80, 0),    # cornice
    (192, 248, 56),  # sill
], dtype=np.uint8)

WALL_TONES = np.array([(196, 170, 130), (160, 82, 60), (150, 150, 145), (205, 160, 90)], float)


def _layout(rng, size):
    """Class index map (size, size) int: sky, wall, cornice, window grid with sills, a door."""
    cls = np.full((size, size), CLASSES.index("facade"), dtype=np.int64)
    top = int(rng.integers(0, size // 8 + 1))
    cls[:top] = CLASSES.index("background")
    cornice_h = max(1, size // 24)
    cls[top:top + cornice_h] = CLASSES.index("cornice")

    rows, cols = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    floor_top = top + cornice_h
    floor_h = (size - floor_top) / (rows + 1)  # the extra floor is the ground floor
    cell_w = size / cols
    win_w, win_h = rng.uniform(0.35, 0.6) * cell_w, rng.uniform(0.45, 0.7) * floor_h
    sill_h = max(1, size // 48)
    door_col = int(rng.integers(0, cols))

    for r in range(rows + 1):
        y_mid = floor_top + (r + 0.5) * floor_h
        for c in range(cols):
            x_mid = (c + 0.5) * cell_w
            if r == rows and c == door_col:
                x0, x1 = round(x_mid - 0.3 * cell_w), round(x_mid + 0.3 * cell_w)
                cls[round(y_mid - 0.3 * floor_h):, x0:x1] = CLASSES.index("door")
                continue
            x0, x1 = round(x_mid - win_w / 2), round(x_mid + win_w / 2)
            y0, y1 = round(y_mid - win_h / 2), round(y_mid + win_h / 2)
            cls[y0:y1, x0:x1] = CLASSES.index("window")
            cls[y1:y1 + sill_h, max(0, x0 - 1):x1 + 1] = CLASSES.index("sill")
    return cls


def _render_photo(rng, cls):
    """Photo (size, size, 3) uint8 from a class map: class colours, shading, noise."""
    size = cls.shape[0]
    wall = WALL_TONES[rng.integers(0, len(WALL_TONES))] + rng.uniform(-15, 15, 3)
    colors = np.array([
        (200, 215, 235),                      # background: sky
        wall,                                 # facade
        (45, 55, 70) + rng.uniform(-10, 10, 3),  # window: dark glass
        (90, 58, 38),                         # door: wood
        wall * 1.15,                          # cornice: lighter stone
        (205, 205, 200),                      # sill
    ])
    photo = colors[cls]
    # Light from above and one side, so the photo is not a flat recolouring of the labels.
    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    side = rng.choice([-1.0, 1.0])
    shade = 1.1 - 0.25 * ys + 0.08 * side * (xs - 0.5)
    photo = photo * shade[..., None]
    photo += rng.normal(0.0, 5.0, (size, size, 1)) + rng.normal(0.0, 2.0, (size, size, 3))
    return np.clip(np.rint(photo), 0, 255).astype(np.uint8)


def make_ab_image(index, size=64, seed=0):
    """One A|B pair as a PIL RGB image of size (2*size, size): photo left, label map right."""
    rng = np.random.default_rng([seed, index])
    cls = _layout(rng, size)
    photo = _render_photo(rng, cls)
    labels = LABEL_COLORS[cls]
    return Image.fromarray(np.concatenate([photo, labels], axis=1), mode="RGB")


def save_synthetic(folder, n=8, size=64, seed=0, ext="png"):
    """Write n A|B images as folder/1.ext ... n.ext (the facades naming); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i + 1}.{ext}"
        make_ab_image(i, size, seed).save(path)
        paths.append(path)
    return paths


class SyntheticFacades:
    """In-memory stand-in for AlignedDataset with the same get(index, rng) interface.

    get(i) returns dict(A=(3, crop, crop) float32 in [-1, 1], B=same, path=str);
    defaults: load_size = round(size * 286 / 256), crop_size = size (the paper's ratio).
    """

    def __init__(self, n=8, size=64, seed=0, direction="BtoA", train=True, load_size=None,
                 crop_size=None, no_flip=False, **pair_options):
        self.n = n
        self.size = size
        self.seed = seed
        self.direction = direction
        self.train = train
        self.load_size = int(size * 286 / 256 + 0.5) if load_size is None else load_size
        self.crop_size = size if crop_size is None else crop_size
        self.no_flip = no_flip
        self.pair_options = pair_options  # data.transform_pair's: preprocess, input_nc, ...
        self.output_sizes = {(self.crop_size, self.crop_size)}
        self._cache = {}

    def __len__(self):
        return self.n

    def get(self, index, rng=None):
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} items")
        if index not in self._cache:
            self._cache[index] = make_ab_image(index, self.size, self.seed)
        a, b = make_pair(self._cache[index], self.direction, self.train, self.load_size,
                         self.crop_size, self.no_flip, rng, **self.pair_options)
        return {"A": a, "B": b, "path": f"synthetic/seed{self.seed}/{index + 1}.png"}

    def __getitem__(self, index):
        return self.get(index)
