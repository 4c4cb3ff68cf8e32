"""Exercise 6b.1 (lesson 06b_optimisation.py): one Adam step.

Grade it with:   python -m pytest --exercise 6b.1
The library's version is ``nn.optim.adam_step_reference``; ``nn.optim.Adam`` computes the
same numbers in place.
"""
from nn.backend import get_array_module  # noqa: F401  (NumPy or CuPy, like x)


def adam_step_reference(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                        eps=1e-8):
    """Exercise 6b.1 (lesson 6b, sections 4 and 5). One Adam step (Kingma & Ba 2015,
    Algorithm 1) on plain arrays, as torch.optim.Adam computes it, the textbook way
    (``Adam`` computes the same numbers in place, tested equal; in a student release
    ``Adam`` calls this function).

    param, grad, exp_avg (the running mean of the gradient, m), exp_avg_sq (the running
    mean of its square, v): arrays of one shape, float32 or float64. step: t = 1 for the
    first update, 2 for the second, ... (m and v start at zero). betas = (beta1, beta2).
    Returns the new (param, exp_avg, exp_avg_sq) as new arrays; the inputs are unchanged.
    eps is added to the square root of the corrected second moment (PyTorch's place).
    Graded: several steps against torch's numbers, the first step's size, bias correction,
    inputs left unchanged, float32 kept float32, betas (0.5, 0.999) as pix2pix uses.
    """
    raise NotImplementedError("Exercise 6b.1")
