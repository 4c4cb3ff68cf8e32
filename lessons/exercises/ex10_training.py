"""Exercise 10.1 (lesson 10_training_on_facades.py): the paper's learning-rate schedule.

Grade it with:   python -m pytest --exercise 10.1
The library's version is ``pix2pix.training.schedule.linear_factor``.
"""


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
