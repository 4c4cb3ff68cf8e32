"""Tests for pix2pix.data, pix2pix.data.synthetic, pix2pix.data.loader and pix2pix.download."""
import io
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix import download
from pix2pix.data.datasets import AlignedDataset
from pix2pix.data.images import BICUBIC, DataError, natural_key, scan_dataset
from pix2pix.data.loader import DataLoader
from pix2pix.data.pairs import jitter_params
from pix2pix.data.synthetic import (
    LABEL_COLORS,
    SyntheticFacades,
    make_ab_image,
    save_synthetic,
)
from tests.paths import REPO

FACADES_CANDIDATES = [REPO / "datasets" / "facades", REPO.parent / "shared" / "facades"]
FACADES = next((p for p in FACADES_CANDIDATES if (p / "train").is_dir()), None)
needs_facades = pytest.mark.skipif(FACADES is None, reason="real facades data not found")


def pair_image(h=32, seed=0):
    """A|B image whose right half is the left half with its channels reversed (RGB -> BGR).

    Resizing acts on each channel alike, so B == A[::-1] survives any jitter that treats
    both halves the same, and breaks if their crop or flip differ (A is random noise).
    """
    a = np.random.default_rng(seed).integers(0, 256, (h, h, 3), dtype=np.uint8)
    return a, np.concatenate([a, a[..., ::-1]], axis=1)


def write_pairs(folder, names, h=32):
    folder.mkdir(parents=True, exist_ok=True)
    halves = {}
    for k, name in enumerate(names):
        a, ab = pair_image(h, seed=k)
        Image.fromarray(ab).save(folder / name)  # png: lossless, so values can be compared
        halves[name] = a
    return halves


@pytest.fixture
def pairs_root(tmp_path):
    halves = write_pairs(tmp_path / "train", ["1.png", "2.png", "3.png"])
    return tmp_path, halves


# ----------------------------------------------------------------------------- jitter

def test_jitter_params_range_and_flip_rate():
    rng = np.random.default_rng(0)
    draws = [jitter_params(rng, 286, 256, no_flip=False) for _ in range(2000)]
    xs, ys, flips = (np.array(v) for v in zip(*draws))
    assert xs.min() == 0 and xs.max() == 30 and ys.min() == 0 and ys.max() == 30
    assert 0.45 < flips.mean() < 0.55
    assert len(set(zip(xs, ys))) > 500  # x and y are drawn independently
    assert not any(jitter_params(rng, 286, 256, no_flip=True)[2] for _ in range(200))
    assert jitter_params(rng, 256, 256)[:2] == (0, 0)


def test_same_crop_and_flip_for_both_halves(pairs_root):
    root, _ = pairs_root
    ds = AlignedDataset(root, "train", direction="AtoB", load_size=40, crop_size=32)
    seen_flips, seen_crops = set(), set()
    for seed in range(20):
        item = ds.get(0, rng=np.random.default_rng(seed))
        assert item["A"].shape == item["B"].shape == (3, 32, 32)
        np.testing.assert_array_equal(item["B"], item["A"][::-1])
        x, y, flip = jitter_params(np.random.default_rng(seed), 40, 32, False)
        seen_flips.add(flip)
        seen_crops.add((x, y))
    assert seen_flips == {True, False} and len(seen_crops) > 5


def test_jitter_is_resize_then_crop_then_flip(pairs_root):
    root, halves = pairs_root
    ds = AlignedDataset(root, "train", direction="AtoB", load_size=40, crop_size=32)
    for seed in range(6):
        x, y, flip = jitter_params(np.random.default_rng(seed), 40, 32, False)
        big = np.asarray(Image.fromarray(halves["1.png"]).resize((40, 40), BICUBIC))
        want = big[y:y + 32, x:x + 32]
        want = want[:, ::-1] if flip else want
        want = want.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1
        got = ds.get(0, rng=np.random.default_rng(seed))["A"]
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_direction_and_test_mode(pairs_root):
    root, halves = pairs_root
    left = halves["2.png"].transpose(2, 0, 1) / 127.5 - 1
    right = left[::-1]
    a2b = AlignedDataset(root, "train", direction="AtoB", crop_size=32, train=False).get(1)
    b2a = AlignedDataset(root, "train", direction="BtoA", crop_size=32, train=False).get(1)
    np.testing.assert_allclose(a2b["A"], left, atol=1e-6)
    np.testing.assert_allclose(a2b["B"], right, atol=1e-6)
    np.testing.assert_allclose(b2a["A"], right, atol=1e-6)
    np.testing.assert_allclose(b2a["B"], left, atol=1e-6)
    assert b2a["path"].endswith("2.png")


def test_test_mode_resizes_to_crop_size_without_randomness(pairs_root):
    root, halves = pairs_root
    ds = AlignedDataset(root, "train", direction="AtoB", load_size=40, crop_size=24, train=False)
    outs = [ds.get(0, rng=np.random.default_rng(s))["A"] for s in range(5)]
    assert outs[0].shape == (3, 24, 24)
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    want = np.asarray(Image.fromarray(halves["1.png"]).resize((24, 24), BICUBIC))
    np.testing.assert_allclose(outs[0], want.transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)


def test_value_range_and_dtype():
    item = SyntheticFacades(n=2, size=32).get(0, rng=np.random.default_rng(0))
    for key in ("A", "B"):
        arr = item[key]
        assert arr.dtype == np.float32 and arr.shape == (3, 32, 32)
        assert arr.min() >= -1 and arr.max() <= 1
        assert arr.min() < -0.5 and arr.max() > 0.5  # really uses the [-1, 1] range


def test_natural_sort(tmp_path):
    names = ["10.png", "2.png", "1.png", "b3.png", "b21.png"]
    write_pairs(tmp_path / "train", names, h=8)
    ds = AlignedDataset(tmp_path, "train", load_size=8, crop_size=8)
    assert [Path(p).name for p in ds.paths] == ["1.png", "2.png", "10.png", "b3.png", "b21.png"]
    assert sorted(["x10.jpg", "x9.jpg"], key=natural_key) == ["x9.jpg", "x10.jpg"]


def test_bad_arguments(pairs_root):
    root, _ = pairs_root
    with pytest.raises(ValueError, match="direction"):
        AlignedDataset(root, direction="AB")
    with pytest.raises(ValueError, match="crop_size"):
        AlignedDataset(root, load_size=32, crop_size=64)


# ----------------------------------------------------------------------------- synthetic

def test_synthetic_is_deterministic_and_varied():
    img = make_ab_image(3, size=32, seed=0)
    assert img.size == (64, 32) and img.mode == "RGB"
    same = np.asarray(make_ab_image(3, size=32, seed=0))
    np.testing.assert_array_equal(np.asarray(img), same)
    assert not np.array_equal(same, np.asarray(make_ab_image(4, size=32, seed=0)))
    assert not np.array_equal(same, np.asarray(make_ab_image(3, size=32, seed=1)))


def test_synthetic_label_map_uses_label_colours():
    ab = np.asarray(make_ab_image(0, size=48))
    labels = ab[:, 48:].reshape(-1, 3)
    palette = {tuple(c) for c in LABEL_COLORS}
    used = {tuple(c) for c in labels}
    assert used <= palette and len(used) >= 4  # wall, window, door, cornice at least
    photo = ab[:, :48].reshape(-1, 3)
    assert not {tuple(c) for c in photo} <= palette  # the photo is rendered, not the labels


def test_synthetic_defaults_and_files_roundtrip(tmp_path):
    ds = SyntheticFacades(n=3, size=64)
    assert (ds.load_size, ds.crop_size) == (72, 64)
    assert ds.get(0, rng=np.random.default_rng(0))["A"].shape == (3, 64, 64)
    save_synthetic(tmp_path / "train", n=3, size=32, seed=5)
    on_disk = AlignedDataset(tmp_path, "train", crop_size=32, train=False)
    in_memory = SyntheticFacades(n=3, size=32, seed=5, train=False)
    for i in range(3):
        np.testing.assert_array_equal(on_disk.get(i)["A"], in_memory.get(i)["A"])
        np.testing.assert_array_equal(on_disk.get(i)["B"], in_memory.get(i)["B"])


# ----------------------------------------------------------------------------- loader

class Counting:
    """Wraps a dataset, counting get() calls and optionally failing or sleeping."""

    def __init__(self, dataset, fail_at=None, sleep=0.0):
        self.dataset, self.fail_at, self.sleep, self.calls = dataset, fail_at, sleep, []

    def __len__(self):
        return len(self.dataset)

    def get(self, index, rng=None):
        self.calls.append(index)
        time.sleep(self.sleep)
        if index == self.fail_at:
            raise RuntimeError(f"boom at {index}")
        return self.dataset.get(index, rng)


def small(n=7):
    return SyntheticFacades(n=n, size=16)


def batches_equal(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert x["paths"] == y["paths"]
        np.testing.assert_array_equal(x["A"], y["A"])
        np.testing.assert_array_equal(x["B"], y["B"])


def test_loader_shapes_and_len():
    loader = DataLoader(small(7), batch_size=3, prefetch=False)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b["A"].shape[0] for b in batches] == [3, 3, 1]
    assert batches[0]["A"].shape == (3, 3, 16, 16) and batches[0]["B"].dtype == np.float32
    assert sorted(p for b in batches for p in b["paths"]) == sorted(
        small(7).get(i)["path"] for i in range(7))  # every item exactly once


def test_loader_determinism_and_epochs():
    run1 = list(DataLoader(small(), batch_size=2, seed=3, prefetch=False))
    run2 = list(DataLoader(small(), batch_size=2, seed=3, prefetch=False))
    batches_equal(run1, run2)
    other = DataLoader(small(), batch_size=2, seed=3, prefetch=False)
    other.set_epoch(1)
    assert [b["paths"] for b in other] != [b["paths"] for b in run1]
    other_seed = list(DataLoader(small(), batch_size=2, seed=4, prefetch=False))
    assert not np.array_equal(other_seed[0]["A"], run1[0]["A"])


def test_loader_order_formula_and_no_shuffle():
    loader = DataLoader(small(), seed=9, epoch=2)
    np.testing.assert_array_equal(loader.order(), np.random.default_rng([9, 2]).permutation(7))
    plain = DataLoader(small(), shuffle=False, prefetch=False)
    assert [b["paths"][0] for b in plain] == [small().get(i)["path"] for i in range(7)]


def test_jitter_rng_is_per_position():
    ds = small()
    loader = DataLoader(ds, batch_size=1, seed=1, epoch=4, prefetch=False)
    order = loader.order()
    batch = list(loader)[5]
    want = ds.get(int(order[5]), rng=np.random.default_rng([1, 4, 5]))
    np.testing.assert_array_equal(batch["A"][0], want["A"])


def test_start_batch_resume_equals_tail_and_skips_loading():
    full = list(DataLoader(small(), batch_size=2, seed=5, epoch=1, prefetch=False))
    counting = Counting(small())
    loader = DataLoader(counting, batch_size=2, seed=5, epoch=1, prefetch=False)
    tail = list(loader.iter_from(2))
    batches_equal(tail, full[2:])
    assert len(counting.calls) == 7 - 4  # the 4 items of the 2 skipped batches were not loaded


def test_prefetch_gives_identical_batches():
    plain = list(DataLoader(small(), batch_size=2, seed=2, prefetch=False))
    fetched = list(DataLoader(small(), batch_size=2, seed=2, prefetch=True))
    batches_equal(plain, fetched)
    tail = list(DataLoader(small(), batch_size=2, seed=2, prefetch=True).iter_from(1))
    batches_equal(tail, plain[1:])


def test_prefetch_reraises_worker_exception():
    loader = DataLoader(Counting(small(), fail_at=4), batch_size=1, shuffle=False)
    got = []
    with pytest.raises(RuntimeError, match="boom at 4"):
        for batch in loader:
            got.append(batch)
    assert len(got) == 4


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "DataLoader-prefetch" and t.is_alive()]


def test_prefetch_thread_stops_when_consumer_stops_early():
    loader = DataLoader(Counting(small(), sleep=0.002), batch_size=1)
    for _ in loader:
        break
    assert prefetch_threads() == []
    it = iter(loader)
    next(it)
    assert len(prefetch_threads()) == 1
    it.close()
    assert prefetch_threads() == []


def test_wait_seconds_accumulates():
    loader = DataLoader(Counting(small(4), sleep=0.01), batch_size=2, prefetch=False)
    list(loader)
    assert loader.wait_seconds >= 0.04
    before = loader.wait_seconds
    list(loader)
    assert loader.wait_seconds >= before + 0.04


# ----------------------------------------------------------------------------- real data

@needs_facades
def test_real_facades_train_item():
    ds = AlignedDataset(FACADES, "train")
    assert len(ds) == 400
    item = ds.get(0, rng=np.random.default_rng(0))
    assert item["A"].shape == item["B"].shape == (3, 256, 256)
    assert item["A"].dtype == np.float32
    # BtoA: the input A is the label map, which is mostly saturated blue (the wall class).
    a_mean, b_mean = item["A"].mean(axis=(1, 2)), item["B"].mean(axis=(1, 2))
    assert a_mean[2] - a_mean[0] > 0.5
    assert abs(b_mean[2] - b_mean[0]) < 0.5
    val = AlignedDataset(FACADES, "val", train=False)
    assert len(val) == 100 and val.get(0)["A"].shape == (3, 256, 256)


@needs_facades
def test_real_facades_scan_is_fast():
    t0 = time.perf_counter()
    paths = scan_dataset(FACADES, "train")
    elapsed = time.perf_counter() - t0
    assert len(paths) == 400 and paths[0].name == "1.jpg" and paths[9].name == "10.jpg"
    assert elapsed < 5.0, f"scanning 400 files took {elapsed:.1f} s"


# ----------------------------------------------------------------------------- download

def make_tar(path, members):
    """members: list of (name, bytes or None for a directory)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def jpeg_bytes(index):
    buf = io.BytesIO()
    make_ab_image(index, size=32).save(buf, format="JPEG")
    return buf.getvalue()


def test_download_offline_message(tmp_path, capsys):
    root = tmp_path / "datasets"
    code = download.main(["facades", "--dataroot", str(root),
                          "--url", "http://127.0.0.1:9/facades.tar.gz"])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed" in err and "reason:" in err and "127.0.0.1:9" in err
    assert str(root / "facades" / "train") in err and "photo on the left" in err
    assert not (root / "facades").exists()
    assert list(root.glob("*.part")) == []


def test_download_from_file_url_extracts_dataset(tmp_path):
    archive = tmp_path / "facades.tar.gz"
    make_tar(archive, [("facades", None), ("facades/train", None),
                       ("facades/train/1.jpg", jpeg_bytes(0)),
                       ("facades/train/2.jpg", jpeg_bytes(1))])
    root = tmp_path / "datasets"
    code = download.main(["facades", "--dataroot", str(root), "--url", archive.as_uri()])
    assert code == 0
    assert len(AlignedDataset(root / "facades", "train", load_size=36, crop_size=32)) == 2
    assert sorted(p.name for p in root.iterdir()) == ["facades"]  # archive and scratch removed


@pytest.mark.parametrize("bad_name", ["../evil.txt", "/tmp/evil_abs.txt", "facades/../../evil.txt"])
def test_safe_extract_rejects_escaping_paths(tmp_path, bad_name):
    archive = tmp_path / "bad.tar.gz"
    make_tar(archive, [("facades/train/1.jpg", b"x"), (bad_name, b"evil")])
    dest = tmp_path / "out" / "inner"
    with pytest.raises(DataError, match="unsafe"):
        download.safe_extract(archive, dest)
    assert not dest.exists()  # checked before anything was written
    assert not (tmp_path / "out" / "evil.txt").exists()


def test_safe_extract_rejects_links(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("facades/link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match="links"):
        download.safe_extract(archive, tmp_path / "out")


def test_link_creates_symlink(tmp_path, capsys):
    source = tmp_path / "shared" / "facades"
    write_pairs(source / "train", ["1.png"], h=8)
    root = tmp_path / "datasets"
    assert download.main(["facades", "--dataroot", str(root), "--link-from", str(source)]) == 0
    assert (root / "facades").is_symlink()
    assert (root / "facades").resolve() == source.resolve()
    assert download.main(["facades", "--dataroot", str(root), "--link-from",
                          str(tmp_path / "missing")]) == 1
    assert "not a folder" in capsys.readouterr().err
