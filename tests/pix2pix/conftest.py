"""Fixtures of the robustness tests (helpers: tests/pix2pix/robustness.py)."""
import pytest

from tests.pix2pix.robustness import train


@pytest.fixture
def no_loss_plots(monkeypatch):
    """No loss plot (matplotlib is slow on a busy CPU). A module that trains many tiny
    runs asks for it with ``pytestmark = pytest.mark.usefixtures("no_loss_plots")``."""
    monkeypatch.setattr("pix2pix.training.loop.plot_losses", lambda *args, **kwargs: None)


@pytest.fixture
def trained(tmp_path, no_loss_plots):
    """A run folder with a 2-iteration latest.npz; returns its path."""
    assert train(tmp_path, "--max_iters", "2", "--max_dataset_size", "2") == 0
    return tmp_path / "run" / "latest.npz"
