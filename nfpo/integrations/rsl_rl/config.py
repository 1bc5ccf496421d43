"""A complete rsl_rl ``OnPolicyRunner`` config with the flow policy (or the Gaussian baseline).

The values follow nfpo's ``--preset legged`` (ELU 128x128x128 actor and critic, 24 steps per
env, 5 epochs x 4 minibatches, constant learning rate 3e-4, no entropy bonus, grad clip 1);
why each differs from rsl_rl's defaults is measured in ``benchmarks/legged/README.md``.
"""

from __future__ import annotations

from typing import Any

from nfpo.config import NFPO_TARGET_KL
from nfpo.errors import ConfigError

POLICIES = ("flow", "gaussian")


def train_cfg(policy: str = "flow", *, context_dim: int = 64, flow_layers: int = 4,
              flow_hidden: tuple[int, ...] = (128, 128),
              hidden_dims: tuple[int, ...] = (128, 128, 128),
              activation: str = "elu", num_steps_per_env: int = 24, learning_rate: float = 3e-4,
              num_learning_epochs: int = 5, num_mini_batches: int = 4, entropy_coef: float = 0.0,
              target_kl: float | None = NFPO_TARGET_KL, kl_stop: str = "minibatch",
              critic_group: str = "critic", save_interval: int = 50) -> dict[str, Any]:
    """The runner config dict. ``policy="flow"``: ``FlowDistribution`` + ``NFPOPPO``;
    ``"gaussian"``: rsl_rl's ``GaussianDistribution`` + stock ``PPO`` with the same settings
    (the baseline). ``critic_group``: the observation group the critic reads."""
    if policy not in POLICIES:
        raise ConfigError(f"policy={policy!r}; choose one of {POLICIES}")
    algorithm: dict[str, Any] = {
        "class_name": "PPO", "learning_rate": learning_rate, "schedule": "fixed",
        "num_learning_epochs": num_learning_epochs, "num_mini_batches": num_mini_batches,
        "clip_param": 0.2, "gamma": 0.99, "lam": 0.95, "value_loss_coef": 1.0,
        "entropy_coef": entropy_coef, "max_grad_norm": 1.0, "desired_kl": 0.01}
    if policy == "flow":
        distribution = {"class_name": "nfpo.integrations.rsl_rl:FlowDistribution",
                        "context_dim": context_dim, "num_layers": flow_layers,
                        "hidden": list(flow_hidden), "activation": activation}
        algorithm.update(class_name="nfpo.integrations.rsl_rl:NFPOPPO", target_kl=target_kl,
                         kl_stop=kl_stop)
    else:
        distribution = {"class_name": "GaussianDistribution", "init_std": 1.0}
    mlp = {"class_name": "MLPModel", "hidden_dims": list(hidden_dims), "activation": activation,
           "obs_normalization": True}
    return {
        "num_steps_per_env": num_steps_per_env, "save_interval": save_interval,
        "obs_groups": {"actor": ["policy"], "critic": [critic_group]},
        "algorithm": algorithm,
        "actor": {**mlp, "distribution_cfg": distribution},
        "critic": dict(mlp),
        "logger": "tensorboard", "check_for_nan": True,
    }
