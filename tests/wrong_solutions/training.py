"""Wrong solutions of 10.1 (the linear learning-rate schedule)."""


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


WRONG = {
    "10.1": [linear_factor_starts_late, linear_factor_reaches_zero,
             linear_factor_integer_division, linear_factor_without_max],
}
