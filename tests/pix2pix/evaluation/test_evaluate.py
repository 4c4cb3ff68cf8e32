"""The test command (python -m pix2pix.test): outputs, gallery, metrics, and the two
inference modes (the paper's: dropout on and the test batch's statistics; --eval)."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

import nn
import pix2pix.evaluation.evaluate as evaluate
from pix2pix.data.synthetic import make_ab_image, save_synthetic
from pix2pix.models import define_G
from pix2pix.models.pix2pix_model import Pix2Pix, paper_inference
from tests.paths import FIXTURES
from tests.pix2pix.robustness import trained_workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A 3-iteration run (unet_32 with the paper's dropout) and a val folder of 3 pairs."""
    return trained_workspace(tmp_path_factory.mktemp("evaluate"), "data")


def run_test(workspace, results, *args):
    """Run the test command in-process on the val split; returns (exit code, output folder
    root)."""
    code = evaluate.main(["--checkpoints_dir", str(workspace / "ck"), "--name", "run",
                          "--dataroot", str(workspace / "data"), "--results_dir", str(results),
                          "--phase", "val", *args])
    return code, results / "run"


def read_png(path):
    return np.asarray(Image.open(path), dtype=np.int16)


def test_val_split_with_num_test(workspace, tmp_path):
    code, out = run_test(workspace, tmp_path, "--num_test", "2")
    assert code == 0
    out = out / "val_latest"
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        f"{i}_{kind}.png" for i in (1, 2) for kind in ("fake_B", "real_A", "real_B")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["eval_mode"] is False and metrics["phase"] == "val"
    assert 0 < metrics["l1"] < 2 and 0 <= metrics["lab_mean"] <= 1
    page = (out / "index.html").read_text()
    assert "images/2_fake_B.png" in page and "images/3_" not in page


def test_input_dir_writes_outputs_and_gallery_without_metrics(workspace, tmp_path):
    inputs = tmp_path / "my_labels"
    inputs.mkdir()
    for i, size in enumerate((32, 48)):  # any size: resized to the model's 32x32
        _, labels = (make_ab_image(i, size=size).crop(box)
                     for box in ((0, 0, size, size), (size, 0, 2 * size, size)))
        labels.save(inputs / f"facade{i}.png")
    (inputs / "notes.txt").write_text("not an image")
    code, out = run_test(workspace, tmp_path / "results", "--input_dir", str(inputs))
    assert code == 0
    out = out / "my_labels_latest"
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "facade0_fake.png", "facade0_real.png", "facade1_fake.png", "facade1_real.png"]
    assert read_png(out / "images" / "facade1_fake.png").shape == (32, 32, 3)
    assert not (out / "metrics.json").exists()
    page = (out / "index.html").read_text()
    assert "n/a" in page and "facade1_fake.png" in page


def outputs(folder):
    return {p.name: read_png(p) for p in sorted((folder / "images").glob("*_fake_B.png"))}


def test_paper_mode_uses_dropout_and_eval_mode_does_not(workspace, tmp_path):
    """Default: dropout on (noise z) and the test image's own statistics, so the seed
    changes the outputs; --eval: running statistics and no dropout, other outputs, and
    the seed does not matter."""
    results = {}
    for name, args in (("paper", []), ("paper_again", []), ("paper_seed1", ["--seed", "1"]),
                       ("eval", ["--eval"]), ("eval_seed1", ["--eval", "--seed", "1"])):
        code, out = run_test(workspace, tmp_path / name, *args)
        assert code == 0
        results[name] = outputs(out / "val_latest")
    assert len(results["paper"]) == 3

    def same(a, b):
        return all(np.array_equal(results[a][k], results[b][k]) for k in results[a])

    assert same("paper", "paper_again")  # the seed fixes the noise: repeatable
    assert not same("paper", "paper_seed1")
    assert same("eval", "eval_seed1")
    assert not same("paper", "eval")
    assert json.loads((tmp_path / "eval" / "run" / "val_latest" / "metrics.json")
                      .read_text())["eval_mode"] is True


def test_missing_checkpoint_is_a_clear_error(tmp_path, capsys):
    code = evaluate.main(["--checkpoints_dir", str(tmp_path), "--name", "nope",
                          "--results_dir", str(tmp_path / "results")])
    assert code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nope" / "latest.npz") in err and "train first" in err
    assert "Traceback" not in err


def test_bad_input_dir_is_a_clear_error(workspace, tmp_path, capsys):
    assert run_test(workspace, tmp_path, "--input_dir", str(tmp_path / "none"))[0] == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_test(workspace, tmp_path, "--input_dir", str(tmp_path / "empty"))[0] == 2
    assert "no images" in capsys.readouterr().err


# --- paper_inference: the paper's test-time G without side effects --------------------------

@pytest.mark.parametrize("training", [True, False])
def test_paper_inference_leaves_training_state_untouched(training):
    G = define_G("unet_32", ngf=4, seed=2).train(training)
    x = nn.Tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32))
    stats = {k: v.copy() for k, v in G.named_buffers()}
    rng_state = G.dropout_generator.bit_generator.state
    with paper_inference(G):
        assert G.training
        first = G(x).data
    with paper_inference(G):
        second = G(x).data
    np.testing.assert_array_equal(first, second)  # same masks: the generator was rewound
    assert G.dropout_generator.bit_generator.state == rng_state
    for k, v in G.named_buffers():
        np.testing.assert_array_equal(v, stats[k], err_msg=k)
    assert all(m.momentum == 0.1 for m in G.modules() if isinstance(m, nn.BatchNorm2d))
    assert G.training == training
    # and it was the paper's mode: dropout on, the batch's own statistics
    G.eval()
    with nn.no_grad():
        assert not np.allclose(first, G(x).data, atol=1e-3)


def test_generate_during_training_does_not_change_the_next_step():
    """The sample grid calls generate() between iterations; the run must go on exactly
    as if it had not."""
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)
    a, b = (Pix2Pix(netG="unet_32", ngf=4, ndf=4, seed=3) for _ in range(2))
    a.train_step(x, x), b.train_step(x, x)
    a.generate(x), a.generate(x, eval_mode=True)
    assert a.netG.training
    assert a.train_step(x, x) == b.train_step(x, x)


def test_each_image_gets_its_own_dropout_noise(workspace, tmp_path):
    """The same input twice: the paper's mode draws new dropout masks per image (different
    outputs); eval mode has no noise (identical outputs)."""
    inputs = tmp_path / "twins"
    inputs.mkdir()
    labels = make_ab_image(0, size=32).crop((32, 0, 64, 32))
    labels.save(inputs / "a.png")
    labels.save(inputs / "b.png")
    for flag, same in ((), False), (("--eval",), True):
        results = tmp_path / f"results{len(flag)}"
        code, out = run_test(workspace, results, "--input_dir", str(inputs), *flag)
        assert code == 0
        images = out / "twins_latest" / "images"
        a, b = read_png(images / "a_fake.png"), read_png(images / "b_fake.png")
        assert np.array_equal(a, b) == same


# --- the port's habits (issue 24, items 1, 2, 13) ----------------------------------------------

def test_the_default_phase_is_the_ports_test_and_a_missing_split_names_those_there(workspace,
                                                                                   tmp_path,
                                                                                   capsys):
    opt = evaluate.parse_test_options([])[0]
    assert (opt.phase, opt.num_test) == ("test", 50)
    code = evaluate.main(["--checkpoints_dir", str(workspace / "ck"), "--name", "run",
                          "--dataroot", str(workspace / "data"), "--results_dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err == (f"error: {workspace / 'data'} has no test/ split (--phase test); it has val: "
                   "pass e.g. --phase val\n")


def test_a_second_run_leaves_only_its_own_pictures(workspace, tmp_path):
    assert run_test(workspace, tmp_path, "--num_test", "3")[0] == 0
    images = tmp_path / "run" / "val_latest" / "images"
    (images / "my_notes.png").write_bytes(b"a file of the user's")
    assert run_test(workspace, tmp_path, "--num_test", "1")[0] == 0
    assert sorted(p.name for p in images.iterdir()) == [
        "1_fake_B.png", "1_real_A.png", "1_real_B.png", "my_notes.png"]


def test_nan_weights_are_refused_before_any_metric_is_written(workspace, tmp_path, capsys):
    arrays = nn.load(workspace / "ck" / "run" / "latest.npz")
    arrays["G.down.0.conv.weight"][0, 0, 0, 0] = np.nan
    nn.save(arrays, tmp_path / "diverged.npz")
    code = evaluate.main(["--checkpoint", str(tmp_path / "diverged.npz"), "--dataroot",
                          str(workspace / "data"), "--phase", "val", "--results_dir",
                          str(tmp_path / "results")])
    assert code == 2
    assert "G's down.0.conv.weight holds NaN or Inf" in capsys.readouterr().err
    assert not list((tmp_path / "results").rglob("metrics.json"))


def test_a_port_run_folder_given_as_name_is_used(workspace, tmp_path, capsys):
    """checkpoints/NAME/latest_net_G.pth, as the port's training leaves it."""
    port_run = tmp_path / "checkpoints" / "facades_pix2pix"
    port_run.mkdir(parents=True)
    shutil.copy(FIXTURES / "tiny_official_unet.pth", port_run / "latest_net_G.pth")
    save_synthetic(tmp_path / "data" / "test", n=1, size=32, seed=2)
    code = evaluate.main(["--checkpoints_dir", str(tmp_path / "checkpoints"), "--name",
                          "facades_pix2pix", "--dataroot", str(tmp_path / "data"),
                          "--results_dir", str(tmp_path / "results")])
    assert code == 0, capsys.readouterr().err
    assert (f"using the port's {port_run / 'latest_net_G.pth'} (there is no latest.npz)"
            in capsys.readouterr().out)
    assert (tmp_path / "results" / "facades_pix2pix" / "test_latest" / "images" /
            "1_fake_B.png").is_file()
