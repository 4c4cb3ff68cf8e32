"""Learning-rate policies of the official port (--lr_policy), as a factor of --lr per epoch.

epoch counts completed epochs from 0, so the factor of the first epoch is linear_factor(0, ...).
"""
import math


### BEGIN SOLUTION 10.1
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
    return 1.0 - max(0, epoch + 1 - n_epochs) / float(n_epochs_decay + 1)
### END SOLUTION


def step_factor(epoch, lr_decay_iters, gamma=0.1):
    """x gamma every lr_decay_iters epochs (the port's StepLR; its name says iters)."""
    return gamma ** (epoch // lr_decay_iters)


def cosine_factor(epoch, n_epochs):
    """Half a cosine from 1 to 0 over n_epochs (the port's CosineAnnealingLR, eta_min 0)."""
    return 0.5 * (1.0 + math.cos(math.pi * epoch / max(n_epochs, 1)))


def plateau_factor(epoch_means, factor=0.2, patience=5, threshold=0.01):
    """ReduceLROnPlateau (mode min, relative threshold) on the finished epochs' mean G_L1:
    x factor once the mean has not beaten the best by threshold for more than patience
    epochs, then counting again. epoch_means: [mean of epoch 0, mean of epoch 1, ...]."""
    scale, best, bad = 1.0, math.inf, 0
    for value in epoch_means:
        if value < best * (1 - threshold):
            best, bad = value, 0
        else:
            bad += 1
        if bad > patience:
            scale, bad = scale * factor, 0
    return scale


def lr_factor_for(opt, epoch, epoch_means=()):
    """The factor of --lr for ``epoch`` under opt.lr_policy."""
    policy = opt.lr_policy
    if policy == "linear":
        return linear_factor(epoch, opt.n_epochs, opt.n_epochs_decay)
    if policy == "step":
        return step_factor(epoch, opt.lr_decay_iters)
    if policy == "cosine":
        return cosine_factor(epoch, opt.n_epochs)
    if policy == "plateau":
        return plateau_factor(list(epoch_means)[:epoch])
    raise ValueError(f"unknown lr_policy {policy!r}")
