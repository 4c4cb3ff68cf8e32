"""Exercise 1.1 (lesson 01_tensors_and_autograd.py): the multiply op.

Grade it with:   python -m pytest --exercise 1.1
The reference is ``nn.ops.arithmetic.Mul``; the tests that grade you are the ones marked
``@pytest.mark.exercise("1.1")`` in tests/ (x * x must get 2x; a gradient check with
broadcasting).
"""
from nn.ops.arithmetic import unbroadcast  # noqa: F401  (you will want it)
from nn.tensor import Function


class Mul(Function):
    """y = a * b, elementwise, with NumPy broadcasting.

    a, b: arrays of broadcast-compatible shapes, e.g. (2, 3) and (3,), or
    (1, C, 1, 1) and (N, C, H, W) -> y: the broadcast shape.

    Backward, given grad = dL/dy (the broadcast shape):
        dL/da = grad * b,   dL/db = grad * a,
    each summed back to its input's shape with ``unbroadcast(g, shape)`` (an input that
    broadcasting stretched was used many times, so its gradient is a sum).
    ``ctx.needs_input_grad[i]`` says whether input i needs a gradient (return None if not).
    a and b may be the same tensor (x * x): return a gradient for each input anyway; the
    tape adds them.
    """

    @staticmethod
    def forward(ctx, a, b):
        # Save what backward needs with ctx.save_for_backward(...), return a * b.
        raise NotImplementedError("Exercise 1.1")

    @staticmethod
    def backward(ctx, grad):
        # Return (grad_a, grad_b).
        raise NotImplementedError("Exercise 1.1")
