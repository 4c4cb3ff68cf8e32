"""Exercise 2.1 (lesson 02_gradient_checking.py): the numerical gradient.

Grade it with:   python -m pytest --exercise 2.1
The library's version is ``nn.gradcheck.numerical_gradient``; ``nn.gradcheck.gradcheck``
compares it with every backward in the tests.
"""


def numerical_gradient(f, x, positions, eps=1e-6):
    """Exercise 2.1 (lesson 2, section 1). The derivative of f with respect to chosen
    elements of x, by centered differences (``gradcheck`` compares it with every backward).

    f: a function of no arguments returning a Python float; it reads the 1-D float64 array
        x, so changing x[i] in place changes f().
    x: the 1-D array to perturb; positions: a sequence of indices into x; eps: the step.
    Returns a float64 NumPy array with one entry per position: the estimate of
    df/dx[i] whose error shrinks like eps**2.
    When it returns, x must hold exactly its original values (bit for bit).
    Graded: values on functions with known derivatives, the eps**2 error, x restored,
    only the chosen positions evaluated.
    """
    raise NotImplementedError("Exercise 2.1")
