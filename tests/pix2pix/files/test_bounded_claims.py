"""Small files that claim big networks (issue 24, item 7): the test command builds G from a
checkpoint's saved options or a .pth's shapes, so both are checked against the file's size
and the memory budget first. Each refusal is one line, and its peak memory is measured in a
fresh interpreter: the interpreter's own plus a few times the file's size."""
import json
import resource
import subprocess
import sys

import numpy as np

from pix2pix.files.official import _block_prefix
from pix2pix.files.pth import save_pth
from tests.paths import REPO

PEAK = ("import resource, sys\n"
        "from pix2pix.evaluation.evaluate import main\n"
        "rc = main(sys.argv[1:])\n"
        "print('rc', rc, 'peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
SLACK_KIB = 20 * 1024  # allocator noise between two runs of the same interpreter


def run_test_command(*args):
    """(return code, stderr, peak memory in KiB) of the test command in a fresh process."""
    result = subprocess.run([sys.executable, "-c", PEAK, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    words = result.stdout.split()
    return int(words[words.index("rc") + 1]), result.stderr, int(words[-1])


def meta_only_npz(path, padding=0, **options):
    """A checkpoint with meta and no weights (padding: bytes of an unused array): every
    claim is in the options."""
    meta = dict(format="pix2pix-from-scratch", version=1, epoch=1, epoch_iter=0,
                total_iters=1, weights_only=True,
                options={**dict(netG="unet_256", ngf=64, norm="batch", input_nc=3,
                                 output_nc=3), **options},
                dropout_rng=np.random.default_rng([0, 1]).bit_generator.state)
    np.savez(path, meta=np.array(json.dumps(meta)), padding=np.zeros(padding, np.uint8))
    return path


def zero_size_pth(path, ngf, num_downs=8):
    """An official-looking U-Net of zero-size tensors: its shapes claim ngf filters."""
    state = {f"{_block_prefix(d)}.model.{0 if d == 0 else 1}.weight":
             np.zeros((ngf, 3, 4, 0), np.float32) for d in range(num_downs)}
    state["model.model.3.weight"] = np.zeros((2 * ngf, 3, 4, 0), np.float32)
    save_pth(state, path)
    return path


def assert_refused_within_bounds(tmp_path, path, *expected):
    baseline = run_test_command("--checkpoint", tmp_path / "missing.npz",
                                "--results_dir", tmp_path / "r")
    rc, err, peak = run_test_command("--checkpoint", path, "--results_dir", tmp_path / "r")
    size_kib = path.stat().st_size // 1024 + 1
    assert peak <= baseline[2] + 4 * size_kib + SLACK_KIB, (peak, baseline[2], size_kib)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, err


def test_meta_only_checkpoint_claiming_ngf_192_is_refused_by_its_size(tmp_path):
    path = meta_only_npz(tmp_path / "ngf192.npz", ngf=192)
    assert path.stat().st_size < 3000
    assert_refused_within_bounds(tmp_path, path, f"{path} claims a generator unet_256 with "
                                 "ngf 192", "cannot be in its")


def test_ngf_100000_is_one_line_not_a_memory_error(tmp_path):
    path = meta_only_npz(tmp_path / "ngf100000.npz", ngf=100000)
    assert_refused_within_bounds(tmp_path, path, "ngf 100000", "cannot be in its")


def test_zero_size_pth_claiming_a_wide_unet_is_refused_by_its_size(tmp_path):
    path = zero_size_pth(tmp_path / "latest_net_G.pth", ngf=192)
    assert path.stat().st_size < 8000
    assert_refused_within_bounds(tmp_path, path, "claims a generator unet_256 with ngf 192")


def test_a_claim_beyond_the_memory_budget_is_refused_with_the_option_to_raise_it(tmp_path):
    # Padded so that its size could hold the weights: only the budget refuses it.
    path = meta_only_npz(tmp_path / "small.npz", padding=100_000, netG="unet_64", ngf=1)
    rc, err, _ = run_test_command("--checkpoint", path, "--memory_budget", "0.00001",
                                  "--results_dir", tmp_path / "r")
    assert rc == 2 and "more than the memory budget" in err and "--memory_budget" in err, err
