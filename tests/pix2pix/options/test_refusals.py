"""Options that cannot work are refused before any work, each with a one-line message
that names the option, the allowed range or the fix.
"""
import pytest

from pix2pix.training.loop import main
from tests.pix2pix.robustness import train

pytestmark = pytest.mark.usefixtures("no_loss_plots")


@pytest.mark.parametrize("args, fix", [
    (["--netG", "unet_64", "--crop_size", "64", "--load_size", "32"],
     "set --load_size >= crop_size"),
    (["--netG", "unet_256", "--crop_size", "64", "--load_size", "72"],
     "Use --netG unet_64 or --crop_size 256"),
    (["--device", "tpu"], "--device 'tpu' is unknown: use cpu or cuda"),
    (["--netG", "unet_33"], "unet_<size> with size a power of two"),
    (["--batch_size", "0"], "--batch_size must be >= 1, got 0"),
], ids=["crop>load", "netG-vs-crop", "device", "netG-name", "batch-size"])
def test_impossible_options_are_refused_before_any_work(tmp_path, args, fix):
    """Refused by option checking alone: the dataset (missing here) is never looked at."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataroot", str(tmp_path / "missing"), "--checkpoints_dir", str(tmp_path / "ck"),
              *args])
    message = str(exit_info.value.code)
    assert message.startswith("error: ")
    assert fix in message
    assert "dataset folder not found" not in message
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--lr", "-1", "--lr must be > 0, got -1"),
    ("--lr", "0", "--lr must be > 0, got 0"),
    ("--beta1", "1.5", "--beta1 must be >= 0 and < 1, got 1.5"),
    ("--lambda_L1", "-1", "--lambda_L1 must be >= 0, got -1"),
    ("--ngf", "0", "--ngf must be >= 1, got 0"),
    ("--seed", "-1", "--seed must be >= 0 and <= 4294967295, got -1"),
    ("--load_size", "0", "--load_size must be >= 1, got 0"),
    ("--n_epochs_decay", "-1", "--n_epochs_decay must be >= 0, got -1"),
    ("--num_samples", "0", "--num_samples must be >= 1, got 0"),  # the grid needs a row
])
def test_out_of_range_options_are_refused_up_front(tmp_path, option, value, message):
    with pytest.raises(SystemExit) as info:
        train(tmp_path, option, value)
    assert message in str(info.value)
    assert not (tmp_path / "run").exists()


def test_nothing_to_train_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="nothing to train"):
        train(tmp_path, "--n_epochs", "0", "--n_epochs_decay", "0")
