"""Numerical gradient checking: the test every backward must pass."""
import numpy as np

from .backend import get_array_module, to_numpy


def rel_error(a, b, floor=1e-8):
    """|a - b| / max(|a| + |b|, floor), elementwise (cs231n's measure with a floor)."""
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


class GradcheckError(AssertionError):
    pass


### BEGIN SOLUTION 2.1
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
    out = np.empty(len(positions))
    for n, pos in enumerate(positions):
        original = x[pos].item()
        x[pos] = original + eps
        plus = f()
        x[pos] = original - eps
        minus = f()
        x[pos] = original
        out[n] = (plus - minus) / (2 * eps)
    return out
### END SOLUTION


def gradcheck(fn, inputs, eps=1e-6, tol=1e-5, seed=0, raise_on_failure=True, max_elements=None):
    """Compare the backward of ``fn`` with centered finite differences.

    fn: takes the tensors in ``inputs`` and returns one tensor. inputs: float64 tensors;
    those with requires_grad=True are checked. A random upstream gradient u (never all
    ones) turns the output into the scalar <fn(x), u>, whose gradient backward gives and
    whose finite difference (f(x + eps) - f(x - eps)) / 2 eps is computed element by
    element. max_elements: check only that many randomly chosen elements per input.

    Returns a report dict; raises GradcheckError naming the worst element when the
    relative error exceeds ``tol``.
    """
    rng, upstream = _backward_with_random_upstream(fn, inputs, seed)

    def scalar():
        return float((fn(*inputs).data * upstream).sum())

    report = {"max_rel_error": 0.0, "worst": None, "checked": 0}
    for index, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        analytic = np.zeros(t.shape) if t.grad is None else to_numpy(t.grad)
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs t
        positions = np.arange(flat.size)
        if max_elements is not None and flat.size > max_elements:
            positions = rng.choice(flat.size, max_elements, replace=False)
        numerics = numerical_gradient(scalar, flat, positions, eps)
        for pos, numeric in zip(positions, numerics):
            a = float(analytic.reshape(-1)[pos])
            err = float(rel_error(np.float64(a), np.float64(numeric)))
            report["checked"] += 1
            if err > report["max_rel_error"] or report["worst"] is None:
                report["max_rel_error"] = err
                report["worst"] = dict(input=index, index=np.unravel_index(pos, t.shape),
                                       analytic=a, numeric=numeric)
    if raise_on_failure and report["max_rel_error"] > tol:
        w = report["worst"]
        raise GradcheckError(
            f"gradient check failed: input {w['input']} at index {tuple(int(i) for i in w['index'])}"
            f": backward gives {w['analytic']:.6g}, finite differences give {w['numeric']:.6g} "
            f"(relative error {report['max_rel_error']:.2e} > tol {tol:.0e})")
    return report


def gradcheck_direction(fn, inputs, eps=1e-6, tol=1e-5, seed=0):
    """The check for big blocks: one random direction d instead of every element.

    Compares <grad, d> from backward with (f(x + eps d) - f(x - eps d)) / 2 eps, where
    f = <fn(x), u> for a random upstream u. Two forward passes per check, any size.
    """
    rng, upstream = _backward_with_random_upstream(fn, inputs, seed)
    xp = get_array_module(upstream)
    checked = [t for t in inputs if t.requires_grad]
    directions = [xp.asarray(rng.standard_normal(t.shape)) for t in checked]
    analytic = sum(float((t.grad * d).sum()) for t, d in zip(checked, directions)
                   if t.grad is not None)
    originals = [t.data.copy() for t in checked]

    def f_at(step):
        for t, x0, d in zip(checked, originals, directions):
            t.data[...] = x0 + step * d
        return float((fn(*inputs).data * upstream).sum())

    numeric = (f_at(eps) - f_at(-eps)) / (2 * eps)
    for t, x0 in zip(checked, originals):
        t.data[...] = x0
    err = float(rel_error(np.float64(analytic), np.float64(numeric)))
    if err > tol:
        raise GradcheckError(f"directional gradient check failed: backward gives {analytic:.8g}, "
                             f"finite differences give {numeric:.8g} (relative error {err:.2e})")
    return {"rel_error": err, "analytic": analytic, "numeric": numeric}


def _backward_with_random_upstream(fn, inputs, seed):
    """Run fn and backpropagate a random upstream gradient u (never all ones) into the
    float64 inputs; returns (the generator, u). Both checks then differentiate <fn(x), u>."""
    for t in inputs:
        if t.requires_grad and t.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs (finite differences in float32 "
                             f"are too noisy), got {t.dtype}")
    # A stream of its own: a test that draws its inputs from default_rng(seed) must not
    # get an upstream gradient equal to its input (which hides BatchNorm errors).
    rng = np.random.default_rng([seed, 0x5EED])
    out = fn(*inputs)
    upstream = get_array_module(out.data).asarray(rng.standard_normal(out.shape))
    for t in inputs:
        t.grad = None
    out.backward(upstream)
    return rng, upstream
