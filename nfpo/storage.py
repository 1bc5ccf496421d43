"""Preallocated rollout storage, GAE(lambda) and the minibatch iterator.

Time-major tensors ``[T, N, ...]`` (T steps, N envs). ``dones[t]`` marks that the episode of
env n ended with the transition at step t (terminated OR truncated). Truncation is handled by
the runner before storing: it adds gamma * V(s_final) to the reward of a truncated step, so
GAE can treat every done as a cut (rsl_rl's time-out bootstrap).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


def compute_gae(
    rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016).

    delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t)
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
    Shapes: rewards/values/dones ``[T, N]``, last_value ``[N]`` = V(s_T). Returns (A, A + V).
    """
    if rewards.device.type == "cpu":  # numpy: a step's float32 ops without torch's per-call cost
        adv = _gae_numpy(rewards.numpy(), values.numpy(), dones.numpy(), last_value.numpy(),
                         gamma, lam)
        return torch.from_numpy(adv), torch.from_numpy(adv) + values
    adv = _gae_torch(rewards, values, dones, last_value, gamma, lam)
    return adv, adv + values


def _gae_torch(rewards: Tensor, values: Tensor, dones: Tensor, last_value: Tensor,
               gamma: float, lam: float) -> Tensor:
    """``compute_gae``'s advantages with torch ops (any device)."""
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv


def _gae_numpy(rewards: np.ndarray, values: np.ndarray, dones: np.ndarray,
               last_value: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """``compute_gae``'s loop in numpy: the same float32 operations in the same order (Python
    floats are weak scalars under NumPy 2, as in torch), so the advantages are bit-identical
    (tests/test_storage.py)."""
    T = rewards.shape[0]
    adv = np.zeros_like(rewards)
    last = np.zeros_like(last_value)
    nonterminal = 1.0 - dones
    gl = gamma * lam
    for t in range(T - 1, -1, -1):
        next_value = last_value if t == T - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_value * nonterminal[t] - values[t]
        last = delta + gl * nonterminal[t] * last
        adv[t] = last
    return adv


@dataclass
class Batch:
    obs: Tensor  # [B, O]
    actions: Tensor  # [B, D] pre-squash actions u
    log_probs: Tensor  # [B]
    values: Tensor  # [B]
    advantages: Tensor  # [B]
    returns: Tensor  # [B]
    critic_obs: Tensor | None = None  # [B, C] (asymmetric critic) or None: the critic reads obs
    components: Tensor | None = None  # [B] long: held mixture components the policy conditions on
    index: Tensor | None = None  # [B] long: the rows of ``RolloutStorage.flat`` (minibatches)

    @property
    def value_obs(self) -> Tensor:
        """What the critic reads."""
        return self.obs if self.critic_obs is None else self.critic_obs


class RolloutStorage:
    def __init__(self, num_steps: int, num_envs: int, obs_dim: int, act_dim: int,
                 critic_obs_dim: int = 0, device: torch.device | str = "cpu",
                 components: bool = False) -> None:
        T, N = num_steps, num_envs
        self.num_steps, self.num_envs, self.device = T, N, torch.device(device)

        def zeros(*shape: int) -> Tensor:
            return torch.zeros(*shape, device=self.device)

        self.obs = zeros(T, N, obs_dim)
        self.critic_obs = zeros(T, N, critic_obs_dim) if critic_obs_dim else None
        self.actions = zeros(T, N, act_dim)
        self.log_probs = zeros(T, N)
        self.values = zeros(T, N)
        self.rewards = zeros(T, N)
        self.dones = zeros(T, N)
        self.advantages = zeros(T, N)
        self.returns = zeros(T, N)
        self.components = torch.zeros(T, N, dtype=torch.long, device=self.device) \
            if components else None
        self.step = 0
        # what ``add`` writes, in its argument order; on the CPU with numpy views made once
        self._written = (self.obs, self.actions, self.log_probs, self.values, self.rewards,
                         self.dones, self.critic_obs, self.components)
        cpu = self.device.type == "cpu"
        self._views = tuple(b.numpy() if cpu and b is not None else None for b in self._written)

    def add(self, obs: Tensor, actions: Tensor, log_probs: Tensor, values: Tensor,
            rewards: Tensor | np.ndarray, dones: Tensor | np.ndarray,
            critic_obs: Tensor | None = None, components: Tensor | None = None) -> None:
        """Write step ``t`` (every argument ``[N, ...]``; ``components`` only if the storage
        keeps them), tensors or numpy arrays; cast to the buffer's dtype on write (on the CPU
        through a numpy view of the buffer: no tensor is made per step)."""
        if self.step >= self.num_steps:
            raise RuntimeError("rollout storage is full; call clear() after the update")
        t = self.step
        given = (obs, actions, log_probs, values, rewards, dones, critic_obs, components)
        for buf, view, v in zip(self._written, self._views, given, strict=True):
            if buf is None:
                continue
            if view is not None and (isinstance(v, np.ndarray) or (
                    v.device.type == "cpu" and not v.requires_grad)):
                # the buffer's numpy view: one cast-and-copy, no torch call per field
                view[t] = v if isinstance(v, np.ndarray) else v.numpy()
            else:
                buf[t] = torch.as_tensor(v, dtype=buf.dtype, device=buf.device)
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    def compute_returns(self, last_value: Tensor, gamma: float, lam: float) -> None:
        self.advantages, self.returns = compute_gae(
            self.rewards, self.values, self.dones, last_value, gamma, lam
        )

    def flat(self) -> Batch:
        """The whole rollout as one batch ``[T * N, ...]``."""
        return Batch(
            self.obs.flatten(0, 1), self.actions.flatten(0, 1), self.log_probs.flatten(),
            self.values.flatten(), self.advantages.flatten(), self.returns.flatten(),
            None if self.critic_obs is None else self.critic_obs.flatten(0, 1),
            None if self.components is None else self.components.flatten(),
        )

    def minibatches(self, num_minibatches: int, generator: torch.Generator | None = None
                    ) -> Iterator[Batch]:
        """Random disjoint minibatches covering the rollout once (one epoch)."""
        data = self.flat()
        n = data.obs.shape[0]
        perm = torch.randperm(n, generator=generator).to(self.device)  # CPU RNG on any device
        size = n // num_minibatches
        perm = perm[:num_minibatches * size]
        # one gather per field and epoch; each minibatch is then a contiguous slice (a view)
        fields = [None if f is None else f[perm] for f in (
            data.obs, data.actions, data.log_probs, data.values, data.advantages, data.returns,
            data.critic_obs, data.components)] + [perm]
        for i in range(num_minibatches):
            rows = slice(i * size, (i + 1) * size)
            yield Batch(*(None if f is None else f[rows] for f in fields))
