"""``NFPOPPO``: rsl_rl's PPO with nfpo's algorithm-side stabilizers, selected by config::

    "algorithm": {"class_name": "nfpo.integrations.rsl_rl:NFPOPPO", "schedule": "fixed",
                  "learning_rate": 3e-4, "target_kl": 0.1, "kl_stop": "minibatch", ...}

It keeps rsl_rl's storage, models, runner, checkpoints and logging, and replaces only the
update loop, with what nfpo measured for flow policies (docs/stability.md):

- per-minibatch KL stop (``target_kl``, ``kl_stop="minibatch"``): before each gradient step
  the k3 KL of the minibatch is compared with ``target_kl``; above it, the step is skipped and
  the update ends. Addresses KL blow-ups inside an epoch (flows take 2-3x larger KL steps than
  a Gaussian at the same learning rate). ``kl_stop="epoch"`` checks each finished epoch's mean
  KL (CleanRL). Cost: none (the KL comes from the log-ratios PPO computes anyway).
- ``log_ratio_clamp``: clamp log r to [-c, c] before exp (exploding ratios on the unclipped
  side of the surrogate).
- ``schedule="fixed"`` by default: rsl_rl's adaptive rule drove the flow's learning rate to its
  1e-5 floor within 9 iterations on a toy task and in 82% of the updates on Go1 (and the
  Gaussian's in 70%, with CPU-sized batches).

Besides rsl_rl's ``value`` / ``surrogate`` / ``entropy`` losses it reports ``kl`` (mean k3 KL),
``log_ratio_min`` and ``early_stop`` (1 if the update ended early), logged as ``Loss/<key>``.
Not supported (a clear error): RND, symmetry augmentation, multi-GPU and recurrent models.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from rsl_rl.algorithms import PPO
from torch import nn

from nfpo.algo.ppo import KLStop, clipped_surrogate, clipped_value_error, k3_kl
from nfpo.algo.schedules import adaptive_lr
from nfpo.config import NFPO_TARGET_KL
from nfpo.errors import ConfigError, DivergenceError

KL_STOPS = ("epoch", "minibatch")


class NFPOPPO(PPO):
    """rsl_rl PPO + KL stop / log-ratio clamp. Extra args: ``target_kl`` (None disables the
    stop), ``kl_stop`` ("minibatch" or "epoch"), ``log_ratio_clamp`` (None disables)."""

    def __init__(self, actor: Any, critic: Any, storage: Any, *,
                 target_kl: float | None = NFPO_TARGET_KL, kl_stop: str = "minibatch",
                 log_ratio_clamp: float | None = None, schedule: str = "fixed",
                 **kwargs: Any) -> None:
        for key in ("rnd_cfg", "symmetry_cfg", "multi_gpu_cfg"):
            if kwargs.get(key):
                raise ConfigError(f"NFPOPPO does not support {key}={kwargs[key]!r}; use rsl_rl's "
                                  f"PPO for RND, symmetry or multi-GPU training")
        if kl_stop not in KL_STOPS:
            raise ConfigError(f"kl_stop={kl_stop!r}; choose one of {KL_STOPS}")
        if target_kl is not None and not target_kl > 0:
            raise ConfigError(f"target_kl={target_kl!r}; expected a number > 0 or None")
        if log_ratio_clamp is not None and not log_ratio_clamp > 0:
            raise ConfigError(f"log_ratio_clamp={log_ratio_clamp!r}; expected > 0 or None")
        if schedule not in ("fixed", "adaptive"):
            raise ConfigError(f"schedule={schedule!r}; choose 'fixed' or 'adaptive'")
        super().__init__(actor, critic, storage, schedule=schedule, **kwargs)
        if self.actor.is_recurrent or self.critic.is_recurrent:
            raise ConfigError("NFPOPPO does not support recurrent models")
        self.target_kl, self.kl_stop, self.log_ratio_clamp = target_kl, kl_stop, log_ratio_clamp

    def update(self) -> dict[str, float]:
        """PPO epochs over the storage, with the KL stop; returns mean losses and diagnostics."""
        sums = {"value": 0.0, "surrogate": 0.0, "entropy": 0.0, "kl": 0.0}
        steps, early_stop, log_ratio_min = 0, 0.0, math.inf
        kl_stop = KLStop(self.target_kl, self.kl_stop)
        batches = self.storage.mini_batch_generator(self.num_mini_batches,
                                                    self.num_learning_epochs)
        for i, batch in enumerate(batches):
            self.actor(batch.observations, stochastic_output=True)  # condition + entropy sample
            log_ratio = (self.actor.get_output_log_prob(batch.actions)
                         - batch.old_actions_log_prob.reshape(-1))
            lr = log_ratio.detach()  # one device sync for both scalars
            kl, mb_min = torch.stack((k3_kl(lr).mean(), lr.min())).tolist()
            log_ratio_min = min(log_ratio_min, mb_min)
            if kl_stop.skip_step(kl):
                early_stop = 1.0
                break
            if self.schedule == "adaptive" and self.desired_kl is not None:
                self.learning_rate = adaptive_lr(self.learning_rate, kl, self.desired_kl,
                                                 1e-5, 1e-2)
                for group in self.optimizer.param_groups:
                    group["lr"] = self.learning_rate

            adv = batch.advantages.reshape(-1)
            if self.normalize_advantage_per_mini_batch:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            surrogate = clipped_surrogate(adv, log_ratio, self.clip_param, self.log_ratio_clamp)
            value = self.critic(batch.observations).reshape(-1)
            value_loss = clipped_value_error(
                value, batch.values.reshape(-1), batch.returns.reshape(-1),
                self.clip_param if self.use_clipped_value_loss else None).mean()
            entropy = self.actor.output_entropy.mean()
            loss = surrogate + self.value_loss_coef * value_loss - self.entropy_coef * entropy
            if not torch.isfinite(loss):
                raise DivergenceError(f"NFPOPPO: non-finite loss (surrogate={surrogate.item()}, "
                                      f"value={value_loss.item()})")
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.actor.parameters(), self.max_grad_norm)
            nn.utils.clip_grad_norm_(self.critic.parameters(), self.max_grad_norm)
            self.optimizer.step()

            for key, v in (("value", value_loss), ("surrogate", surrogate), ("entropy", entropy)):
                sums[key] += v.item()
            sums["kl"] += kl
            steps += 1
            if (i + 1) % self.num_mini_batches == 0 and kl_stop.end_epoch():  # an epoch ended
                early_stop = 1.0
                break

        obs = self.storage.observations.flatten(0, 1)
        self.actor.update_normalization(obs)
        self.critic.update_normalization(obs)
        self.storage.clear()
        out = {k: v / max(steps, 1) for k, v in sums.items()}
        out.update(early_stop=early_stop, log_ratio_min=log_ratio_min, minibatch_steps=float(steps))
        return out
