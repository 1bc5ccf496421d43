"""Learning-rate and coefficient schedules.

- linear:   x_k = x_0 + (x_end - x_0) * k / K   (k-th of K updates); the learning rate anneals
            to 0 (CleanRL's), the entropy bonus to ``ent_coef_final``
- adaptive: rsl_rl's KL rule, applied per minibatch on a KL estimate:
            lr /= 1.5 if KL > 2 * desired,  lr *= 1.5 if KL < desired / 2,  clamped to
            [min_lr, max_lr].
"""

from __future__ import annotations


def linear(start: float, end: float, update: int, num_updates: int) -> float:
    """The value at update ``update`` (0-based) of ``num_updates`` on the line start -> end."""
    return start + (end - start) * (update / num_updates)


def linear_lr(lr0: float, update: int, num_updates: int) -> float:
    """Learning rate for update ``update`` (0-based) of ``num_updates``: lr0 -> 0."""
    return linear(lr0, 0.0, update, num_updates)


def adaptive_lr(lr: float, kl: float, desired_kl: float, min_lr: float, max_lr: float) -> float:
    """rsl_rl's adaptive rule (see module docstring)."""
    if kl > 2.0 * desired_kl:
        lr = lr / 1.5
    elif 0.0 < kl < desired_kl / 2.0:
        lr = lr * 1.5
    return min(max(lr, min_lr), max_lr)
