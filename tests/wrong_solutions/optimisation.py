"""Wrong solutions of 6b.1 (the Adam step)."""
import numpy as np

from nn.optim import adam_step_reference


def adam_without_bias_correction(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3,
                                 betas=(0.9, 0.999), eps=1e-8):
    """m and v used as they are: tiny first steps."""
    b1, b2 = betas
    m = b1 * exp_avg + (1 - b1) * grad
    v = b2 * exp_avg_sq + (1 - b2) * grad * grad
    return param - lr * m / (np.sqrt(v) + eps), m, v


def adam_eps_inside_the_sqrt(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3,
                             betas=(0.9, 0.999), eps=1e-8):
    """sqrt(v_hat + eps) instead of sqrt(v_hat) + eps."""
    b1, b2 = betas
    m = b1 * exp_avg + (1 - b1) * grad
    v = b2 * exp_avg_sq + (1 - b2) * grad * grad
    return param - lr * (m / (1 - b1 ** step)) / np.sqrt(v / (1 - b2 ** step) + eps), m, v


def adam_in_place(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                  eps=1e-8):
    """Right numbers, but updates the caller's arrays in place."""
    b1, b2 = betas
    exp_avg *= b1
    exp_avg += (1 - b1) * grad
    exp_avg_sq *= b2
    exp_avg_sq += (1 - b2) * grad * grad
    param -= lr * (exp_avg / (1 - b1 ** step)) / (np.sqrt(exp_avg_sq / (1 - b2 ** step)) + eps)
    return param, exp_avg, exp_avg_sq


def adam_squares_the_momentum(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3,
                              betas=(0.9, 0.999), eps=1e-8):
    """v accumulates m^2 instead of g^2."""
    b1, b2 = betas
    m = b1 * exp_avg + (1 - b1) * grad
    v = b2 * exp_avg_sq + (1 - b2) * m * m
    return param - lr * (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + eps), m, v


def adam_bias_correction_in_float64(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3,
                                    betas=(0.9, 0.999), eps=1e-8):
    """Right numbers, but np.power(beta, t) is an np.float64: float32 weights become float64."""
    b1, b2 = betas
    m = b1 * exp_avg + (1 - b1) * grad
    v = b2 * exp_avg_sq + (1 - b2) * grad * grad
    m_hat, v_hat = m / (1 - np.power(b1, step)), v / (1 - np.power(b2, step))
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_beta2_hard_coded(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                          eps=1e-8):
    """beta2 written as 0.999 instead of read from betas."""
    return adam_step_reference(param, grad, exp_avg, exp_avg_sq, step, lr, (betas[0], 0.999),
                               eps)


WRONG = {"6b.1": [adam_without_bias_correction, adam_eps_inside_the_sqrt, adam_in_place,
                  adam_squares_the_momentum, adam_bias_correction_in_float64,
                  adam_beta2_hard_coded]}
