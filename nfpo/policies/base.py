"""The policy interface the trainer, evaluator and exporters use.

A policy is a distribution over a pre-squash action ``u in R^D`` given a (normalized)
observation. The env-facing action lives in the box [-1, 1]^D and is obtained by the policy's
action bound:

- ``clip``: a = clip(u, -1, 1). log pi is the density of ``u`` (the PPO convention: the env
  clips, the algorithm scores the unclipped sample).
- ``tanh``: a = tanh(u). log pi(a) = log p(u) - log|det da/du| (exact, softplus form).

Rollouts store ``u``, never ``a``, so a log-prob is never recomputed through atanh of a
saturated action. Shapes: ``obs: [B, O]``, ``u: [B, D]``, log-probs and entropies ``[B]``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from nfpo.flows.tanh import tanh_log_abs_det

ActionBound = Literal["clip", "tanh"]


class Policy(nn.Module):
    """Subclasses implement ``rsample_raw``, ``log_prob_raw``, ``mode_raw`` and may override
    ``entropy_raw`` (default: one-sample Monte-Carlo estimate -log p(u), u reparameterized)."""

    obs_dim: int
    act_dim: int

    def __init__(self, obs_dim: int, act_dim: int, action_bound: ActionBound) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.action_bound = obs_dim, act_dim, action_bound

    def flow_parameters(self) -> list[nn.Parameter]:
        """The flow's parameters (bijections, encoder, base distribution): the group that the
        flow stabilizers ``flow_lr_scale`` and ``flow_max_grad_norm`` act on. Empty for a
        policy without a flow."""
        return []

    # --- implemented by subclasses: distribution of u -------------------------------------
    def rsample_raw(self, obs: Tensor, z: Tensor | None = None,
                    component: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reparameterized sample u ~ p(.|obs) and log p(u|obs), in ONE pass; ``z``: the
        standard-normal base noise ``[B, D]`` to push (default: fresh draws); ``component``
        ``[B]``: the mixture component to draw from (a flow with a mixture base only)."""
        raise NotImplementedError

    def log_prob_raw(self, obs: Tensor, u: Tensor, component: Tensor | None = None
                     ) -> Tensor:
        """log p(u|obs) of given pre-squash actions, in ONE pass; ``component`` ``[B]``: the
        held mixture components the actions were drawn from (a flow with a mixture base only;
        the density is log p(u|obs, k) if the flow conditions on them, else the marginal)."""
        raise NotImplementedError

    def push(self, obs: Tensor, z: Tensor) -> Tensor:
        """The pre-squash action for base noise ``z ~ N(0, I)``, ``[B, D]`` (no log-prob).

        Used by exporters: a stochastic artefact takes ``z`` as an input."""
        raise NotImplementedError

    def mode_raw(self, obs: Tensor) -> Tensor:
        """The deterministic pre-squash action: ``push(obs, 0)`` (Gaussian mean; flow f(0))."""
        z = torch.zeros(obs.shape[0], self.act_dim, dtype=obs.dtype, device=obs.device)
        return self.push(obs, z)

    @property
    def closed_form_entropy(self) -> bool:
        """Whether ``entropy`` is exact (else a Monte-Carlo estimate costing a sampling pass)."""
        return type(self).entropy_raw is not Policy.entropy_raw and self.action_bound != "tanh"

    def entropy_raw(self, obs: Tensor) -> Tensor:
        """H[p(u|obs)]; default is the Monte-Carlo estimate -log p(u), u ~ p (reparameterized)."""
        _, logp = self.rsample_raw(obs)
        return -logp

    def diagnostics(self, obs: Tensor) -> dict[str, float]:
        """Scalars for logging (Gaussian log-std, flow log|det J| statistics...)."""
        return {}

    # --- the interface, with the action bound applied --------------------------------------
    def to_action(self, u: Tensor) -> Tensor:
        """Env-facing action in [-1, 1]^D."""
        return torch.tanh(u) if self.action_bound == "tanh" else u.clamp(-1.0, 1.0)

    # Public methods compute in the dtype of the policy's parameters (float64 if the policy
    # was converted with ``.double()``: the ``--policy-float64`` stabilizer) and return
    # results in the dtype of the observation.
    @property
    def compute_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def sample(self, obs: Tensor, z: Tensor | None = None, component: Tensor | None = None
               ) -> tuple[Tensor, Tensor]:
        """(u, log pi): sample a pre-squash action and its log-probability in one pass
        (``z``: given standard-normal base noise; ``component``: given mixture components;
        ``nfpo.policies.noise``). log pi is the policy's marginal density either way, except
        with ``component`` given for a flow that conditions on its component
        (``condition_on_component``: log pi(u|s, k)) and for a mixture of flows (its group's
        own density, ``nfpo.policies.flow_mixture``)."""
        dt = self.compute_dtype
        u, logp = self.rsample_raw(obs.to(dt), None if z is None else z.to(dt), component)
        return u.to(obs.dtype), self._bound_log_prob(u, logp).to(obs.dtype)

    def log_prob(self, obs: Tensor, u: Tensor, component: Tensor | None = None) -> Tensor:
        """log pi of stored pre-squash actions ``u`` (``component``: their held mixture
        components; the conditional density where ``sample`` gives one)."""
        dt = self.compute_dtype
        u = u.to(dt)
        return self._bound_log_prob(u, self.log_prob_raw(obs.to(dt), u, component)).to(obs.dtype)

    def entropy(self, obs: Tensor) -> Tensor:
        """Entropy of the policy: closed form or Monte-Carlo (see subclasses); ``[B]``."""
        x = obs.to(self.compute_dtype)
        if self.action_bound == "tanh":
            u, logp = self.rsample_raw(x)
            return (-(logp - tanh_log_abs_det(u))).to(obs.dtype)
        return self.entropy_raw(x).to(obs.dtype)

    def deterministic(self, obs: Tensor) -> Tensor:
        """Deterministic env-facing action in [-1, 1]^D."""
        return self.to_action(self.mode_raw(obs.to(self.compute_dtype))).to(obs.dtype)

    def _bound_log_prob(self, u: Tensor, logp: Tensor) -> Tensor:
        return logp - tanh_log_abs_det(u) if self.action_bound == "tanh" else logp
