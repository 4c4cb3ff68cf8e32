"""The demo's command line without a server: the port's pretrained models bring their
data set (examples, brush) and direction unless given."""
import pytest

from pix2pix.demo.__main__ import demo_parser, pretrained_defaults
from pix2pix.evaluation.evaluate import parse_test_options


def options(*argv):
    opt, given, _ = parse_test_options(list(argv), demo_parser())
    return opt, given, pretrained_defaults(opt, given)


@pytest.mark.parametrize("name, dataroot, direction", [
    ("map2sat_pretrained", "datasets/maps", "BtoA"),
    ("sat2map_pretrained", "datasets/maps", "AtoB"),
    ("edges2shoes_pretrained", "datasets/edges2shoes", "AtoB"),
    ("facades_label2photo_pretrained", "datasets/facades", "BtoA")])
def test_a_pretrained_name_brings_its_data_set_and_direction(name, dataroot, direction):
    opt, _, lines = options("--name", name)
    assert (opt.dataroot, opt.direction) == (dataroot, direction) and len(lines) == 1


def test_given_options_and_other_names_are_left_alone():
    opt, _, _ = options("--name", "map2sat_pretrained", "--dataroot", "my/maps",
                        "--direction", "AtoB")
    assert (opt.dataroot, opt.direction) == ("my/maps", "AtoB")
    assert options("--name", "facades_label2photo")[2] == []
