"""Wrong solutions of 10.1 (the linear learning-rate schedule) and 10.2 (D's loss in one
training step)."""
import nn.functional as F
from pix2pix.models.pix2pix_model import gan_loss


def linear_factor_starts_late(epoch, n_epochs, n_epochs_decay):
    """Counts epoch - n_epochs: the decay starts one epoch late, and ends one step high."""
    return 1.0 - max(0, epoch - n_epochs) / float(n_epochs_decay + 1)


def linear_factor_reaches_zero(epoch, n_epochs, n_epochs_decay):
    """Divides by n_epochs_decay: the last epoch trains at lr 0 (a wasted epoch)."""
    return 1.0 - max(0, epoch + 1 - n_epochs) / max(n_epochs_decay, 1)


def linear_factor_integer_division(epoch, n_epochs, n_epochs_decay):
    """Integer division: the factor jumps from 1 to 0 instead of falling in steps."""
    return 1 - max(0, epoch + 1 - n_epochs) // (n_epochs_decay + 1)


def linear_factor_without_max(epoch, n_epochs, n_epochs_decay):
    """Forgets max(0, ...): the constant phase trains above the lr, up to 1 + n/(d+1)."""
    return 1.0 - (epoch + 1 - n_epochs) / float(n_epochs_decay + 1)


def _pairs(real_A, real_B, fake_B, conditional):
    """What a right solution shows D: (A, image) along the channels, or the image alone."""
    if not conditional:
        return fake_B, real_B
    return F.cat([real_A, fake_B], dim=1), F.cat([real_A, real_B], dim=1)


def _scored(netD, fake_pair, real_pair, gan_mode):
    """What a right solution does with the pairs: fake first, targets 0 and 1, halved."""
    loss_D_fake = gan_loss(netD(fake_pair), False, gan_mode)
    loss_D_real = gan_loss(netD(real_pair), True, gan_mode)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake


def discriminator_loss_without_detach(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                      conditional=True):
    """Forgets detach: D's backward runs on into G, which is then trained by D's loss too."""
    return _scored(netD, *_pairs(real_A, real_B, fake_B, conditional), gan_mode)


def discriminator_loss_labels_swapped(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                      conditional=True):
    """Real scored as fake and fake as real: D learns the opposite of its job."""
    fake_pair, real_pair = _pairs(real_A, real_B, fake_B.detach(), conditional)
    loss_D_fake = gan_loss(netD(fake_pair), True, gan_mode)
    loss_D_real = gan_loss(netD(real_pair), False, gan_mode)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake


def discriminator_loss_not_halved(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                  conditional=True):
    """The sum of the two terms: the paper's division by 2 is missing."""
    fake_pair, real_pair = _pairs(real_A, real_B, fake_B.detach(), conditional)
    loss_D_fake = gan_loss(netD(fake_pair), False, gan_mode)
    loss_D_real = gan_loss(netD(real_pair), True, gan_mode)
    return loss_D_fake + loss_D_real, loss_D_real, loss_D_fake


def discriminator_loss_without_the_input(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                         conditional=True):
    """Shows D the images alone even when it is conditional: the input x is never seen
    (a GAN, not a cGAN; the conditional D's first conv refuses the channel count)."""
    return _scored(netD, fake_B.detach(), real_B, gan_mode)


def discriminator_loss_image_first(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                   conditional=True):
    """Concatenates (image, input) instead of (input, image): D's first conv reads its
    channels in another order than the G step's pairs (and the port's weights)."""
    fake = fake_B.detach()
    fake_pair = F.cat([fake, real_A], dim=1) if conditional else fake
    real_pair = F.cat([real_B, real_A], dim=1) if conditional else real_B
    return _scored(netD, fake_pair, real_pair, gan_mode)


def discriminator_loss_detaches_the_logits(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                           conditional=True):
    """Detaches D's output on the fake pair instead of G's output: G gets nothing, but
    neither does D from the fake term (it only learns to call real pairs real)."""
    fake_pair, real_pair = _pairs(real_A, real_B, fake_B, conditional)
    loss_D_fake = gan_loss(netD(fake_pair).detach(), False, gan_mode)
    loss_D_real = gan_loss(netD(real_pair), True, gan_mode)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake


def discriminator_loss_switches_off_requires_grad(netD, real_A, real_B, fake_B,
                                                  gan_mode="vanilla", conditional=True):
    """"Detaches" by switching off fake_B.requires_grad in place: D's loss is right, but
    the G step that follows gets no gradient through G(x) at all."""
    fake_B.requires_grad = False
    return _scored(netD, *_pairs(real_A, real_B, fake_B, conditional), gan_mode)


def discriminator_loss_always_vanilla(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                      conditional=True):
    """Ignores gan_mode: --gan_mode lsgan still trains D with BCE."""
    fake_pair, real_pair = _pairs(real_A, real_B, fake_B.detach(), conditional)
    loss_D_fake = gan_loss(netD(fake_pair), False)
    loss_D_real = gan_loss(netD(real_pair), True)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake


def discriminator_loss_real_first(netD, real_A, real_B, fake_B, gan_mode="vanilla",
                                  conditional=True):
    """Scores the real pair first: the loss is right, but D's batch-norm running statistics
    are updated in another order than the port's."""
    fake_pair, real_pair = _pairs(real_A, real_B, fake_B.detach(), conditional)
    loss_D_real = gan_loss(netD(real_pair), True, gan_mode)
    loss_D_fake = gan_loss(netD(fake_pair), False, gan_mode)
    return (loss_D_fake + loss_D_real) * 0.5, loss_D_real, loss_D_fake


WRONG = {
    "10.1": [linear_factor_starts_late, linear_factor_reaches_zero,
             linear_factor_integer_division, linear_factor_without_max],
    "10.2": [discriminator_loss_without_detach, discriminator_loss_labels_swapped,
             discriminator_loss_not_halved, discriminator_loss_without_the_input,
             discriminator_loss_image_first, discriminator_loss_detaches_the_logits,
             discriminator_loss_switches_off_requires_grad,
             discriminator_loss_always_vanilla, discriminator_loss_real_first],
}
