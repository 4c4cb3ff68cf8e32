"""The brush the demo offers for a data set: label colours, a pen, or free colours.

CMP Facades label maps (the right half of each pix2pix facades file) paint each of the 12
CMP classes in one colour, stored as JPEG, so the edges blur into other colours. The
colours below were measured with derive_label_colours on the 400 training label maps (the
test re-derives them and checks the count); their order is the CMP class order (1 =
background ... 12 = shop), which is also the order of the colours along the jet colour map,
and the test checks each name against where the class sits in the pictures (doors low,
pillars tall, the background at the sides).
"""
from pathlib import Path

import numpy as np

FACADES_LABELS = {
    "background": (0, 0, 222),
    "facade": (0, 48, 254),
    "window": (1, 127, 254),
    "door": (1, 207, 255),
    "cornice": (33, 255, 225),
    "sill": (112, 254, 143),
    "balcony": (192, 255, 63),
    "blind": (254, 240, 2),
    "deco": (255, 159, 1),
    "molding": (254, 80, 1),
    "pillar": (252, 1, 1),
    "shop": (174, 0, 1),
}

WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def region_pixels(label_map, max_step=16):
    """(N, 3) int pixels of an (H, W, 3) uint8 label map that lie inside a region: each of
    the four neighbours within max_step per channel, so JPEG's blurred edges are left out."""
    a = np.asarray(label_map, dtype=np.int16)
    centre = a[1:-1, 1:-1]
    steps = sum(np.abs(centre - n).max(axis=-1)
                for n in (a[2:, 1:-1], a[:-2, 1:-1], a[1:-1, 2:], a[1:-1, :-2]))
    return centre[steps < max_step].astype(np.int64)


def derive_label_colours(label_maps, min_share=0.001, min_distance=40):
    """The distinct colours of label maps ((H, W, 3) uint8 arrays), most common first:
    [((r, g, b), share of the region pixels), ...].

    Pixels inside regions are binned to steps of 16; bins holding at least min_share of
    them become colours, most common first, unless within min_distance (RGB distance) of
    a colour already found; each colour is then the mean of the pixels of the bins nearest
    to it.
    """
    levels = 256 // 16 + 1                     # (v + 8) // 16 is 0 ... 16
    counts, sums = np.zeros(levels ** 3), np.zeros((levels ** 3, 3))
    for m in label_maps:
        pixels = region_pixels(m)
        b = (pixels + 8) // 16
        index = (b[:, 0] * levels + b[:, 1]) * levels + b[:, 2]
        counts += np.bincount(index, minlength=levels ** 3)
        for channel in range(3):
            sums[:, channel] += np.bincount(index, pixels[:, channel], levels ** 3)
    centres = []
    for i in np.argsort(-counts, kind="stable"):
        if counts[i] < min_share * counts.sum():
            break
        colour = np.array([i // levels ** 2, i // levels % levels, i % levels]) * 16
        if all(np.linalg.norm(colour - c) > min_distance for c in centres):
            centres.append(colour)
    bin_colours = sums / np.maximum(counts, 1)[:, None]
    nearest = np.argmin(((bin_colours[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), 1)
    colours = []
    for j in range(len(centres)):
        n = counts[nearest == j].sum()
        mean = sums[nearest == j].sum(axis=0) / n
        colours.append((tuple(int(v) for v in np.rint(mean)), float(n / counts.sum())))
    return colours


def brush_for(dataroot, direction, name=""):
    """(kind, {name: (r, g, b)}, canvas colour, first brush colour) for the data set the
    model was trained on: facades labels -> photo paint CMP classes on background (the
    facade's wall first); edges -> photo draw a black pen on white; anything else gets a
    few free colours on white."""
    data = f"{Path(str(dataroot)).name} {name}"
    if "facades" in data and direction == "BtoA":
        return "labels", FACADES_LABELS, FACADES_LABELS["background"], FACADES_LABELS["facade"]
    if "edges2" in data and direction == "AtoB":
        return "pen", {"pen": BLACK}, WHITE, BLACK
    colours = {"black": BLACK, "grey": (128, 128, 128), "red": (220, 30, 30),
               "green": (30, 160, 60), "blue": (30, 60, 220)}
    return "free", colours, WHITE, BLACK


def hex_colour(rgb):
    return "#{:02x}{:02x}{:02x}".format(*rgb)
