"""Bringing your own data: pairs of any width, the port's --preprocess modes, grey halves,
A/ + B/ folders, colorization and single data sets, each with a clear refusal of bad input."""

import numpy as np
import pytest
from PIL import Image

from pix2pix.data import preprocess as prep
from pix2pix.data.color import lab_to_rgb, network_to_rgb, rgb_to_lab, rgb_to_network
from pix2pix.data.datasets import (
    AlignedDataset,
    ColorizationDataset,
    SingleDataset,
    check_batchable,
)
from pix2pix.data.images import BICUBIC, DataError


def noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)  # PNG: lossless, so values can be compared
    return array


def as_net(array):
    """What the data sets give for a uint8 image: (C, H, W) in [-1, 1]."""
    arr = array.astype(np.float32) / 127.5 - 1
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def resized(array, size):
    return np.asarray(Image.fromarray(array).resize(size, BICUBIC))


# ----------------------------------------------------------------------------- any width

def test_a_pair_that_is_not_2_to_1_splits_at_half_width(tmp_path):
    ab = write(tmp_path / "train" / "wide.png", noise((30, 90, 3), 0))     # 90x30: halves 45x30
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", load_size=36, crop_size=32)
    rng = np.random.default_rng(3)
    x, y, flip = prep.draw_params(np.random.default_rng(3), (45, 30), "resize_and_crop", 36, 32)
    item = ds.get(0, rng=rng)
    for key, half in (("A", ab[:, :45]), ("B", ab[:, 45:])):
        want = resized(half, (36, 36))[y:y + 32, x:x + 32]
        want = want[:, ::-1] if flip else want
        np.testing.assert_allclose(item[key], as_net(want), atol=1e-6)


def test_an_odd_width_gives_b_the_extra_column(tmp_path):
    write(tmp_path / "train" / "odd.png", noise((8, 17, 3), 1))
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", load_size=8, crop_size=8,
                        train=False, preprocess="crop")
    item = ds.get(0)
    assert item["A"].shape == item["B"].shape == (3, 8, 8)


# ----------------------------------------------------------------------------- --preprocess

@pytest.mark.parametrize("mode, size", [("crop", (16, 16)), ("scale_width", (32, 19)),  # 24 * 32 / 40 = 19.2
                                        ("scale_width_and_crop", (16, 16)), ("none", (40, 24))])
def test_preprocess_modes_give_the_port_sizes(tmp_path, mode, size):
    write(tmp_path / "train" / "p.png", noise((24, 80, 3), 2))            # halves 40x24
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", load_size=32, crop_size=16,
                        preprocess=mode)
    a = ds.get(0, rng=np.random.default_rng(0))["A"]
    assert a.shape[1:] == (size[1], size[0])


def test_crop_takes_the_pixels_unresized_and_test_time_centres_it(tmp_path):
    ab = write(tmp_path / "train" / "p.png", noise((24, 80, 3), 3))
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", crop_size=16, preprocess="crop")
    x, y, flip = prep.draw_params(np.random.default_rng(5), (40, 24), "crop", 286, 16)
    want = ab[y:y + 16, x:x + 16]
    want = want[:, ::-1] if flip else want
    np.testing.assert_array_equal(ds.get(0, rng=np.random.default_rng(5))["A"], as_net(want))
    test = AlignedDataset(tmp_path, "train", direction="AtoB", crop_size=16, preprocess="crop",
                          train=False)
    np.testing.assert_array_equal(test.get(0)["A"], as_net(ab[4:20, 12:28]))  # the centre


def test_scale_width_keeps_the_aspect_ratio(tmp_path):
    ab = write(tmp_path / "train" / "p.png", noise((20, 80, 3), 4))        # halves 40x20
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", load_size=32, crop_size=16,
                        preprocess="scale_width", no_flip=True)
    np.testing.assert_allclose(ds.get(0)["A"], as_net(resized(ab[:, :40], (32, 16))), atol=1e-6)


def test_none_refuses_sizes_the_unet_cannot_take_with_the_nearest_that_work(tmp_path):
    write(tmp_path / "train" / "p.png", noise((40, 100, 3), 5))            # halves 50x40
    with pytest.raises(DataError) as info:
        AlignedDataset(tmp_path, "train", preprocess="none", size_multiple=16)
    message = str(info.value)
    assert "p.png" in message and "multiples of 16" in message
    assert "nearest widths [48, 64], heights [32, 48]" in message


def test_a_crop_larger_than_the_image_is_refused_before_training(tmp_path):
    write(tmp_path / "train" / "small.png", noise((8, 16, 3), 6))
    with pytest.raises(DataError, match=r"small.png: 8x8 is 8x8 after the resize, smaller than "
                                        r"--crop_size 16"):
        AlignedDataset(tmp_path, "train", crop_size=16, preprocess="crop")


def test_mixed_sizes_cannot_be_batched(tmp_path):
    write(tmp_path / "train" / "a.png", noise((16, 32, 3), 7))
    write(tmp_path / "train" / "b.png", noise((32, 64, 3), 8))
    ds = AlignedDataset(tmp_path, "train", preprocess="none", size_multiple=16)
    check_batchable(ds, 1)
    with pytest.raises(DataError, match="--batch_size 2 stacks images"):
        check_batchable(ds, 2)


# ----------------------------------------------------------------------------- grey

def test_one_channel_sides_are_read_as_grey(tmp_path):
    ab = write(tmp_path / "train" / "p.png", noise((16, 32, 3), 9))
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", crop_size=16, train=False,
                        input_nc=1)
    item = ds.get(0)
    grey = np.asarray(Image.fromarray(ab[:, :16]).convert("L"))
    np.testing.assert_array_equal(item["A"], as_net(grey))
    assert item["B"].shape == (3, 16, 16)
    out = AlignedDataset(tmp_path, "train", direction="BtoA", crop_size=16, train=False,
                         output_nc=1).get(0)
    assert out["A"].shape == (3, 16, 16) and out["B"].shape == (1, 16, 16)


# ----------------------------------------------------------------------------- A/ + B/ folders

def halves_tree(root, names, sizes=None):
    for k, name in enumerate(names):
        size = (sizes or {}).get(name, (16, 16))
        write(root / "A" / "train" / name, noise((*size, 3), 10 + k))
        write(root / "B" / "train" / name, noise((*size, 3), 20 + k))


def test_a_and_b_folders_are_read_as_pairs(tmp_path):
    halves_tree(tmp_path, ["1.png", "2.png"])
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", crop_size=16, train=False)
    item = ds.get(1)
    a = np.asarray(Image.open(tmp_path / "A" / "train" / "2.png"))
    b = np.asarray(Image.open(tmp_path / "B" / "train" / "2.png"))
    np.testing.assert_array_equal(item["A"], as_net(a))
    np.testing.assert_array_equal(item["B"], as_net(b))


def test_missing_partners_mismatched_sizes_and_corrupt_halves_are_listed(tmp_path):
    halves_tree(tmp_path, ["ok.png", "big.png"], sizes={"big.png": (16, 16)})
    write(tmp_path / "B" / "train" / "big.png", noise((16, 24, 3), 1))    # other size
    write(tmp_path / "A" / "train" / "alone.png", noise((16, 16, 3), 2))  # no B
    write(tmp_path / "B" / "train" / "orphan.png", noise((16, 16, 3), 3))  # no A
    write(tmp_path / "A" / "train" / "cut.png", noise((16, 16, 3), 4))
    (tmp_path / "B" / "train" / "cut.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError) as info:
        AlignedDataset(tmp_path, "train")
    message = str(info.value)
    assert f"alone.png: no partner {tmp_path / 'B' / 'train' / 'alone.png'}" in message
    assert f"orphan.png: no partner {tmp_path / 'A' / 'train' / 'orphan.png'}" in message
    assert "big.png: is 16x16 but its partner" in message and "24x16" in message
    assert f"{tmp_path / 'B' / 'train' / 'cut.png'}: not a readable image" in message
    assert "ok.png" not in message and "--skip_bad_files" in message
    assert len(AlignedDataset(tmp_path, "train", skip_bad_files=True)) == 1


# ----------------------------------------------------------------------------- colorization

def test_lab_round_trip_and_the_port_scaling():
    rgb = noise((6, 7, 3), 11)
    L, ab = rgb_to_network(rgb)
    assert L.shape == (1, 6, 7) and ab.shape == (2, 6, 7)
    lab = rgb_to_lab(rgb)
    np.testing.assert_allclose(L[0], lab[..., 0] / 50 - 1, atol=1e-5)
    np.testing.assert_allclose(ab, lab[..., 1:].transpose(2, 0, 1) / 110, atol=1e-5)
    back = (network_to_rgb(L, ab) + 1) * 127.5
    np.testing.assert_allclose(back, rgb.transpose(2, 0, 1), atol=0.5)


def test_lab_to_rgb_matches_skimage():
    color = pytest.importorskip("skimage.color")
    lab = rgb_to_lab(noise((5, 5, 3), 12))
    np.testing.assert_allclose(lab_to_rgb(lab), color.lab2rgb(lab), atol=1e-4)


def test_colorization_dataset_gives_l_in_ab_out(tmp_path):
    photo = write(tmp_path / "train" / "photo.png", noise((16, 16, 3), 13))
    ds = ColorizationDataset(tmp_path, "train", crop_size=16, train=False)
    item = ds.get(0)
    L, ab = rgb_to_network(photo)
    np.testing.assert_allclose(item["A"], L, atol=1e-6)
    np.testing.assert_allclose(item["B"], ab, atol=1e-6)


def test_single_dataset_reads_inputs_only_and_ignores_other_files(tmp_path):
    write(tmp_path / "x.png", noise((20, 30, 3), 14))
    (tmp_path / "notes.txt").write_text("not an image")
    ds = SingleDataset(tmp_path, input_nc=1, load_size=16, crop_size=16)
    item = ds.get(0)
    assert item["A"].shape == (1, 16, 16) and item["B"] is None and len(ds) == 1


def test_training_runs_on_a_and_b_folders_with_grey_inputs(tmp_path, monkeypatch):
    """End to end: A/ + B/ folders (no val split), any-width halves, --input_nc 1."""
    from pix2pix.training.loop import main
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)
    halves_tree(tmp_path / "data", ["1.png", "2.png"], sizes={"1.png": (20, 30), "2.png": (20, 30)})
    code = main(["--dataroot", str(tmp_path / "data"), "--netG", "unet_32", "--crop_size", "32",
                 "--load_size", "36", "--ngf", "2", "--ndf", "2", "--n_epochs", "1",
                 "--n_epochs_decay", "0", "--input_nc", "1", "--num_samples", "1",
                 "--checkpoints_dir", str(tmp_path / "ck"), "--no_progress"])
    assert code == 0
    assert (tmp_path / "ck" / "facades_label2photo" / "samples_latest.png").exists()
