"""Differentiable ops: each one a small ``Function`` with a hand-written backward."""
