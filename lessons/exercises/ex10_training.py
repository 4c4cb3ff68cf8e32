"""Exercises 10.1 and 10.2 (lesson 10_training_on_facades.py): the paper's learning-rate
schedule and the discriminator's loss in one training step.

Grade them with:   python -m pytest --exercise 10.1   (and --exercise 10.2)
The library's versions are ``pix2pix.training.schedule.linear_factor`` and
``pix2pix.models.pix2pix_model.discriminator_loss``. Build 10.2 from the library's
functions (F.cat, gan_loss, Tensor.detach): autograd gives the backward.
"""
import nn.functional as F  # noqa: F401
from pix2pix.models.pix2pix_model import gan_loss  # noqa: F401


def linear_factor(epoch, n_epochs, n_epochs_decay):
    """Exercise 10.1 (lesson 10, section 2b). The paper's learning-rate schedule, as a
    factor of --lr: 1 for the first n_epochs, then a linear decay towards 0 over the next
    n_epochs_decay.

    epoch: the number of completed epochs (0 for the first), an int >= 0.
    Returns a float: 1.0 for epochs 0 .. n_epochs - 1; then it falls by the same step,
    1 / (n_epochs_decay + 1), every epoch, so the last epoch (n_epochs + n_epochs_decay - 1)
    trains at 1 / (n_epochs_decay + 1) of the lr, never at 0. The official port's
    lambda_rule, so that lrs match it epoch for epoch.
    Graded: constant phase, the port's values (100 + 100 epochs), equal steps, the last
    epoch's factor never 0, float arithmetic with int arguments.
    """
    raise NotImplementedError("Exercise 10.1")


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
    raise NotImplementedError("Exercise 10.2")
