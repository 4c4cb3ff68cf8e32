"""Image files are bounded before they are decoded (issue 24, item 8): a pixel limit far
below Pillow's 179 Mpx ceiling, tied to --load_size, and decoders from an allow-list
(never EPS, which would start Ghostscript)."""
import io
import struct
import subprocess
import sys
import zlib

import pytest
from PIL import EpsImagePlugin, Image

from pix2pix.data.datasets import build_dataset
from pix2pix.data.images import DataError, load_image, pixel_limit, set_max_pixels
from pix2pix.data.synthetic import make_ab_image
from pix2pix.options.common import parse_train_options
from tests.paths import REPO


def jpeg_claiming(width, height):
    """A 631-byte 16x16 JPEG whose frame header (SOF0) claims width x height."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.fixture
def default_limit():
    set_max_pixels(pixel_limit(286))
    yield
    set_max_pixels(pixel_limit(286))


def test_a_small_jpeg_claiming_13000x13000_is_refused_before_decoding(tmp_path, default_limit,
                                                                      recwarn):
    path = tmp_path / "bomb.jpg"
    path.write_bytes(jpeg_claiming(13000, 13000))
    assert path.stat().st_size == 631
    with pytest.raises(DataError, match=r"13000x13000 is 169,000,000 pixels, more than the "
                                        r"limit of 2,617,472 .*--max_image_pixels"):
        load_image(path)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


PEAK = ("import resource, sys\n"
        "from pix2pix.data.images import DataError, load_image\n"
        "try:\n    load_image(sys.argv[1])\nexcept DataError as e:\n    print(e)\n"
        "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")


def peak_kib(path):
    out = subprocess.run([sys.executable, "-c", PEAK, str(path)], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert "Traceback" not in out.stderr and "Warning" not in out.stderr, out.stderr
    return int(out.stdout.split()[-1])


def png_of_zeros(path, width, height):
    """A grey PNG of zeros, compressed about 1000:1 (written row by row: the test itself
    never holds the image)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    squeeze, row, idat = zlib.compressobj(9), b"\0" * (width + 1), []
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width,
                     height, 8, 0, 0, 0, 0)) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("name", ["bomb.jpg", "bomb.png"])
def test_refused_images_cost_a_few_times_their_size(tmp_path, name):
    if name.endswith(".jpg"):
        (tmp_path / name).write_bytes(jpeg_claiming(13000, 13000))
    else:  # decodes fully (0.7 GB as grey + RGB), where the truncated JPEG stops early
        png_of_zeros(tmp_path / name, 13000, 13000)
    (tmp_path / "tiny.jpg").write_bytes(jpeg_claiming(16, 16))
    size_kib = (tmp_path / name).stat().st_size // 1024 + 1
    assert size_kib < 1024
    # 20 MiB: allocator noise between two runs of the same interpreter.
    assert peak_kib(tmp_path / name) <= (peak_kib(tmp_path / "tiny.jpg") + 4 * size_kib
                                         + 20 * 1024)


def test_an_eps_file_named_png_never_reaches_the_eps_decoder(tmp_path, monkeypatch):
    def opened(*args):
        raise AssertionError("the EPS decoder was used")
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", opened)
    path = tmp_path / "label.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 32\n")
    with pytest.raises(DataError, match="not a readable image"):
        load_image(path)


def test_max_image_pixels_and_load_size_set_the_limit(tmp_path, default_limit):
    (tmp_path / "train").mkdir()
    make_ab_image(0, size=64).resize((1200, 600)).save(tmp_path / "train" / "1.png")
    argv = ["--dataroot", str(tmp_path), "--preset", "cpu", "--load_size", "64",
            "--crop_size", "64", "--netG", "unet_64"]
    with pytest.raises(DataError, match="720,000 pixels, more than the limit of 131,072"):
        build_dataset(parse_train_options(argv)[0], "train", train=True)
    opt = parse_train_options(argv + ["--max_image_pixels", "720000"])[0]
    assert len(build_dataset(opt, "train", train=True)) == 1


@pytest.mark.parametrize("suffix", [".tif", ".tiff", ".ppm", ".webp", ".bmp"])
def test_the_ports_other_image_formats_are_read(tmp_path, suffix):
    path = tmp_path / f"pair{suffix}"
    make_ab_image(0, size=32).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    assert load_image(path, pair=True).size == (64, 32)
