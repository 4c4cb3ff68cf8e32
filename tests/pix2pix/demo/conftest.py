"""A tiny trained generator for the demo's tests: a 3-iteration unet_32 run (the paper's
dropout) on the synthetic facades, and a val folder of 3 A|B pairs for the examples."""
import pytest

from pix2pix.data.synthetic import save_synthetic
from pix2pix.training.loop import main as train_main


@pytest.fixture(scope="package")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    code = train_main(["--dataroot", "synthetic", "--netG", "unet_32", "--crop_size", "32",
                       "--load_size", "36", "--ngf", "4", "--ndf", "4", "--max_iters", "3",
                       "--checkpoints_dir", str(root / "ck"), "--name", "run", "--no_progress"])
    assert code == 0
    save_synthetic(root / "data" / "val", n=3, size=32, seed=1)
    return root


@pytest.fixture(scope="package")
def demo_args(workspace):
    """The demo's command line for the tiny run."""
    return ["--checkpoints_dir", str(workspace / "ck"), "--name", "run",
            "--dataroot", str(workspace / "data"), "--num_examples", "2"]
