"""Images, loss plots and HTML pages: sizes, pixels, files and links."""

import json

import numpy as np
import pytest
from PIL import Image

from pix2pix.evaluation import visualize as V


def solid(rgb, h=16, w=24):
    """A (3, h, w) image in [-1, 1] of one uint8 colour."""
    return np.broadcast_to(np.array(rgb, dtype=np.float64)[:, None, None] / 127.5 - 1, (3, h, w))


RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


# ----------------------------------------------------------------------------- images


def test_tensor_to_image_size_and_pixels():
    chw = np.full((3, 5, 7), -1.0)
    chw[0, 2, 3] = 1.0  # one red pixel at row 2, column 3
    image = V.tensor_to_image(chw)
    assert image.mode == "RGB" and image.size == (7, 5)  # PIL sizes are (width, height)
    assert image.getpixel((3, 2)) == (255, 0, 0)
    assert image.getpixel((0, 0)) == (0, 0, 0)


def test_tensor_to_image_accepts_batch_of_one_and_grey():
    assert V.tensor_to_image(np.zeros((1, 3, 4, 6))).size == (6, 4)
    grey = V.tensor_to_image(np.ones((1, 4, 6)))
    assert grey.mode == "L" and grey.getpixel((0, 0)) == 255


def test_save_image_round_trip(tmp_path):
    u8 = np.random.default_rng(0).integers(0, 256, size=(3, 8, 9))
    path = tmp_path / "sub" / "img.png"
    V.save_image(u8 / 127.5 - 1, path)
    back = np.asarray(Image.open(path))
    np.testing.assert_array_equal(back, np.transpose(u8, (1, 2, 0)))
    assert [p.name for p in path.parent.iterdir()] == ["img.png"]  # no temp file left


def test_failed_write_leaves_previous_file_intact(tmp_path):
    # A page refreshing mid-write must see the old file, never a truncated one.
    path = tmp_path / "index.html"
    path.write_text("old")

    def crash(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        V.atomic_write(path, crash)  # the writer every page and picture goes through
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_sample_grid_size_arithmetic_and_placement():
    h, w, pad, header = 16, 24, 4, 20
    rows = [(solid(RED), solid(GREEN), solid(BLUE))] * 2
    grid = V.sample_grid(rows, pad=pad, header_height=header)
    # 3 columns: 3*24 + 4*4 = 88 wide; 2 rows: 20 + 2*16 + 3*4 = 64 high.
    assert grid.size == (88, 64)
    # Centre of row 1 (second), column 2 (target): x = 4 + 2*28 + 12, y = 20 + 4 + 20 + 8.
    assert grid.getpixel((72, 52)) == BLUE
    assert grid.getpixel((4 + 12, 20 + 4 + 8)) == RED
    assert grid.getpixel((1, 30)) == (255, 255, 255)  # padding is white


def test_sample_grid_draws_titles_in_header():
    grid = np.asarray(V.sample_grid([(solid(RED), solid(GREEN), solid(BLUE))]))
    header = grid[:20]
    assert (header < 128).any()  # some dark text pixels
    blank = np.asarray(V.sample_grid([(solid(RED), solid(GREEN))], titles=("", "")))[:20]
    assert (blank == 255).all()


def test_sample_grid_empty_cell_and_errors():
    grid = V.sample_grid([(solid(RED), solid(GREEN), None)], pad=0, header_height=0)
    assert grid.getpixel((2 * 24 + 5, 5)) == (200, 200, 200)
    with pytest.raises(ValueError):
        V.sample_grid([(solid(RED), solid(GREEN, h=8), solid(BLUE))])  # mixed sizes
    with pytest.raises(ValueError):
        V.sample_grid([(solid(RED), solid(GREEN))])  # 2 images, 3 titles


def test_save_sample_grid_writes_png(tmp_path):
    path = tmp_path / "grid.png"
    V.save_sample_grid([(solid(RED), solid(GREEN), solid(BLUE))], path)
    assert Image.open(path).size == (3 * 24 + 4 * 4, 20 + 16 + 2 * 4)


# ----------------------------------------------------------------------------- losses


def test_moving_average_by_hand():
    np.testing.assert_allclose(V.moving_average([1, 2, 3, 4, 5], 2), [1, 1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(V.moving_average([3, 1], 1), [3, 1])


def synthetic_log(path, n=300):
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        for i in range(n):
            record = {
                "epoch": i // 100, "iter": i % 100,  # per-epoch counter: restarts
                "G_GAN": 0.69 + 0.3 * rng.random(), "G_L1": 0.5 * np.exp(-i / 100),
                "D_real": 0.6 * rng.random(), "D_fake": 0.6 * rng.random(), "time": 0.01,
            }
            f.write(json.dumps(record) + "\n")


def test_plot_losses_from_jsonl(tmp_path):
    log = tmp_path / "loss_log.jsonl"
    synthetic_log(log)
    out = tmp_path / "plots" / "losses.png"
    V.plot_losses(log, out)
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (800, 600)
    assert out.stat().st_size < 300_000


def test_plot_losses_from_records_with_missing_keys(tmp_path):
    records = [{"iter": i, "G_L1": 1.0 / (i + 1)} for i in range(10)]  # no GAN terms at all
    V.plot_losses(records, tmp_path / "l.png")
    assert Image.open(tmp_path / "l.png").size == (800, 600)
    with pytest.raises(ValueError):
        V.plot_losses([], tmp_path / "empty.png")


def test_iteration_axis_uses_global_iter_only_when_increasing():
    np.testing.assert_array_equal(V._iteration_axis([{"iter": 5}, {"iter": 9}]), [5, 9])
    np.testing.assert_array_equal(V._iteration_axis([{"iter": 1}, {"iter": 0}]), [1, 2])


# ----------------------------------------------------------------------------- HTML


def test_write_run_page(tmp_path):
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "latest.png").write_bytes(b"png")
    path = V.write_run_page(
        tmp_path, "run <1> & co", [("samples", "samples/latest.png"), ("losses", "loss.png")],
        table={"epoch": 3, "G_L1": 0.123456},
    )
    text = path.read_text()
    assert path == tmp_path / "index.html"
    assert 'http-equiv="refresh" content="60"' in text
    assert 'src="samples/latest.png?v=' in text  # cache-busted: the file exists
    assert 'src="loss.png"' in text
    assert "run &lt;1&gt; &amp; co" in text and "run <1>" not in text
    assert "<td>0.1235</td>" in text and "<td>3</td>" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html", "samples"]


def test_write_gallery_links_and_escaping(tmp_path):
    rows = [
        {"name": "a<b>&c", "input_png": "images/1_in.png", "output_png": "images/1 out.png",
         "target_png": "images/1_gt.png"},
        {"name": "plain", "input_png": "images/2_in.png", "output_png": "images/2_out.png",
         "target_png": None},
    ]
    path = V.write_gallery(tmp_path, rows, metrics={"ssim": 0.5})
    text = path.read_text()
    assert "a&lt;b&gt;&amp;c" in text and "a<b>" not in text
    assert 'src="images/1_in.png"' in text and 'src="images/1_gt.png"' in text
    assert 'src="images/1%20out.png"' in text  # URLs are percent-encoded
    assert "<td>n/a</td>" in text
    assert "<td>0.5</td>" in text
    assert "refresh" not in text
