"""Diagonal Gaussian policy with a state-independent log-std (CleanRL / rsl_rl convention).

    u = mu(s) + sigma * eps,  eps ~ N(0, I),  sigma = exp(log_std)
    log p(u|s) = sum_i [ -0.5 ((u_i - mu_i) / sigma_i)^2 - log sigma_i - 0.5 log 2 pi ]
    H = sum_i (0.5 + 0.5 log 2 pi + log sigma_i)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nfpo.nets import mlp, orthogonal_init
from nfpo.policies.base import ActionBound, Policy

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class GaussianPolicy(Policy):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        activation: type[nn.Module] = nn.Tanh,
        init_log_std: float = 0.0,
        action_bound: ActionBound = "clip",
    ) -> None:
        super().__init__(obs_dim, act_dim, action_bound)
        self.mean_net = orthogonal_init(mlp([obs_dim, *hidden, act_dim], activation), 0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def rsample_raw(self, obs: Tensor, z: Tensor | None = None,
                    component: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if component is not None:
            raise ValueError("a mixture component was given to a Gaussian policy")
        mu = self.mean_net(obs)
        eps = torch.randn_like(mu) if z is None else z
        u = mu + eps * self.log_std.exp()
        logp = (-0.5 * eps.pow(2) - self.log_std - _HALF_LOG_2PI).sum(-1)
        return u, logp

    def log_prob_raw(self, obs: Tensor, u: Tensor, component: Tensor | None = None
                     ) -> Tensor:
        if component is not None:
            raise ValueError("a mixture component was given to a Gaussian policy")
        mu = self.mean_net(obs)
        z = (u - mu) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - _HALF_LOG_2PI).sum(-1)

    def push(self, obs: Tensor, z: Tensor) -> Tensor:
        return self.mean_net(obs) + z * self.log_std.exp()

    def entropy_raw(self, obs: Tensor) -> Tensor:
        h = (0.5 + _HALF_LOG_2PI + self.log_std).sum()
        return h.expand(obs.shape[0])

    @torch.no_grad()
    def diagnostics(self, obs: Tensor) -> dict[str, float]:
        ls = self.log_std
        return {"policy/log_std_mean": ls.mean().item(), "policy/log_std_min": ls.min().item(),
                "policy/log_std_max": ls.max().item()}
