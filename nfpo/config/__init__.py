"""Typed configuration: one dataclass per component, the CLI is generated from them (tyro).

Defaults follow CleanRL's ``ppo_continuous_action`` (the most reproduced PPO setting on MuJoCo
locomotion: 2048-sample batches, 32 minibatches, 10 epochs, lr 3e-4 annealed, clip 0.2,
grad-norm 0.5, observation normalization and reward scaling), with the batch collected from 4
environments x 512 steps, and a flow policy of 4 affine coupling layers with 2x64 tanh
conditioners and a +-2 soft bound on the log-scale (float32-safe; see research notes).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from nfpo.config.env import EnvConfig
from nfpo.config.policy import PolicyConfig, PolicyKind
from nfpo.config.ppo import NFPO_TARGET_KL, PPOConfig
from nfpo.config.run import RunConfig
from nfpo.errors import ConfigError
from nfpo.validation import check as _check
from nfpo.validation import check_types as _check_types

__all__ = ["LEGACY_DEFAULTS", "NFPO_TARGET_KL", "EnvConfig", "PPOConfig", "PolicyConfig",
           "PolicyKind", "RunConfig", "TrainConfig"]

# Values that reproduce what the code did before a field existed, for config.json files
# written then (``TrainConfig.from_dict``): the KL stop was checked per epoch.
# numpy_rollout did not exist: rollouts ran through torch.
LEGACY_DEFAULTS: dict[str, dict[str, Any]] = {"ppo": {"kl_stop": "epoch"},
                                              "run": {"numpy_rollout": False}}


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> TrainConfig:
        """Check every field and return a copy with the ``auto`` defaults resolved for the
        chosen policy (``PPOConfig.resolve``); ``self`` is left as given."""
        cfg = copy.deepcopy(self)
        cfg.ppo.resolve(cfg.policy.kind)
        for section in (cfg.env, cfg.policy, cfg.ppo, cfg.run):
            _check_types(section)
        cfg.env.validate()
        cfg.policy.validate()
        cfg.ppo.validate(cfg.env.num_envs)
        cfg.run.validate()
        _check((cfg.ppo.ent_reward_coef == 0 and not cfg.ppo.ent_reward_coef_final)
               or cfg.policy.action_bound == "tanh",
               "ent_reward_coef", cfg.ppo.ent_reward_coef,
               "0 with --action-bound clip (the pre-clip action's entropy is unbounded); "
               "use --action-bound tanh for an entropy reward")
        _check(not cfg.ppo.lump_balance or cfg.policy.holds_components,
               "lump_balance", cfg.ppo.lump_balance,
               "0 unless --policy flow with --flow-base-mixture-hold (it balances held lumps)")
        p = cfg.policy
        _check(not cfg.ppo.group_cross_coef or (
            p.holds_components and p.flow_groups > 1 and p.flow_base_mixture_condition
            and not p.flow_groups_shared and cfg.ppo.policy_loss == "clip"),
               "group_cross_coef", cfg.ppo.group_cross_coef,
               "0 unless --policy flow with --flow-groups > 1 (separate stacks), "
               "--flow-base-mixture-hold and --flow-base-mixture-condition (V(s, g)), and "
               "--policy-loss clip")
        return cfg

    @property
    def batch_size(self) -> int:
        return self.ppo.num_steps * self.env.num_envs

    @property
    def num_updates(self) -> int:
        return max(1, self.run.total_steps // self.batch_size)

    def rounding_note(self) -> str | None:
        """A note when ``total_steps`` is not a whole number of batches (the run then trains
        ``num_updates`` full batches), else None."""
        steps = self.num_updates * self.batch_size
        if steps == self.run.total_steps:
            return None
        return (f"total_steps={self.run.total_steps} is not a multiple of the batch "
                f"(num_steps x num_envs = {self.ppo.num_steps} x {self.env.num_envs} = "
                f"{self.batch_size}): training runs {self.num_updates} update(s) = {steps} steps")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of ``to_dict`` (a saved config.json); unknown keys raise ConfigError naming
        them, and fields the file predates get ``LEGACY_DEFAULTS`` (then the class default)."""

        def build(kls: type, data: dict[str, Any]) -> Any:
            names = {f.name for f in dataclasses.fields(kls)}
            unknown = set(data) - names
            if unknown:
                raise ConfigError(f"unknown {kls.__name__} keys {sorted(unknown)}; "
                                  f"accepted: {sorted(names)}")
            if not isinstance(data, dict):
                raise ConfigError(f"invalid {kls.__name__} section {data!r}: expected an object")
            kw = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
            return kls(**kw)

        def section(name: str, kls: type) -> Any:
            data = d.get(name, {})
            if isinstance(data, dict):
                data = {**LEGACY_DEFAULTS.get(name, {}), **data}
            return build(kls, data)

        parts = {"env": EnvConfig, "policy": PolicyConfig, "ppo": PPOConfig, "run": RunConfig}
        if not isinstance(d, dict):
            raise ConfigError(f"invalid config {d!r}: expected an object with sections "
                              f"{list(parts)}")
        unknown = set(d) - set(parts)
        if unknown:
            raise ConfigError(f"unknown config sections {sorted(unknown)}; accepted: {list(parts)}")
        return cls(**{k: section(k, kls) for k, kls in parts.items()})
