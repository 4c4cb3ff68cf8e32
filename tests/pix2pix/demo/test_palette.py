"""The demo's brushes: the CMP facade classes' colours, derived again from the real
training label maps (skipped without them), and which data set gets which brush."""
import numpy as np
import pytest
from PIL import Image

from pix2pix.demo.palette import FACADES_LABELS, brush_for, derive_label_colours
from tests.paths import REPO

FACADES_TRAIN = REPO / "datasets" / "facades" / "train"


@pytest.fixture(scope="module")
def label_maps():
    """The right halves (label maps) of the facades training files, as uint8 arrays."""
    paths = sorted(FACADES_TRAIN.glob("*.jpg")) if FACADES_TRAIN.is_dir() else []
    if not paths:
        pytest.skip(f"no facades data in {FACADES_TRAIN}: python -m pix2pix.download facades")
    maps = []
    for path in paths:
        with Image.open(path) as image:
            w, h = image.size
            maps.append(np.asarray(image.convert("RGB").crop((w // 2, 0, w, h))))
    return maps


def test_the_label_maps_hold_the_12_cmp_classes_and_our_colours(label_maps):
    derived = derive_label_colours(label_maps)
    assert len(derived) == 12 == len(FACADES_LABELS)  # CMP: 12 classes with background
    ours = np.array(list(FACADES_LABELS.values()))
    for colour, share in derived:
        distance = np.abs(ours - colour).max(axis=1)
        assert distance.min() <= 4, f"{colour} ({share:.1%} of the pixels) is not in the palette"
    assert len({int(np.abs(ours - c).max(axis=1).argmin()) for c, _ in derived}) == 12
    most_common = derived[0][0]
    assert np.abs(np.array(FACADES_LABELS["facade"]) - most_common).max() <= 4  # the walls


def class_geometry(label_maps):
    """Per class: mean row (0 = top), mean distance from the centre column, and the
    median width/height of its extent in a picture; from the first 60 maps."""
    colours = np.array(list(FACADES_LABELS.values()))
    rows, sides, aspects = ([[] for _ in colours] for _ in range(3))
    for m in label_maps[:60]:
        labels = np.argmin(((m[:, :, None, :].astype(int) - colours) ** 2).sum(-1), axis=-1)
        ys, xs = np.mgrid[0:m.shape[0], 0:m.shape[1]]
        for k in np.unique(labels):
            mask = labels == k
            rows[k].append(ys[mask].mean())
            sides[k].append(np.abs(xs[mask] - m.shape[1] / 2).mean())
            aspects[k].append(mask.any(0).sum() / mask.any(1).sum())
    names = list(FACADES_LABELS)
    return ({n: np.mean(v) for n, v in zip(names, rows)},
            {n: np.mean(v) for n, v in zip(names, sides)},
            {n: np.median(v) for n, v in zip(names, aspects)})


def test_each_colour_is_named_by_where_its_class_sits(label_maps):
    row, side, aspect = class_geometry(label_maps)
    assert max(side, key=side.get) == "background"       # around the building
    assert max(row, key=row.get) == "door"                # at the bottom
    assert row["shop"] > row["window"] > row["molding"]   # shops low, moldings high
    assert min(aspect, key=aspect.get) == "pillar"        # the one class taller than wide
    assert max(aspect, key=aspect.get) in ("molding", "cornice")  # horizontal bands


@pytest.mark.parametrize("dataroot, direction, kind", [
    ("datasets/facades", "BtoA", "labels"), ("datasets/facades", "AtoB", "free"),
    ("datasets/edges2shoes", "AtoB", "pen"), ("datasets/maps", "AtoB", "free")])
def test_brush_for_the_data_set(dataroot, direction, kind):
    got, colours, canvas, first = brush_for(dataroot, direction)
    assert got == kind and first in colours.values() and first != canvas
    if kind == "labels":
        assert canvas == FACADES_LABELS["background"] and len(colours) == 12
    else:
        assert canvas == (255, 255, 255)
