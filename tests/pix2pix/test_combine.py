"""python -m pix2pix.combine: the port's combine_A_and_B.py semantics, with every problem
listed before anything is written, and --split_AB as its inverse."""
import errno

import numpy as np
import pytest
from PIL import Image

from pix2pix.combine import main
from pix2pix.data.synthetic import make_ab_image


def noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


@pytest.fixture
def halves(tmp_path):
    made = {}
    for split, names in (("train", ["1.png", "2.png"]), ("test", ["9.png"])):
        for k, name in enumerate(names):
            a = write(tmp_path / "A" / split / name, noise((12, 10, 3), k))
            b = write(tmp_path / "B" / split / name, noise((12, 10, 3), 10 + k))
            made[split, name] = a, b
    return tmp_path, made


def combine(root, *extra):
    return main(["--fold_A", str(root / "A"), "--fold_B", str(root / "B"),
                 "--fold_AB", str(root / "AB"), *extra])


@pytest.mark.parametrize("extra", [[], ["--no_multiprocessing"]], ids=["threads", "serial"])
def test_pairs_are_written_side_by_side_per_split(halves, extra):
    root, made = halves
    assert combine(root, *extra) == 0
    for (split, name), (a, b) in made.items():
        ab = np.asarray(Image.open(root / "AB" / split / name))
        np.testing.assert_array_equal(ab, np.concatenate([a, b], axis=1))


def test_use_AB_names(tmp_path):
    a = write(tmp_path / "A" / "train" / "x_A.png", noise((4, 4, 3), 1))
    b = write(tmp_path / "A" / "train" / "x_B.png", noise((4, 4, 3), 2))
    assert main(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "A"),
                 "--fold_AB", str(tmp_path / "AB"), "--use_AB"]) == 0
    ab = np.asarray(Image.open(tmp_path / "AB" / "train" / "x.png"))
    np.testing.assert_array_equal(ab, np.concatenate([a, b], axis=1))


def test_every_problem_is_listed_and_nothing_is_written(halves, capsys):
    root, _ = halves
    write(root / "A" / "train" / "lonely.png", noise((12, 10, 3), 3))
    write(root / "A" / "train" / "big.png", noise((12, 10, 3), 4))
    write(root / "B" / "train" / "big.png", noise((14, 10, 3), 5))
    (root / "B" / "test" / "9.png").write_bytes(b"not a png")
    assert combine(root) == 2
    err = capsys.readouterr().err
    assert f"lonely.png: no partner {root / 'B' / 'train' / 'lonely.png'}" in err
    assert "big.png: is 10x12 but its partner" in err and "10x14" in err
    assert f"{root / 'B' / 'test' / '9.png'}: not a readable image" in err
    assert "Nothing was written" in err
    assert not (root / "AB").exists()


def test_split_AB_is_the_inverse(halves):
    root, made = halves
    assert combine(root) == 0
    assert main(["--fold_AB", str(root / "AB"), "--fold_A", str(root / "A2"),
                 "--fold_B", str(root / "B2"), "--split_AB"]) == 0
    for (split, name), (a, b) in made.items():
        np.testing.assert_array_equal(np.asarray(Image.open(root / "A2" / split / name)), a)
        np.testing.assert_array_equal(np.asarray(Image.open(root / "B2" / split / name)), b)


def test_missing_folders_are_named(tmp_path, capsys):
    assert combine(tmp_path) == 2
    assert f"{tmp_path / 'A'} is not a folder" in capsys.readouterr().err


def test_combine_onto_a_full_disk_names_the_path_and_leaves_no_file(tmp_path, capsys,
                                                                    monkeypatch):
    for side in "AB":
        (tmp_path / side / "train").mkdir(parents=True)
        make_ab_image(0, size=16).save(tmp_path / side / "train" / "1.png")

    def full(self, fp, format=None, **params):
        fp.write(b"\x89PNG")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Image.Image, "save", full)
    assert main(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"),
                         "--fold_AB", str(tmp_path / "AB"), "--no_multiprocessing"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'AB' / 'train' / '1.png'}: No space left" in err
    assert [p for p in (tmp_path / "AB").rglob("*") if p.is_file()] == []
