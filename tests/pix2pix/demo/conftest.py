"""A tiny trained generator for the demo's tests: a 3-iteration unet_32 run (the paper's
dropout) on the synthetic facades, a val folder of 3 A|B pairs for the examples (in a
folder named facades, so the page offers the facade classes' brush), and the demo served
on a free local port."""
import socket

import pytest

from tests.pix2pix.robustness import trained_workspace


@pytest.fixture(scope="package")
def workspace(tmp_path_factory):
    return trained_workspace(tmp_path_factory.mktemp("demo"), "facades")


@pytest.fixture(scope="package")
def demo_args(workspace):
    """The demo's command line for the tiny run."""
    return ["--checkpoints_dir", str(workspace / "ck"), "--name", "run",
            "--dataroot", str(workspace / "facades"), "--num_examples", "2"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def server(demo_args, tmp_path_factory):
    """(url, translator, app): the demo of the tiny run, served on a free local port."""
    pytest.importorskip("gradio", reason='the demo needs Gradio: pip install -e ".[demo]"')
    from pix2pix.demo.__main__ import build
    from pix2pix.demo.app import launch

    app, translator, _ = build([*demo_args, "--seed", "5"], tmp_path_factory.mktemp("examples"))
    url = launch(app, port=free_port())
    yield url, translator, app
    app.close()
