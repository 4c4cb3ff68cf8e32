"""Graded tests for exercise 10.1 (the paper's linear learning-rate schedule).

The ``implementation`` fixture gives the library's ``linear_factor``, or with
``python -m pytest --exercise 10.1`` the student's. The oracle is the schedule built by
stepping epoch by epoch (1 while constant, then minus one equal step per epoch), not the
closed form under test.
"""
import pytest

# (n_epochs, n_epochs_decay): the paper's facades run, the cpu preset's shape, small ones
SETTINGS = [(100, 100), (3, 5), (1, 1), (10, 0), (0, 4)]


def stepped_schedule(n_epochs, n_epochs_decay):
    """[factor of epoch 0, 1, ..., n_epochs + n_epochs_decay - 1], one step at a time: the
    official port's lambda_rule lowers the lr by 1 / (n_epochs_decay + 1) after each of the
    last n_epochs_decay epochs' starts."""
    factors, factor = [], 1.0
    for epoch in range(n_epochs + n_epochs_decay):
        if epoch >= n_epochs:
            factor -= 1.0 / (n_epochs_decay + 1)
        factors.append(factor)
    return factors


@pytest.mark.exercise("10.1", "1.0 for the first n_epochs")
@pytest.mark.parametrize("n_epochs, n_epochs_decay", [s for s in SETTINGS if s[0] > 0])
def test_linear_factor_constant_phase(implementation, n_epochs, n_epochs_decay):
    for epoch in range(n_epochs):
        assert implementation(epoch, n_epochs, n_epochs_decay) == 1.0, (
            f"epoch {epoch} of the constant phase (n_epochs = {n_epochs}) must train at the full lr")


@pytest.mark.exercise("10.1", "the official port's factor at every epoch")
@pytest.mark.parametrize("n_epochs, n_epochs_decay", SETTINGS)
def test_linear_factor_matches_the_port(implementation, n_epochs, n_epochs_decay):
    for epoch, expected in enumerate(stepped_schedule(n_epochs, n_epochs_decay)):
        got = implementation(epoch, n_epochs, n_epochs_decay)
        assert got == pytest.approx(expected, abs=1e-12), (
            f"epoch {epoch} (n_epochs {n_epochs}, n_epochs_decay {n_epochs_decay}): "
            f"factor {got}, expected {expected}")


@pytest.mark.exercise("10.1", "the paper's run: 1 until epoch 99, 100/101 at epoch 100, 1/101 at 199")
def test_linear_factor_paper_values(implementation):
    assert implementation(99, 100, 100) == 1.0
    assert implementation(100, 100, 100) == pytest.approx(100 / 101, abs=1e-12)
    assert implementation(199, 100, 100) == pytest.approx(1 / 101, abs=1e-12)


@pytest.mark.exercise("10.1", "the last epoch trains at 1 / (n_epochs_decay + 1), never 0")
@pytest.mark.parametrize("n_epochs, n_epochs_decay", [(100, 100), (3, 5), (1, 1)])
def test_linear_factor_last_epoch_not_zero(implementation, n_epochs, n_epochs_decay):
    last = implementation(n_epochs + n_epochs_decay - 1, n_epochs, n_epochs_decay)
    assert last == pytest.approx(1 / (n_epochs_decay + 1), abs=1e-12) and last > 0


@pytest.mark.exercise("10.1", "a float, also from int arguments")
def test_linear_factor_returns_float(implementation):
    got = implementation(1, 1, 1)
    assert isinstance(got, float), f"returned {type(got).__name__}, expected float"
    assert got == pytest.approx(0.5, abs=1e-12), "1 - 1/2 with integer division gives 1 or 0"
