"""The pix2pix model: a generator, a discriminator, their losses and one training step.

One iteration is paper Sec. 3.3: a gradient step on D with its objective halved, then one
on G with the non-saturating GAN loss plus lambda * L1.
"""
import contextlib
import inspect
import math

import numpy as np

import nn
import nn.functional as F
from pix2pix.models import define_D, define_G

GAN_MODES = ("vanilla", "lsgan", "none")


class NonFiniteLossError(FloatingPointError):
    """A loss or gradient became NaN or Inf: training cannot go on from here."""


def gan_loss(logits, target_is_real, gan_mode="vanilla"):
    """Mean over every patch of D's map: BCE with logits (vanilla) or least squares (lsgan).

    logits: (N, 1, H', W'); the target is 1 for real, 0 for fake.
    """
    target = 1.0 if target_is_real else 0.0
    if gan_mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if gan_mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown gan_mode {gan_mode!r}: use vanilla or lsgan")


### BEGIN SOLUTION 10.2
def discriminator_loss(netD, real_A, real_B, fake_B, gan_mode="vanilla", conditional=True):
    """Exercise 10.2 (lesson 10, section 2c). D's loss in one training step (paper Sec. 3.3):
    D learns to call the pair (input, target) real and the pair (input, G's output) fake,
    and its objective is divided by 2 (it slows D down relative to G).

    netD: the discriminator, a Module taking (N, C_D, H, W) and returning logits
    (N, 1, H', W'), one per patch. real_A: the input x, (N, C_in, H, W); real_B: the target
    y and fake_B: G(x), both (N, C_out, H, W); fake_B is still attached to G's graph (the G
    step uses it next). conditional=True: D sees a pair, input and image concatenated along
    the channels, input first (C_D = C_in + C_out); conditional=False: the image alone
    (C_D = C_out). Score D's logits with ``gan_loss(logits, target_is_real, gan_mode)``.
    D scores the fake pair first, then the real one (the official port's order, so that D's
    BatchNorm running statistics match it).
    Returns (loss_D, loss_D_real, loss_D_fake): 0-d Tensors; loss_D.backward() must give
    every parameter of D its gradient and leave G's parameters without one. The inputs are
    left as they were (the G step reuses fake_B and its graph).
    Graded: the value of the loss and of its two terms, the conditional and unconditional
    D, gan_mode lsgan, no gradient reaching G, D's gradients, the fake pair first, inputs
    left unchanged, on NumPy and CuPy.
    """
    fake_B = fake_B.detach()           # a new leaf: D's backward stops here, short of G
    fake_pair = F.cat([real_A, fake_B], dim=1) if conditional else fake_B
    real_pair = F.cat([real_A, real_B], dim=1) if conditional else real_B
    loss_D_fake = gan_loss(netD(fake_pair), False, gan_mode)
    loss_D_real = gan_loss(netD(real_pair), True, gan_mode)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake
### END SOLUTION


@contextlib.contextmanager
def paper_inference(G):
    """Run G as the paper does at test time (dropout on, BatchNorm on the test batch's
    statistics) without touching training state: running statistics are frozen
    (momentum 0) and the dropout generator is rewound afterwards. A process generates
    alone: synchronized batch norm uses this batch's statistics too."""
    norms = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    synced = [(m, m.allreduce) for m in norms if isinstance(m, nn.SyncBatchNorm2d)]
    generator = getattr(G, "dropout_generator", None)
    saved_state = generator.bit_generator.state if generator is not None else None
    was_training = G.training
    G.train()
    for m in norms:
        m.momentum = 0.0
    for m, _ in synced:
        m.allreduce = None
    try:
        with nn.no_grad():
            yield G
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for m, allreduce in synced:
            m.allreduce = allreduce
        if generator is not None:
            generator.bit_generator.state = saved_state
        G.train(was_training)


class Pix2Pix:
    """G, D, their Adam optimisers and the losses, on one device.

    Options (names of the official implementation): netG, netD, n_layers_D, ngf, ndf,
    norm, no_dropout, dropout_placement, no_skips, gan_mode ("none": L1 only, no D),
    lambda_L1, conditional_D, lr, beta1, input_nc, output_nc, seed, device, init_type,
    init_gain. These defaults are the paper's settings and the only copy of them: the
    command-line options take theirs from here (PIX2PIX_DEFAULTS).
    """

    def __init__(self, netG="unet_256", netD="basic", n_layers_D=3, ngf=64, ndf=64,
                 norm="batch", no_dropout=False, dropout_placement="paper", no_skips=False,
                 gan_mode="vanilla", lambda_L1=100.0, conditional_D=True, lr=2e-4, beta1=0.5,
                 input_nc=3, output_nc=3, seed=0, device="cpu", init_type="normal",
                 init_gain=0.02):
        if gan_mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {gan_mode!r}: use {', '.join(GAN_MODES)}")
        if gan_mode == "none" and lambda_L1 <= 0:
            raise ValueError("gan_mode 'none' with lambda_L1 = 0 leaves no loss to train")
        self.device = nn.check_device(device)
        self.gan_mode, self.lambda_L1, self.conditional_D = gan_mode, lambda_L1, conditional_D
        self.netG = define_G(netG, input_nc, output_nc, ngf, norm, not no_dropout, init_gain,
                             dropout_placement, skips=not no_skips, seed=seed,
                             init_type=init_type).to(device)
        self.optimizer_G = nn.Adam(self.netG.parameters(), lr=lr, betas=(beta1, 0.999))
        self.netD = self.optimizer_D = None
        if gan_mode != "none":
            d_input = input_nc + output_nc if conditional_D else output_nc
            self.netD = define_D(netD, d_input, ndf, n_layers_D, norm, init_gain, seed=seed,
                                 init_type=init_type).to(device)
            self.optimizer_D = nn.Adam(self.netD.parameters(), lr=lr, betas=(beta1, 0.999))
        # Data parallel (pix2pix/training/distributed.py sets it): (params, losses, net_name)
        # -> gradients and losses averaged over the processes, in place.
        self.average_gradients = None

    # --- the training step ----------------------------------------------------------------
    def _discriminate(self, real_A, image):
        """D's logits for (input, image) pairs, or for the image alone if unconditional."""
        pair = F.cat([real_A, image], dim=1) if self.conditional_D else image
        return self.netD(pair)

    def set_learning_rate(self, lr):
        for opt in (self.optimizer_G, self.optimizer_D):
            if opt is not None:
                opt.lr = lr

    def train_step(self, real_A, real_B):
        """One D step then one G step (paper Sec. 3.3), as the port's optimize_parameters.
        real_A: input (N, C_in, H, W); real_B: target (N, C_out, H, W).

        Returns the losses as floats: G_GAN, G_L1, D_real, D_fake (the GAN terms are 0
        with gan_mode "none", which has no D). They stay on the device until the end: the
        iteration reads them back, with the NaN/Inf check, in one host synchronisation.
        """
        real_A, real_B = self._as_tensor(real_A), self._as_tensor(real_B)
        fake_B = self.netG(real_A)                          # forward: G(x), (N, C_out, H, W)
        losses = {"D_real": 0.0, "D_fake": 0.0}
        if self.netD is not None:                           # D: zero grads, backward, step
            self.netD.requires_grad_(True)
            self.optimizer_D.zero_grad()
            losses.update(self.backward_D(real_A, real_B, fake_B))
            self._average_over_processes(self.optimizer_D, losses, "D")
            self.optimizer_D.step()
            self.netD.requires_grad_(False)                 # G's pass: no gradient for D
        self.optimizer_G.zero_grad()                        # G: zero grads, backward, step
        losses.update(self.backward_G(real_A, real_B, fake_B))
        self._average_over_processes(self.optimizer_G, losses, "G")
        self.optimizer_G.step()
        return self._read_back(losses)

    def backward_D(self, real_A, real_B, fake_B):
        """Backpropagate D's loss (discriminator_loss, exercise 10.2: no gradient reaches G).
        Returns {"D_real", "D_fake"}: 0-d arrays, still on the device."""
        loss_D, loss_D_real, loss_D_fake = discriminator_loss(
            self.netD, real_A, real_B, fake_B, self.gan_mode, self.conditional_D)
        loss_D.backward()
        return {"D_real": loss_D_real.data, "D_fake": loss_D_fake.data}

    def backward_G(self, real_A, real_B, fake_B):
        """Backpropagate G's loss: fool D (non-saturating: maximise log D(x, G(x))) +
        lambda * L1; with gan_mode "none" only the L1 term.
        Returns {"G_GAN", "G_L1"}: 0-d arrays, still on the device (G_GAN 0.0 without D)."""
        loss_G = loss_G_L1 = F.l1_loss(fake_B, real_B) * self.lambda_L1
        losses = {"G_GAN": 0.0, "G_L1": loss_G_L1.data}
        if self.netD is not None:
            loss_G_GAN = gan_loss(self._discriminate(real_A, fake_B), True, self.gan_mode)
            losses["G_GAN"] = loss_G_GAN.data
            loss_G = loss_G_GAN + loss_G_L1
        loss_G.backward()
        return losses

    def _average_over_processes(self, optimizer, losses, net_name):
        """Data parallel: this net's gradients and losses become their means over the
        processes (one all-reduce of a flat buffer), so every process takes the same step
        and the NaN guard (_read_back) decides the same everywhere. Nothing to do in one
        process."""
        if self.average_gradients is not None:
            self.average_gradients(optimizer.params, losses, net_name)

    def generate(self, real_A, eval_mode=False):
        """G(real_A) without a graph. Paper-style (dropout on, test-batch statistics) by
        default; eval_mode=True uses running statistics and no dropout."""
        real_A = self._as_tensor(real_A)
        if eval_mode:
            was_training = self.netG.training
            self.netG.eval()
            try:
                with nn.no_grad():
                    return self.netG(real_A).data
            finally:
                self.netG.train(was_training)
        with paper_inference(self.netG):
            return self.netG(real_A).data

    # --- helpers ----------------------------------------------------------------------------
    def _as_tensor(self, array):
        """A float32 tensor on the model's device (a float64 batch would run G and D in
        float64: twice the memory, a fraction of a GPU's speed)."""
        if isinstance(array, nn.Tensor):
            return array
        if nn.backend.device_of(array) == "cpu":
            array = np.asarray(array, dtype=np.float32)
        array = nn.to_device(array, self.device)
        return nn.Tensor(array if array.dtype == np.float32 else array.astype(np.float32))

    def _read_back(self, losses):
        """The iteration's one host synchronisation: the losses and each network's gradient
        total, stacked on the device and copied back together (on a GPU every read waits
        for the queue to drain). Raises NonFiniteLossError naming the first loss, or
        network's gradient, that is NaN or Inf; the steps were taken by then, so the
        networks are spoilt: the training loop stops and keeps the last good checkpoint."""
        on_device = {name: value for name, value in losses.items() if hasattr(value, "dtype")}
        for net_name, optimizer in self.optimizers().items():
            on_device[f"gradient of {net_name}"] = optimizer.gradient_total
        xp = nn.get_array_module(*on_device.values())
        read = dict(zip(on_device, nn.to_numpy(xp.stack(list(on_device.values()))).tolist()))
        for name, value in read.items():
            if not math.isfinite(value):
                raise NonFiniteLossError(f"loss {name} is {value}" if name in losses
                                         else f"a {name} is NaN or Inf")
        return {name: read.get(name, value) for name, value in losses.items()}

    def networks(self):
        """{"G": netG, "D": netD} (without D for gan_mode "none")."""
        nets = {"G": self.netG}
        if self.netD is not None:
            nets["D"] = self.netD
        return nets

    def optimizers(self):
        opts = {"G": self.optimizer_G}
        if self.optimizer_D is not None:
            opts["D"] = self.optimizer_D
        return opts


# {option: default} of Pix2Pix's constructor, for the parser (pix2pix.options.common).
PIX2PIX_DEFAULTS = {name: parameter.default
                    for name, parameter in inspect.signature(Pix2Pix).parameters.items()}
