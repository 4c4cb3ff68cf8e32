"""Graded tests for exercises 10.1 (the paper's linear learning-rate schedule) and 10.2
(D's loss in one training step, G's output detached).

The ``implementation`` fixture gives the library's ``linear_factor`` or
``discriminator_loss``, or with ``python -m pytest --exercise 10.1`` (10.2) the student's.
10.1's oracle is the schedule built by stepping epoch by epoch (1 while constant, then minus
one equal step per epoch), not the closed form under test. 10.2's oracle is the loss
written out in NumPy on D's logits (BCE as log(1 + e^a) - t a, least squares as (a - t)^2),
and finite differences of the loss for D's gradients.
"""
import numpy as np
import pytest

import nn
from nn.gradcheck import gradcheck_direction
from pix2pix.models import define_D

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


# ---------------------------------------------------------------- 10.2: discriminator_loss
C_IN, C_OUT = 2, 3          # different channel counts: a pair in the wrong order is caught


class TinyStep:
    """One training step's pieces, tiny: a one-conv G (C_IN -> C_OUT), a PatchGAN D with
    batch norm (n_layers_D 1, ndf 2) on (2, C, 8, 8) images, fake_B = G(real_A) attached
    to G's graph; on ``device`` in ``dtype``."""

    def __init__(self, conditional=True, device="cpu", dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.G = nn.Conv2d(C_IN, C_OUT, kernel_size=3, padding=1,
                           generator=np.random.default_rng([seed, 1])).to(device)
        self.D = define_D("n_layers", C_IN + C_OUT if conditional else C_OUT, ndf=2,
                          n_layers_D=1, seed=seed).to(device)
        for p in [*self.G.parameters(), *self.D.parameters()]:
            p.data = p.data.astype(dtype)

        def image(channels):
            values = rng.uniform(-1, 1, (2, channels, 8, 8)).astype(dtype)
            return nn.Tensor(nn.to_device(values, device))
        self.real_A, self.real_B = image(C_IN), image(C_OUT)
        self.fake_B = self.G(self.real_A)
        self.conditional = conditional

    def pair(self, image):
        """What D sees for ``image``, as an array: (A, image) along the channels, or image."""
        xp = nn.get_array_module(image.data)
        return xp.concatenate([self.real_A.data, image.data], axis=1) if self.conditional \
            else image.data

    def logits(self, image):
        """D's logits for ``image``'s pair, a float64 NumPy array (no graph)."""
        with nn.no_grad():
            return nn.to_numpy(self.D(nn.Tensor(self.pair(image))).data).astype(np.float64)

    def call(self, implementation, gan_mode="vanilla"):
        return implementation(self.D, self.real_A, self.real_B, self.fake_B, gan_mode,
                              self.conditional)


def bce(logits, target):
    """Mean BCE of sigmoid(logits) against ``target``, written stably: log(1 + e^a) - t a."""
    return float(np.mean(np.logaddexp(0.0, logits) - target * logits))


def device_of(xp):
    return "cpu" if xp is np else "cuda"


def as_float(tensor, what):
    assert isinstance(tensor, nn.Tensor) and tensor.shape == (), \
        f"{what} should be a 0-d Tensor, got {tensor!r}"
    return float(tensor.item())


@pytest.mark.exercise("10.2", "the loss and its two terms: 0.5 * (BCE(D(x, y), 1) + "
                              "BCE(D(x, G(x)), 0)), {kind} D")
@pytest.mark.parametrize("kind", ["conditional", "unconditional"])
def test_discriminator_loss_values(implementation, xp, kind):
    """Real pairs are scored against 1, fake pairs against 0, and the mean of the two is
    D's loss (the paper halves D's objective). The conditional D sees (x, y) and
    (x, G(x)) with the input first; the unconditional one y and G(x) alone."""
    step = TinyStep(kind == "conditional", device_of(xp))
    real, fake = bce(step.logits(step.real_B), 1.0), bce(step.logits(step.fake_B), 0.0)
    loss_D, loss_D_real, loss_D_fake = step.call(implementation)
    assert as_float(loss_D_real, "loss_D_real") == pytest.approx(real, rel=1e-5), \
        "loss_D_real: D's logits on the real pair(s), scored as real (target 1)"
    assert as_float(loss_D_fake, "loss_D_fake") == pytest.approx(fake, rel=1e-5), \
        "loss_D_fake: D's logits on the fake pair(s), scored as fake (target 0)"
    assert as_float(loss_D, "loss_D") == pytest.approx(0.5 * (real + fake), rel=1e-5), \
        "loss_D: the mean of the real and fake terms (the paper divides D's objective by 2)"


@pytest.mark.exercise("10.2", "gan_mode lsgan: least squares in place of BCE")
def test_discriminator_loss_follows_gan_mode(implementation):
    step = TinyStep()
    real = float(np.mean((step.logits(step.real_B) - 1.0) ** 2))
    fake = float(np.mean(step.logits(step.fake_B) ** 2))
    loss_D, loss_D_real, loss_D_fake = step.call(implementation, "lsgan")
    assert (as_float(loss_D_real, "loss_D_real"), as_float(loss_D_fake, "loss_D_fake")) == \
        pytest.approx((real, fake), rel=1e-5), "gan_mode 'lsgan' must reach gan_loss"
    assert as_float(loss_D, "loss_D") == pytest.approx(0.5 * (real + fake), rel=1e-5)


@pytest.mark.exercise("10.2", "no gradient reaches G: its output is detached")
def test_discriminator_loss_leaves_g_without_gradient(implementation, xp):
    """D's step must not train G: loss_D.backward() stops at G(x), every G parameter's
    .grad stays None, while every D parameter gets one."""
    step = TinyStep(device=device_of(xp))
    step.call(implementation)[0].backward()
    reached = [name for name, p in step.G.named_parameters() if p.grad is not None]
    assert not reached, f"D's loss gave G's {reached} a gradient: detach G's output first"
    missing = [name for name, p in step.D.named_parameters() if p.grad is None]
    assert not missing, f"D's parameters {missing} got no gradient from D's loss"


@pytest.mark.exercise("10.2", "D's gradients (both terms reach D)")
def test_discriminator_loss_gradients_of_d(implementation, xp):
    """backward's gradient for D's parameters against finite differences of the loss
    (float64, one random direction through all of them, two seeds)."""
    for seed in (0, 1):
        step = TinyStep(device=device_of(xp), dtype=np.float64, seed=seed)
        gradcheck_direction(lambda *params, step=step: step.call(implementation)[0],
                            list(step.D.parameters()), seed=seed)


class Recording(nn.Module):
    """A D that remembers what it was shown, in order."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        self.seen.append(nn.to_numpy(x.data).copy())
        return self.inner(x)


@pytest.mark.exercise("10.2", "D scores the fake pair first, then the real one (the port's order)")
def test_discriminator_loss_scores_fake_then_real(implementation):
    """The order matters to D's batch-norm running statistics: the official port's."""
    step = TinyStep()
    step.D = Recording(step.D)
    step.call(implementation)
    expected = [nn.to_numpy(step.pair(step.fake_B)), nn.to_numpy(step.pair(step.real_B))]
    assert len(step.D.seen) == 2, f"D was called {len(step.D.seen)} times, expected 2"
    for seen, want, name in zip(step.D.seen, expected, ("first: the fake", "second: the real")):
        assert seen.shape == want.shape and np.array_equal(seen, want), \
            f"D's {name} pair (input first, then the image)"


@pytest.mark.exercise("10.2", "the inputs left unchanged; the G step can still backpropagate")
def test_discriminator_loss_leaves_its_inputs_alone(implementation):
    """The values of x, y and G(x) stay, and G(x) stays in G's graph: the G step that
    follows (here: the mean of G(x)) still gives G a gradient."""
    step = TinyStep()
    before = [t.numpy().copy() for t in (step.real_A, step.real_B, step.fake_B)]
    step.call(implementation)[0].backward()
    for tensor, values, name in zip((step.real_A, step.real_B, step.fake_B), before,
                                    ("real_A", "real_B", "fake_B")):
        assert np.array_equal(tensor.numpy(), values), f"{name}'s values were changed"
    assert step.fake_B.requires_grad, "fake_B.requires_grad was switched off: use detach()"
    step.fake_B.mean().backward()
    assert step.G.weight.grad is not None, "after D's loss, G's output no longer reaches G"
