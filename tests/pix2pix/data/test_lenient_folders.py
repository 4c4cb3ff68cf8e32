"""Data folders as lenient as the port's (issue 24, item 3): files that are not images are
ignored with one line, subfolders are read, the port's other formats load; the same in
A/B-folder mode and in combine, which also applies EXIF orientation and skips a half
without a partner with a warning."""
import numpy as np
from PIL import Image

from pix2pix.combine import main as combine
from pix2pix.data.datasets import AlignedDataset, SingleDataset
from pix2pix.data.images import scan_dataset
from pix2pix.data.synthetic import make_ab_image


def clutter(folder):
    """What a user's folder holds beside the images."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "README.txt").write_text("where these came from")


def test_aligned_folder_ignores_clutter_and_reads_subfolders_and_formats(tmp_path, capsys):
    train = tmp_path / "train"
    clutter(train)
    make_ab_image(0, size=16).save(train / "1.png")
    (train / "set2").mkdir()
    make_ab_image(1, size=16).save(train / "set2" / "2.tif")
    make_ab_image(2, size=16).save(train / "set2" / "10.webp", lossless=True)
    paths = scan_dataset(tmp_path, "train")
    assert [p.relative_to(train).as_posix() for p in paths] == ["1.png", "set2/2.tif",
                                                                "set2/10.webp"]
    err = capsys.readouterr().err
    assert err == (f"note: ignored 2 file(s) in {train} that are not images (.jpg .jpeg .png "
                   ".bmp .tif .tiff .ppm .webp): .DS_Store, README.txt\n")
    assert len(AlignedDataset(tmp_path, "train", load_size=16, crop_size=16)) == 3


def test_a_and_b_folders_pair_by_path_below_the_split(tmp_path, capsys):
    for side in "AB":
        clutter(tmp_path / side / "train" / "street")
        for name in ("street/1.png", "2.png"):
            Image.new("RGB", (16, 16), (40 if side == "A" else 200, 0, 0)).save(
                tmp_path / side / "train" / name)
    ds = AlignedDataset(tmp_path, "train", direction="AtoB", load_size=16, crop_size=16)
    assert [a.relative_to(tmp_path).as_posix() for a, _ in ds.paths] == ["A/train/2.png",
                                                                         "A/train/street/1.png"]
    assert ds.get(1)["B"][0].mean() > ds.get(1)["A"][0].mean()
    assert "that are not images" in capsys.readouterr().err


def test_single_folder_reads_subfolders(tmp_path):
    clutter(tmp_path / "in" / "more")
    Image.new("RGB", (16, 16)).save(tmp_path / "in" / "a.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "in" / "more" / "b.ppm")
    assert len(SingleDataset(tmp_path / "in", load_size=16, crop_size=16)) == 2


def rotated_jpeg(path, upright):
    """Save `upright` (H, W, 3) turned on its side, with the EXIF orientation (6: rotate
    90 degrees clockwise to view) that turns it back."""
    sideways = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(path, exif=exif, quality=100, subsampling=0)


def test_combine_applies_exif_skips_lonely_halves_and_keeps_subfolders(tmp_path, capsys):
    rng = np.random.default_rng(0)
    upright = (rng.random((8, 16, 3)) > 0.5).astype(np.uint8) * 255
    for side in "AB":
        clutter(tmp_path / side / "train" / "sub")
    rotated_jpeg(tmp_path / "A" / "train" / "sub" / "1.jpg", upright)
    Image.fromarray(upright).save(tmp_path / "B" / "train" / "sub" / "1.jpg", quality=100,
                                  subsampling=0)
    Image.new("RGB", (16, 8)).save(tmp_path / "A" / "train" / "lonely.png")
    assert combine(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"),
                    "--fold_AB", str(tmp_path / "AB"), "--no_multiprocessing"]) == 0
    err = capsys.readouterr().err
    assert f"lonely.png: no partner {tmp_path / 'B' / 'train' / 'lonely.png'}" in err
    assert "warning:" in err and "skipped." in err
    ab = np.asarray(Image.open(tmp_path / "AB" / "train" / "sub" / "1.jpg"))
    assert ab.shape == (8, 32, 3)
    left, right = ab[:, :16].astype(int), ab[:, 16:].astype(int)
    assert np.abs(left - right).mean() < 20  # A upright, as B (JPEG noise aside)
    assert not (tmp_path / "AB" / "train" / "lonely.png").exists()
