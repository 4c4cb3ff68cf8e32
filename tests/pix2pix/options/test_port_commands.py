"""The official port's command lines and option names (deliverables 5-8): its pix2pix train
and test commands run unchanged on tiny data; every new option has its meaning or a
clear refusal; plain log lines; fine-tuning; latest saved every --save_latest_freq."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pix2pix.data.loader import DataLoader
from pix2pix.data.synthetic import make_ab_image, save_synthetic
from pix2pix.evaluation import evaluate as test_command
from pix2pix.files.checkpoint import read_checkpoint
from pix2pix.options.common import parse_train_options
from pix2pix.training.loop import main as train_main
from pix2pix.training.schedule import cosine_factor, plateau_factor, step_factor
from tests.paths import FIXTURES, REPO

ROOT = REPO  # the repository
TINY = ["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32", "--load_size", "36",
        "--ngf", "4", "--ndf", "4", "--n_epochs", "1", "--n_epochs_decay", "1",
        "--max_dataset_size", "3", "--num_samples", "1", "--no_progress"]


@pytest.fixture(autouse=True)
def no_loss_plots(monkeypatch):
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)


def train(tmp_path, *args, name="run"):
    return train_main([*TINY, "--checkpoints_dir", str(tmp_path / "ck"), "--name", name, *args])


def options(*args):
    return parse_train_options([*TINY, *args])


def error_of(*args):
    with pytest.raises(SystemExit) as info:
        options(*args)
    return str(info.value.code)


# ----------------------------------------------------------------------------- the port's lines

PORT_TRAIN = ("--dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --netG "
              "unet_256 --direction BtoA --lambda_L1 100 --dataset_mode aligned --norm batch "
              "--pool_size 0").split()
PORT_TEST = ("--dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --netG "
             "unet_256 --direction BtoA --dataset_mode aligned --norm batch").split()


@pytest.mark.slow
def test_the_ports_train_and_test_command_lines_run_unchanged(tmp_path):
    """scripts/train_pix2pix.sh and test_pix2pix.sh of the port, run from a folder laid out
    as the port's (datasets/facades/{train,val,test}); only sizes that keep the test short
    are appended (narrow networks, one iteration) and --gpu_ids -1 (the port's CPU)."""
    for split in ("train", "val", "test"):
        (tmp_path / "datasets" / "facades" / split).mkdir(parents=True)
        make_ab_image(0, size=256).save(tmp_path / "datasets" / "facades" / split / "1.jpg")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    small = ["--ngf", "2", "--ndf", "2", "--n_epochs", "1", "--n_epochs_decay", "0",
             "--gpu_ids", "-1", "--display_id", "0"]
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), *PORT_TRAIN, *small],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "direction: BtoA (given)" in done.stdout
    assert "--display_id accepted" in done.stdout
    assert "(epoch: 1, iters: 1," not in done.stdout  # --print_freq 100: no line yet
    assert "End of epoch 1 / 1" in done.stdout
    assert (tmp_path / "checkpoints" / "facades_pix2pix" / "latest.npz").exists()
    done = subprocess.run([sys.executable, str(ROOT / "test.py"), *PORT_TEST, "--gpu_ids", "-1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "results" / "facades_pix2pix" / "val_latest" / "index.html").exists()


# ----------------------------------------------------------------------------- option meanings

def test_gpu_ids_choose_the_device_or_are_refused():
    assert options("--gpu_ids", "-1")[0].device == "cpu"
    assert options("--gpu_ids", "0")[0].device == "cuda"
    # Several GPUs train with one process each: the answer is the command to run.
    line = f"mpiexec -n 2 python train.py {' '.join(TINY)} --gpu_ids 0,1 --name x"
    assert line in error_of("--gpu_ids", "0,1", "--name", "x")
    # Under mpiexec (2 processes), the list is the GPUs of the ranks.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PMI_SIZE", "2")
        assert options("--gpu_ids", "0,1")[0].device == "cuda"
    assert "CUDA_VISIBLE_DEVICES" in error_of("--gpu_ids", "2")
    assert "but --device cpu was given" in error_of("--gpu_ids", "0", "--device", "cpu")


@pytest.mark.parametrize("args, words", [
    (["--pool_size", "50"], "its image pool is for CycleGAN"),
    (["--pool_size", "-1"], "--pool_size must be >= 0"),
    (["--dataset_mode", "single"], "has no targets to train on"),
    (["--model", "test"], "--model test is for the test command"),
    (["--print_freq", "0"], "--print_freq must be >= 1"),
    (["--save_latest_freq", "0"], "--save_latest_freq must be >= 1"),
    (["--epoch_count", "0"], "--epoch_count must be >= 1"),
    (["--lr_decay_iters", "0"], "--lr_decay_iters must be >= 1"),
    (["--num_threads", "-1"], "--num_threads must be >= 0"),
    (["--init_gain", "0"], "--init_gain must be > 0"),
    (["--input_nc", "4"], "--input_nc must be 1 (grey) or 3"),
    (["--suffix", "{nothing}"], "is not an option name"),
    (["--model", "colorization", "--output_nc", "3"], "--output_nc 2 (L in, ab out)"),
], ids=lambda v: v[0] if isinstance(v, list) else None)
def test_refusals_say_why(args, words):
    message = error_of(*args)
    assert message.startswith("error: ") and words in message


def test_cycle_gan_is_not_a_choice(capsys):
    with pytest.raises(SystemExit):
        options("--model", "cycle_gan")
    assert "invalid choice: 'cycle_gan'" in capsys.readouterr().err


def test_display_options_get_one_line_and_suffix_extends_the_name():
    opt, notes = options("--display_id", "1", "--use_wandb", "--suffix", "{netG}_s{load_size}")
    assert [n for n in notes if "display" in n] == [
        "note: --display_id, --use_wandb accepted for the port's command lines; this project has "
        "no visdom/wandb display: it writes index.html, samples_latest.png, loss_plot.png and "
        "loss_log.jsonl in the run folder instead"]
    assert opt.name == "facades_label2photo_unet_32_s36"


@pytest.mark.parametrize("root, direction", [
    ("datasets/facades", "BtoA"), ("/data/cityscapes", "BtoA"), ("datasets/edges2shoes", "AtoB"),
    ("datasets/maps", "AtoB"), ("datasets/night2day", "AtoB"), ("my_own_pairs", "AtoB")])
def test_direction_follows_the_data_and_is_printed(root, direction):
    opt, notes = parse_train_options(["--dataroot", root])
    assert opt.direction == direction
    assert notes[-1].startswith(f"direction: {direction} (")


def test_colorization_sets_channels_and_direction():
    opt, notes = options("--model", "colorization")
    assert (opt.dataset_mode, opt.input_nc, opt.output_nc, opt.direction) == (
        "colorization", 1, 2, "AtoB")


def test_lr_policies_by_hand():
    assert [step_factor(e, 2) for e in range(5)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert [cosine_factor(e, 4) for e in range(5)] == pytest.approx(
        [1, (1 + 2 ** -0.5) / 2, 0.5, (1 - 2 ** -0.5) / 2, 0])
    # best 10 at epoch 0; 9.95 is not 1 % better; after 6 bad epochs (patience 5): x0.2
    assert plateau_factor([10] + [9.95] * 5) == 1.0
    assert plateau_factor([10] + [9.95] * 6) == pytest.approx(0.2)
    assert plateau_factor([10, 9, 8, 7, 6, 5, 4]) == 1.0


def test_serial_batches_and_num_threads_reach_the_loader(tmp_path, monkeypatch):
    seen = {}
    real_init = DataLoader.__init__

    def spy(self, *args, **kwargs):
        seen.update(kwargs)
        real_init(self, *args, **kwargs)
    monkeypatch.setattr(DataLoader, "__init__", spy)
    assert train(tmp_path, "--serial_batches", "--num_threads", "0", "--max_iters", "1") == 0
    assert seen["shuffle"] is False and seen["prefetch"] is False


@pytest.mark.parametrize("init_type", ["xavier", "kaiming", "orthogonal"])
def test_init_types_change_the_weights(tmp_path, init_type):
    from pix2pix.models import define_G
    before = define_G("unet_32", ngf=4).down[1].conv.weight
    w = define_G("unet_32", ngf=4, init_type=init_type).down[1].conv.weight  # (8, 4, 4, 4)
    flat = w.data.reshape(8, -1)                   # fan_in 64, fan_out 128
    if init_type == "xavier":
        assert flat.std() == pytest.approx(0.02 * np.sqrt(2 / (64 + 128)), rel=0.15)
    elif init_type == "kaiming":
        assert flat.std() == pytest.approx(np.sqrt(2 / 64), rel=0.15)
    else:  # 8 orthogonal rows of length 64, times the gain
        np.testing.assert_allclose(flat @ flat.T, 0.02 ** 2 * np.eye(8), atol=1e-9)
    assert not np.allclose(before.data, w.data)


def test_verbose_prints_the_networks(tmp_path, capsys):
    assert train(tmp_path, "--verbose", "--max_iters", "1") == 0
    out = capsys.readouterr().out
    assert "parameters: G: " in out and "[G]" in out and "Conv2d(" in out


# ----------------------------------------------------------------------------- logging

def test_plain_lines_every_print_freq_and_an_epoch_summary(tmp_path, capsys):
    assert train(tmp_path, "--print_freq", "2") == 0                 # 2 epochs x 3 iterations
    out = capsys.readouterr().out.splitlines()
    lines = [l for l in out if l.startswith("(epoch: ")]
    assert [l.split(")")[0] for l in lines] == [
        "(epoch: 1, iters: 2, time: " + lines[0].split("time: ")[1].split(")")[0],
        "(epoch: 2, iters: 1, time: " + lines[1].split("time: ")[1].split(")")[0],
        "(epoch: 2, iters: 3, time: " + lines[2].split("time: ")[1].split(")")[0]]
    assert all(" G_GAN: " in l and " G_L1: " in l and " D_real: " in l and " D_fake: " in l
               for l in lines)
    summaries = [l for l in out if l.startswith("End of epoch")]
    assert len(summaries) == 2 and "mean G_GAN: " in summaries[0] and "ETA" in summaries[0]
    assert summaries[1].endswith("ETA 0s")


# ----------------------------------------------------------------------------- fine-tuning

def test_continue_from_a_weights_only_snapshot_fine_tunes(tmp_path, capsys):
    assert train(tmp_path, "--save_epoch_freq", "1", "--n_epochs_decay", "0") == 0
    snapshot = tmp_path / "ck" / "run" / "epoch_1.npz"
    assert read_checkpoint(snapshot)[0]["weights_only"]
    capsys.readouterr()
    assert train(tmp_path, "--continue_train", "--epoch", "1", "--n_epochs_decay", "1") == 0
    out = capsys.readouterr().out
    assert f"fine-tuning from the weights of {snapshot}" in out
    assert "both Adam optimisers start fresh; training continues at epoch 2" in out
    log = [json.loads(l) for l in (tmp_path / "ck" / "run" / "loss_log.jsonl").open()]
    assert [r["iter"] for r in log] == [1, 2, 3, 4, 5, 6]


def test_init_G_from_our_checkpoint_and_refusal_of_another_shape(tmp_path, capsys):
    assert train(tmp_path, "--max_iters", "2", name="first") == 0
    first = tmp_path / "ck" / "first" / "latest.npz"
    assert train(tmp_path, "--init_G", str(first), "--max_iters", "1", name="second") == 0
    assert "D and both optimisers start fresh" in capsys.readouterr().out
    assert train(tmp_path, "--init_G", str(first), "--ngf", "8", name="third") == 2
    assert "ngf: file 4, now 8" in capsys.readouterr().err


def test_init_G_from_official_weights(tmp_path, capsys, monkeypatch):
    from pix2pix.training import finetune as finetune
    loaded = {}
    real = finetune._load_official

    def spy(G, path, options):
        what = real(G, path, options)
        loaded.update({k: v.copy() for k, v in G.state_dict().items()})
        return what
    monkeypatch.setattr(finetune, "_load_official", spy)
    pth = FIXTURES / "tiny_official_unet.pth"   # unet_32, ngf 2
    assert train(tmp_path, "--init_G", str(pth), "--ngf", "2", "--max_iters", "1") == 0
    assert "the official port's weights" in capsys.readouterr().out
    from pix2pix.files.official import unet_key_map
    from pix2pix.files.pth import load_pth
    official = load_pth(pth)
    key_map = unet_key_map(5)
    assert len(key_map) == 39
    for ours, theirs in key_map.items():   # G as loaded, before its first step
        np.testing.assert_array_equal(loaded[ours], official[theirs])


def test_latest_every_save_latest_freq_and_exact_resume_from_mid_epoch(tmp_path):
    assert train(tmp_path, "--save_latest_freq", "2", "--save_by_iter", name="full") == 0
    mid = read_checkpoint(tmp_path / "ck" / "full" / "iter_2.npz")[0]
    assert (mid["epoch"], mid["epoch_iter"], mid["total_iters"]) == (0, 2, 2)
    assert (tmp_path / "ck" / "full" / "iter_4.npz").exists()
    # Resume a copy of the run from iter_2 (inside epoch 1): the same losses as the full run.
    import shutil
    shutil.copytree(tmp_path / "ck" / "full", tmp_path / "ck" / "cut")
    assert train(tmp_path, "--continue_train", "--load_iter", "2", name="cut") == 0

    def losses(name):
        return [{k: v for k, v in json.loads(l).items() if k not in ("time", "data")}
                for l in (tmp_path / "ck" / name / "loss_log.jsonl").open()]
    assert losses("cut") == losses("full") and len(losses("full")) == 6


# ----------------------------------------------------------------------------- the test command

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("port_test")
    save_synthetic(tmp / "data" / "val", n=2, size=64)
    args = [*TINY, "--checkpoints_dir", str(tmp / "ck"), "--name", "t", "--max_iters", "1",
            "--norm", "instance"]
    from unittest import mock
    with mock.patch("pix2pix.training.loop.plot_losses", lambda *a, **k: None):
        assert train_main(args) == 0
    return tmp


def run_test(trained, *args):
    return test_command.main(["--checkpoints_dir", str(trained / "ck"), "--name", "t", "--dataroot",
                      str(trained / "data"), "--results_dir", str(trained / "results"), *args])


def test_test_honours_crop_size_and_says_so(trained, capsys):
    assert run_test(trained, "--crop_size", "64") == 0
    out = capsys.readouterr().out
    assert "using --crop_size 64 (the checkpoint trained with 32)" in out
    assert "direction: BtoA (the checkpoint's)" in out
    image = Image.open(trained / "results" / "t" / "val_latest" / "images" / "1_output.png")
    assert image.size == (64, 64)


def test_test_load_size_and_aspect_ratio(trained, capsys):
    assert run_test(trained, "--load_size", "48", "--aspect_ratio", "2") == 0
    assert "resized to --load_size 48, then the centre 32x32" in capsys.readouterr().out
    image = Image.open(trained / "results" / "t" / "val_latest" / "images" / "1_output.png")
    assert image.size == (64, 32)


@pytest.mark.parametrize("args, words", [
    (["--direction", "AtoB"], "trained with --direction BtoA; omit --direction or pass BtoA"),
    (["--ngf", "8"], "trained with --ngf 4"),
    (["--norm", "batch"], "trained with --norm instance"),
])
def test_test_refuses_options_the_generator_cannot_take(trained, capsys, args, words):
    assert run_test(trained, *args) == 2
    assert words in capsys.readouterr().err


def test_test_dataset_mode_single_reads_the_dataroot_folder(trained, capsys):
    assert run_test(trained, "--model", "test", "--dataset_mode", "single", "--dataroot",
                    str(trained / "data" / "val")) == 0
    assert "generator: " in capsys.readouterr().out
    images = trained / "results" / "t" / "val_latest" / "images"
    assert (images / "1_output.png").exists()
