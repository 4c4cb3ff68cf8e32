"""Exercises 1.1 and 1.2 (lesson 01_tensors_and_autograd.py): an op and the tape.

Grade them with:   python -m pytest --exercise 1.1      (and --exercise 1.2)
The library's versions are ``nn.ops.arithmetic.MulFunction`` and ``nn.tensor.backpropagate``
(these stubs are generated from them: ``python -m lessons.release --stubs``).
Stuck? Lesson 1 derives both and has tiered hints after each derivation.
"""
from nn.ops.arithmetic import unbroadcast  # noqa: F401  (sums a gradient back to a shape)
from nn.tensor import Function, _topological_order  # noqa: F401  (given, for 1.2)


class MulFunction(Function):
    """Exercise 1.1 (lesson 1, section 7). y = a * b, elementwise, with NumPy broadcasting.

    forward(ctx, a, b): a, b arrays of broadcast-compatible shapes, e.g. (2, 3) and (3,),
        or (1, C, 1, 1) and (N, C, H, W) -> y with the broadcast shape. Save what backward
        needs with ctx.save_for_backward(...); it comes back as ctx.saved.
    backward(ctx, grad): grad = dL/dy (the broadcast shape) -> (dL/da, dL/db), each with
        exactly its input's shape and dtype (``unbroadcast`` sums a gradient back to a
        shape). Return None for an input whose ``ctx.needs_input_grad[i]`` is False. a and
        b may be the same tensor (x * x): return a gradient for each argument anyway.
    Graded: forward values, both gradients (float64, random upstream), broadcasting in
    either argument, x * x, float32 kept float32.
    """

    @staticmethod
    def forward(ctx, a, b):
        raise NotImplementedError("Exercise 1.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 1.1")


def backpropagate(root, grad, retain_graph=False):
    """Exercise 1.2 (lesson 1, sections 3, 4 and 6). The tape behind ``Tensor.backward``.

    root: the Tensor backward starts from (it requires grad); grad: d(loss)/d(root), an
    array of root's shape. Every tensor made by an op has ``_op`` (its Function class),
    ``_ctx`` (the Context its forward filled) and ``_parents`` (its inputs, None for a
    non-tensor argument); a leaf has ``_op`` None.

    Call each op's backward exactly once, after every op that used its output has passed
    its gradient back: ``_topological_order(root)`` (given) lists the nodes, each after its
    inputs. Give each leaf that requires grad the gradient of the loss with respect to it
    in ``leaf.grad``:
      - a tensor used twice (the U-Net's skip, D on real and fake) receives the sum;
      - a leaf that already has a .grad from an earlier backward keeps it, plus the new one;
      - inputs that do not require grad, or whose gradient is None, get nothing;
      - with retain_graph=False, set each op node's ``_ctx`` to None once used (frees its
        saved arrays); a later backward through such a node raises RuntimeError.
    It must work on deep graphs (thousands of ops in a row). Returns None.
    Graded: gradients on a diamond graph, a tensor used twice, accumulation over two
    backward calls, inputs without grad, the graph freed, a deep chain.
    """
    raise NotImplementedError("Exercise 1.2")
