"""The demo's translation (no Gradio): the test command's preprocessing, generator and
noise, the output at the input's size, colorization, and bounded inputs."""
import numpy as np
import pytest
from PIL import Image

from pix2pix.data.color import rgb_to_lab
from pix2pix.data.images import DataError
from pix2pix.data.synthetic import make_ab_image
from pix2pix.demo.translate import MAX_PIXELS, Translator
from pix2pix.evaluation import evaluate
from pix2pix.models import define_G
from tests.paths import FIXTURES


def translator_for(workspace, *args):
    opt, given, _ = evaluate.parse_test_options(
        ["--checkpoints_dir", str(workspace / "ck"), "--name", "run", *args])
    G, _ = evaluate.load_generator(opt, given)
    return Translator(G, opt, given)


def label_map(index, size=32):
    """The right half (labels) of a synthetic facade pair."""
    return make_ab_image(index, size=size, seed=7).crop((size, 0, 2 * size, size))


def run_test_command(workspace, tmp_path, image, *args):
    """What `python -m pix2pix.test --input_dir` writes for ``image``, as an array."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    image.save(folder / "label.png")
    assert evaluate.main(["--checkpoints_dir", str(workspace / "ck"), "--name", "run",
                          "--input_dir", str(folder), "--results_dir", str(tmp_path / "res"),
                          *args]) == 0
    return np.asarray(Image.open(tmp_path / "res" / "run" / "inputs_latest" / "images" /
                                 "label_fake.png"))




@pytest.mark.parametrize("args", [("--seed", "5"), ("--eval",)])
def test_equals_the_test_commands_output(workspace, tmp_path, args):
    image = label_map(0)
    expected = run_test_command(workspace, tmp_path, image, *args)
    ours = translator_for(workspace, *args).translate(
        image, paper_mode="--eval" not in args, seed=5)
    np.testing.assert_array_equal(np.asarray(ours), expected)


def test_paper_mode_noise_follows_the_seed(workspace):
    translator, image = translator_for(workspace), label_map(1)
    first, again, other = (np.asarray(translator.translate(image, True, seed), np.int16)
                           for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, again)          # the seed, not the call count
    assert np.abs(first - other).max() > 0                # another draw of the dropout masks
    eval_twice = [np.asarray(translator.translate(image, False, s)) for s in (1, 2)]
    np.testing.assert_array_equal(*eval_twice)            # eval mode ignores the seed


def test_output_has_the_inputs_size_and_depends_on_it(workspace):
    translator = translator_for(workspace)
    a, b = label_map(2, size=48).resize((60, 44)), label_map(3, size=48).resize((60, 44))
    out_a, out_b = translator.translate(a), translator.translate(b)
    assert out_a.size == (60, 44) and out_a.mode == "RGB"
    assert np.abs(np.asarray(out_a, np.int16) - np.asarray(out_b, np.int16)).mean() > 1


def test_a_huge_image_is_refused_before_resizing(workspace):
    side = int(MAX_PIXELS ** 0.5) + 1
    with pytest.raises(DataError, match="resize it below"):
        translator_for(workspace).translate(Image.new("L", (side, side)))


def test_colorization_keeps_the_photos_lightness():
    """A colorization G takes the photo's L and adds a, b: the output's lightness is the
    input's, whatever the (here untrained) network predicts."""
    class Options:
        netG, crop_size, load_size, preprocess = "unet_32", 32, 32, "resize_and_crop"
        dataset_mode, input_nc, output_nc, device = "colorization", 1, 2, "cpu"

    G = define_G("unet_32", input_nc=1, output_nc=2, ngf=4, seed=3)
    photo = make_ab_image(4, size=32).crop((0, 0, 32, 32))
    out = Translator(G, Options()).translate(photo, paper_mode=False)
    L_in, L_out = (rgb_to_lab(np.asarray(im))[..., 0] for im in (photo, out))
    assert np.abs(L_in - L_out).mean() < 2.0              # L in [0, 100]
    assert np.abs(rgb_to_lab(np.asarray(out))[..., 1:]).mean() > 0.1   # colour was added


def test_official_weights_run_with_the_architecture_read_off_the_file():
    """--checkpoint latest_net_G.pth (here the port's unet_32, ngf 2, saved by torch)."""
    opt, given, _ = evaluate.parse_test_options(
        ["--checkpoint", str(FIXTURES / "tiny_official_unet.pth")])
    G, _ = evaluate.load_generator(opt, given)
    out = Translator(G, opt, given).translate(label_map(5, size=64))
    assert opt.netG == "unet_32" and out.size == (64, 64)
