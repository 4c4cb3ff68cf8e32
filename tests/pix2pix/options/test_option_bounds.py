"""Options that size an allocation are checked before anything is built (issue 24, item 9):
each is refused at parse time with one line naming it and the way on."""
import numpy as np
import pytest

import nn
from pix2pix.evaluation.evaluate import parse_test_options
from pix2pix.models import define_D
from pix2pix.models.patchgan import smallest_input
from pix2pix.options.common import parse_train_options


def refusal(parse, argv):
    with pytest.raises(SystemExit) as caught:
        parse(argv)
    return str(caught.value)


@pytest.mark.parametrize("argv", [["--ngf", "100000"], ["--ndf", "200000"],
                                  ["--crop_size", "65536", "--load_size", "65536"],
                                  ["--load_size", "1000000"], ["--batch_size", "1000000"]],
                         ids=["ngf", "ndf", "crop_size", "load_size", "batch_size"])
def test_sizes_beyond_the_memory_budget_are_refused_at_parse_time(argv):
    message = refusal(parse_train_options, argv)
    assert "more than the memory budget" in message and "--memory_budget" in message, message


def test_the_papers_and_the_cpu_presets_sizes_fit_and_a_budget_option_lowers_the_limit():
    parse_train_options([])
    parse_train_options(["--preset", "cpu"])
    message = refusal(parse_train_options, ["--preset", "cpu", "--memory_budget", "0.01"])
    assert "more than the memory budget of 0.01 GiB" in message


@pytest.mark.parametrize("argv,expected", [
    (["--lr", "nan"], "--lr must be a finite number, got nan"),
    (["--lambda_L1", "inf"], "--lambda_L1 must be a finite number, got inf"),
    (["--init_gain", "inf"], "--init_gain must be > 0"),
    (["--memory_budget", "nan"], "--memory_budget must be a finite number")])
def test_non_finite_numbers_are_refused(argv, expected):
    assert expected in refusal(parse_train_options, argv)


@pytest.mark.parametrize("ratio", ["1e6", "1e-300", "inf", "nan", "0"])
def test_the_test_commands_aspect_ratio_is_bounded(ratio):
    message = refusal(parse_test_options, ["--aspect_ratio", ratio])
    assert message == (f"error: --aspect_ratio must be between 0.01 and 100.0 (the picture's "
                       f"width x ratio or height / ratio), got {float(ratio)}")


@pytest.mark.parametrize("suffix,why", [
    ("{seed:>999999999}", "a format spec or conversion"), ("{netG!r}", "a format spec"),
    ("{name.__class__}", "{name.__class__} is not an option name"),
    ("{0}", "{0} is not an option name"), ("{nosuch}", "{nosuch} is not an option name"),
    ("{netG", "expected '}'")])
def test_suffix_takes_plain_option_fields_only(suffix, why):
    assert why in refusal(parse_train_options, ["--suffix", suffix])


def test_suffix_with_option_fields_names_the_run():
    opt, _ = parse_train_options(["--name", "run", "--suffix", "{netG}_size{load_size}"])
    assert opt.name == "run_unet_256_size286"


# --- crop sizes G and D can take (issue 24, item 6) -------------------------------------------
@pytest.mark.parametrize("n_layers", [1, 2, 3, 4, 5])
def test_smallest_input_is_the_smallest_size_the_built_discriminator_takes(n_layers):
    D = define_D("n_layers", 6, 2, n_layers)
    size = smallest_input("n_layers", n_layers)
    assert D(nn.Tensor(np.zeros((1, 6, size, size), np.float32))).shape[2:] == (1, 1)
    with pytest.raises(ValueError):
        D(nn.Tensor(np.zeros((1, 6, size - 1, size - 1), np.float32)))


@pytest.mark.parametrize("crop,netG,smallest", [(4, "unet_4", 24), (8, "unet_8", 24),
                                                (16, "unet_16", 32)])
def test_crops_too_small_for_the_patchgan_are_refused_with_one_that_works(crop, netG, smallest):
    argv = ["--crop_size", str(crop), "--load_size", str(crop), "--netG", netG]
    assert refusal(parse_train_options, argv) == (
        f"error: --crop_size {crop} is too small for --netD basic: its output would be empty; "
        f"the smallest --crop_size that works is {smallest}")
    fixed = ["--crop_size", str(smallest), "--load_size", str(smallest), "--netG", netG]
    assert parse_train_options(fixed)[0].crop_size == smallest


def test_the_crop_hint_names_a_generator_that_exists():
    message = refusal(parse_train_options, ["--crop_size", "96", "--load_size", "96"])
    assert message.endswith("Use --netG unet_32 or --crop_size 256")  # not unet_96
    parse_train_options(["--crop_size", "96", "--load_size", "96", "--netG", "unet_32"])
