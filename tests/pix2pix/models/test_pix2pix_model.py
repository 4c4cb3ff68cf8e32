"""One pix2pix iteration (paper Sec. 3.3): a D step on the halved objective, then a G step
on the non-saturating GAN loss + lambda * L1, with D frozen.

The reference for each check is the iteration written out by hand on a copy of the model
(same weights, same dropout generator state), and, when torch is installed, PyTorch
running the official port's networks.
"""
import copy

import numpy as np
import pytest

import nn
import nn.functional as F
from pix2pix.data.synthetic import SyntheticFacades
from pix2pix.models.pix2pix_model import NonFiniteLossError, Pix2Pix, gan_loss

SIZE = 32
LOSS_NAMES = {"G_GAN", "G_L1", "D_real", "D_fake"}


def small_model(**kw):
    options = dict(netG=f"unet_{SIZE}", ngf=4, ndf=4, seed=0)
    options.update(kw)
    return Pix2Pix(**options)


def batch(n=1, seed=0):
    """(A, B): n synthetic label maps and photos, (n, 3, 32, 32) float32 in [-1, 1]."""
    data = SyntheticFacades(n=n, size=SIZE, seed=seed, train=False)
    items = [data.get(i) for i in range(n)]
    return np.stack([it["A"] for it in items]), np.stack([it["B"] for it in items])


def params(net):
    return [p.data.copy() for p in net.parameters()]


def record_gradients(monkeypatch, optimizer):
    """Snapshot every parameter's gradient when ``optimizer.step()`` is called."""
    seen = []
    step = optimizer.step

    def recording_step():
        seen.append([None if p.grad is None else p.grad.copy() for p in optimizer.params])
        step()

    monkeypatch.setattr(optimizer, "step", recording_step)
    return seen


def np_bce_with_logits(x, target):
    return float(np.mean(np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))))


def assert_grads_close(actual, expected, rtol=1e-5):
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-7 * np.abs(e).max(),
                                   err_msg=f"parameter {i}")


# --- the four losses and what a step changes -------------------------------------------

def test_train_step_returns_the_four_losses_and_updates_both_networks():
    model = small_model()
    A, B = batch()
    G_before, D_before = params(model.netG), params(model.netD)
    losses = model.train_step(A, B)
    assert set(losses) == LOSS_NAMES
    assert all(isinstance(v, float) and np.isfinite(v) for v in losses.values())
    # At the start D guesses: each BCE is near log 2; L1 is lambda * mean |G(x) - y|.
    for name in ("D_real", "D_fake", "G_GAN"):
        assert 0.3 < losses[name] < 1.5, name
    assert losses["G_L1"] > 1
    for name, before, net in (("G", G_before, model.netG), ("D", D_before, model.netD)):
        changed = [not np.array_equal(b, p.data) for b, p in zip(before, net.parameters())]
        assert all(changed), f"{name}: parameters {np.flatnonzero(~np.array(changed))} unchanged"


def reference_iteration(model, A, B):
    """The paper's iteration written out on a deep copy of ``model``.

    Returns (losses, D gradients, G gradients) computed from scratch; the copy's dropout
    generator is in the same state, so G draws the same masks.
    """
    m = copy.deepcopy(model)
    A, B = nn.Tensor(A), nn.Tensor(B)
    pair = (lambda y: F.cat([A, y], dim=1)) if m.conditional_D else (lambda y: y)
    fake = m.netG(A)

    logits_fake = m.netD(pair(nn.Tensor(fake.data)))  # a constant: no gradient reaches G
    logits_real = m.netD(pair(B))
    loss_fake = F.binary_cross_entropy_with_logits(logits_fake, 0.0)
    loss_real = F.binary_cross_entropy_with_logits(logits_real, 1.0)
    losses = {"D_fake": np_bce_with_logits(logits_fake.data, 0.0),
              "D_real": np_bce_with_logits(logits_real.data, 1.0)}
    ((loss_fake + loss_real) * 0.5).backward()
    grads_D = [p.grad.copy() for p in m.netD.parameters()]
    assert all(p.grad is None for p in m.netG.parameters())
    m.optimizer_D.step()

    for p in m.netD.parameters():  # only G's gradient is wanted now
        p.grad = None
    logits = m.netD(pair(fake))
    loss_GAN = F.binary_cross_entropy_with_logits(logits, 1.0)
    l1 = float(np.mean(np.abs(fake.data - B.data)))
    losses["G_GAN"] = np_bce_with_logits(logits.data, 1.0)
    losses["G_L1"] = m.lambda_L1 * l1
    (loss_GAN + F.l1_loss(fake, B) * m.lambda_L1).backward()
    grads_G = [p.grad.copy() for p in m.netG.parameters()]
    return losses, grads_D, grads_G


@pytest.mark.parametrize("conditional", [True, False])
def test_step_matches_the_paper_written_out(monkeypatch, conditional):
    """Losses, D's gradient (of the HALVED objective) and G's gradient (GAN + lambda * L1,
    through the updated D) agree with the hand-written iteration."""
    model = small_model(conditional_D=conditional, seed=1)
    A, B = batch(2)
    expected, grads_D, grads_G = reference_iteration(model, A, B)
    seen_D = record_gradients(monkeypatch, model.optimizer_D)
    seen_G = record_gradients(monkeypatch, model.optimizer_G)
    losses = model.train_step(A, B)
    for name in LOSS_NAMES:
        assert losses[name] == pytest.approx(expected[name], rel=1e-5), name
    assert_grads_close(seen_D[0], grads_D)
    assert_grads_close(seen_G[0], grads_G)


def test_discriminator_objective_is_halved(monkeypatch):
    """D's gradient is that of 0.5 * (BCE_real + BCE_fake), not of the sum. (Adam hides a
    constant factor in its update, so the gradient itself is compared.)"""
    model = small_model(seed=2)
    A, B = batch()
    m = copy.deepcopy(model)
    fake = m.netG(nn.Tensor(A))
    pair = lambda y: F.cat([nn.Tensor(A), y], dim=1)  # noqa: E731
    (gan_loss(m.netD(pair(nn.Tensor(fake.data))), False)
     + gan_loss(m.netD(pair(nn.Tensor(B))), True)).backward()
    full = [p.grad for p in m.netD.parameters()]
    seen = record_gradients(monkeypatch, model.optimizer_D)
    model.train_step(A, B)
    assert_grads_close(seen[0], [0.5 * g for g in full])


def test_generator_loss_is_gan_plus_lambda_l1():
    model_a, model_b = small_model(lambda_L1=100.0, seed=3), small_model(lambda_L1=10.0, seed=3)
    A, B = batch()
    la, lb = model_a.train_step(A, B), model_b.train_step(A, B)
    # Same weights before the step, so the same G(x): the L1 term scales with lambda.
    assert la["G_L1"] == pytest.approx(10 * lb["G_L1"], rel=1e-6)
    expected, _, _ = reference_iteration(small_model(lambda_L1=100.0, seed=3), A, B)
    assert la["G_L1"] == pytest.approx(expected["G_L1"], rel=1e-5)


def test_discriminator_is_frozen_during_the_generator_step(monkeypatch):
    """G's backward passes through D but leaves D's gradients as D's own step left them,
    and D's step gives G no gradient (the fake is detached)."""
    model = small_model(seed=4)
    A, B = batch()
    seen_D = record_gradients(monkeypatch, model.optimizer_D)
    G_grads_at_D_step = []
    step_D = model.optimizer_D.step

    def step_D_and_look_at_G():
        G_grads_at_D_step.append([p.grad for p in model.netG.parameters()])
        step_D()

    monkeypatch.setattr(model.optimizer_D, "step", step_D_and_look_at_G)
    model.train_step(A, B)
    assert all(g is None for g in G_grads_at_D_step[0])
    for before, p in zip(seen_D[0], model.netD.parameters()):
        np.testing.assert_array_equal(p.grad, before)
    assert all(not p.requires_grad for p in model.netD.parameters())
    model.train_step(A, B)  # the next D step unfreezes it
    assert len(seen_D) == 2 and any(np.abs(g).sum() > 0 for g in seen_D[1])


def test_gan_mode_none_trains_only_g():
    model = small_model(gan_mode="none")
    assert model.netD is None and model.optimizer_D is None
    assert set(model.networks()) == {"G"} and set(model.optimizers()) == {"G"}
    A, B = batch()
    before = params(model.netG)
    losses = model.train_step(A, B)
    assert losses["G_GAN"] == losses["D_real"] == losses["D_fake"] == 0.0
    assert losses["G_L1"] > 1
    assert not np.array_equal(before[0], next(model.netG.parameters()).data)
    with pytest.raises(ValueError, match="lambda_L1"):
        small_model(gan_mode="none", lambda_L1=0)


def test_lsgan_uses_mean_squared_error():
    model = small_model(gan_mode="lsgan", seed=5)
    A, B = batch()
    m = copy.deepcopy(model)
    fake = m.netG(nn.Tensor(A)).data
    logits_fake = m.netD(nn.Tensor(np.concatenate([A, fake], axis=1))).data
    logits_real = m.netD(nn.Tensor(np.concatenate([A, B], axis=1))).data
    losses = model.train_step(A, B)
    assert losses["D_fake"] == pytest.approx(np.mean(logits_fake ** 2), rel=1e-5)
    assert losses["D_real"] == pytest.approx(np.mean((logits_real - 1) ** 2), rel=1e-5)
    vanilla = small_model(gan_mode="vanilla", seed=5).train_step(A, B)
    assert vanilla["D_fake"] != pytest.approx(losses["D_fake"], rel=1e-3)
    with pytest.raises(ValueError, match="vanilla"):
        small_model(gan_mode="wgan")


def test_unconditional_discriminator_sees_only_the_image():
    model = small_model(conditional_D=False, seed=6)
    assert model.netD.model[0].in_channels == 3
    A, B = batch()
    m = copy.deepcopy(model)
    fake = m.netG(nn.Tensor(A)).data
    expected_fake = np_bce_with_logits(m.netD(nn.Tensor(fake)).data, 0.0)
    expected_real = np_bce_with_logits(m.netD(nn.Tensor(B)).data, 1.0)
    losses = model.train_step(A, B)
    assert losses["D_fake"] == pytest.approx(expected_fake, rel=1e-5)
    assert losses["D_real"] == pytest.approx(expected_real, rel=1e-5)


def test_same_seed_same_losses():
    """Weights, dropout masks and everything else follow the seed: two models with the
    same seed give bit-identical losses; another seed gives others."""
    A, B = batch(2)
    a, b, c = small_model(seed=7), small_model(seed=7), small_model(seed=8)
    for _ in range(3):
        la, lb, lc = a.train_step(A, B), b.train_step(A, B), c.train_step(A, B)
        assert la == lb
        assert la != lc
    for pa, pb in zip(a.netG.parameters(), b.netG.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


@pytest.mark.parametrize("gan_mode, loss", [("vanilla", "D_real"), ("none", "G_L1")])
def test_non_finite_loss_is_named_by_the_one_read_back(gan_mode, loss):
    """The losses come back once per iteration, after both steps (one host sync on a
    GPU): a NaN is named then; the training loop stops and keeps the last good checkpoint
    (tests/pix2pix/training/test_faults.py)."""
    model = small_model(gan_mode=gan_mode)
    A, B = batch()
    B = B.copy()
    B[0, 0, 0, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match=f"{loss} is nan"):
        model.train_step(A, B)


def test_one_host_sync_per_iteration_and_only_the_batch_copied(strict_cupy):
    """Under the strict CuPy stand-in: one training iteration reads the device back once,
    and copies to it only the batch and the dropout masks (drawn on the host, so that a
    seed repeats a run on both devices)."""
    model = Pix2Pix(device="cuda", netG="unet_32", ngf=4, ndf=4, seed=0)
    A, B = batch()
    model.train_step(A, B)
    strict_cupy.reset_counts()
    losses = model.train_step(A, B)
    assert all(isinstance(v, float) for v in losses.values())
    assert sum(strict_cupy.counts.syncs.values()) == 1
    copies = strict_cupy.counts.host_to_device
    assert {site.split(":")[0] for site in copies} == {"pix2pix/models/pix2pix_model.py",
                                                        "nn/ops/activations.py"}
    dropouts = sum(isinstance(m, nn.Dropout) for m in model.netG.modules())
    assert copies.total() == 2 + dropouts         # A, B, and one mask per dropout layer


def test_learning_rate_reaches_both_optimisers():
    model = small_model()
    model.set_learning_rate(1e-5)
    assert model.optimizer_G.lr == model.optimizer_D.lr == 1e-5


@pytest.mark.slow
def test_overfits_one_image():
    """A small U-Net learns one 32x32 image: L1 drops below 20% of its start in 250 steps
    (with the paper's dropout on; lr 1e-3 to be quick)."""
    model = small_model(ngf=8, gan_mode="none", lr=1e-3)
    A, B = batch()
    first = model.train_step(A, B)["G_L1"]
    for _ in range(249):
        last = model.train_step(A, B)["G_L1"]
    assert last < 0.2 * first, (first, last)
    fake = nn.to_numpy(model.generate(A, eval_mode=False))
    assert np.mean(np.abs(fake - B)) < 0.25 * first / 100


# --- PyTorch as the oracle ----------------------------------------------------------------

@pytest.fixture
def torch_single_thread():
    """torch, on one thread: on a busy 2-core machine its thread pool spins for seconds on
    these tiny layers."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


def adam_first_step_tolerance(grad, lr=2e-4, eps=1e-8):
    """How far our weight may be from torch's after one Adam step.

    The first step moves a weight by lr * g / (|g| + eps): about lr wherever |g| is well
    above float32 noise, but for a gradient within rounding of 0 the direction itself is
    noise. So: 1e-6, plus up to lr where |g| is comparable to the gradient's rounding error
    (1e-5 of the layer's largest gradient).
    """
    noise = 1e-5 * np.abs(grad).max()
    return 1e-6 + lr * np.minimum(1.0, 2 * noise / (np.abs(grad) + eps))


@pytest.mark.needs_torch
@pytest.mark.parametrize("batch_size", [1, 2])
def test_one_iteration_matches_pytorch(monkeypatch, torch_single_thread, batch_size):
    """The official port's U-Net and PatchGAN in torch, holding our initial weights, run
    its optimize_parameters(); the four losses, both networks' gradients, and every
    updated weight and running statistic match ours to float32 precision."""
    torch = torch_single_thread
    from pix2pix.benchmarks import torch_peer as ref
    from pix2pix.files.official import ours_to_official, unet_key_map

    model = small_model(ngf=4, ndf=4, no_dropout=True, seed=9)
    A, B = batch(batch_size, seed=1)
    num_downs = model.netG.num_downs

    tG = ref.UnetGenerator(3, 3, num_downs, ngf=4, use_dropout=False)
    tD = ref.NLayerDiscriminator(6, ndf=4, n_layers=3)
    key_maps = {"G": unet_key_map(num_downs), "D": {}}

    for tnet, ours, key_map in ((tG, model.netG, key_maps["G"]), (tD, model.netD, {})):
        tnet.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                              ours_to_official(ours.state_dict(), key_map).items()})
        tnet.train()
    opt_G = torch.optim.Adam(tG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(tD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce, l1 = torch.nn.BCEWithLogitsLoss(), torch.nn.L1Loss()
    real_A, real_B = torch.from_numpy(A), torch.from_numpy(B)

    # optimize_parameters() of the port's pix2pix_model.py
    fake_B = tG(real_A)
    for p in tD.parameters():
        p.requires_grad_(True)
    opt_D.zero_grad()
    pred_fake = tD(torch.cat((real_A, fake_B), 1).detach())
    loss_D_fake = bce(pred_fake, torch.zeros_like(pred_fake))
    pred_real = tD(torch.cat((real_A, real_B), 1))
    loss_D_real = bce(pred_real, torch.ones_like(pred_real))
    ((loss_D_fake + loss_D_real) * 0.5).backward()
    opt_D.step()
    for p in tD.parameters():
        p.requires_grad_(False)
    opt_G.zero_grad()
    pred_fake = tD(torch.cat((real_A, fake_B), 1))
    loss_G_GAN = bce(pred_fake, torch.ones_like(pred_fake))
    loss_G_L1 = l1(fake_B, real_B) * 100.0
    (loss_G_GAN + loss_G_L1).backward()
    opt_G.step()

    seen = {"G": record_gradients(monkeypatch, model.optimizer_G),
            "D": record_gradients(monkeypatch, model.optimizer_D)}
    losses = model.train_step(A, B)
    torch_losses = {"D_fake": loss_D_fake.item(), "D_real": loss_D_real.item(),
                    "G_GAN": loss_G_GAN.item(), "G_L1": loss_G_L1.item()}
    for name in LOSS_NAMES:
        assert losses[name] == pytest.approx(torch_losses[name], rel=1e-5), name

    for name, tnet in (("G", tG), ("D", tD)):
        net, key_map = model.networks()[name], key_maps[name]
        t_params = dict(tnet.named_parameters())
        grads = {}
        for (key, p), ours_grad in zip(net.named_parameters(), seen[name][0]):
            t_grad = t_params[key_map.get(key, key)].grad.numpy()
            grads[key] = t_grad
            np.testing.assert_allclose(ours_grad, t_grad, rtol=1e-3,
                                       atol=1e-5 * np.abs(t_grad).max(), err_msg=f"{name} {key}")
        t_state = tnet.state_dict()
        for key, value in net.state_dict().items():
            theirs = t_state[key_map.get(key, key)].numpy()
            atol = adam_first_step_tolerance(grads[key]) if key in grads else 1e-6
            assert np.all(np.abs(value - theirs) <= atol + 1e-4 * np.abs(theirs)), \
                f"{name} {key}: max difference {np.abs(value - theirs).max():.3g}"
