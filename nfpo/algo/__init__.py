"""Policy-optimization algorithms (PPO) and their schedules."""

from nfpo.algo.ppo import PPO, k3_kl
from nfpo.algo.schedules import adaptive_lr, linear_lr

__all__ = ["PPO", "adaptive_lr", "k3_kl", "linear_lr"]
