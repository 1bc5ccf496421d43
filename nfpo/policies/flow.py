"""Conditional normalizing-flow policy pi(u|s).

    z ~ N(0, I_D),   u = f_K o ... o f_1 (z; h(s))
    log p(u|s) = log N(z) - sum_k log|det df_k/dz_{k-1}|        (sampling: one forward pass)
               = log N(f^{-1}(u)) + sum_k log|det df_k^{-1}|     (scoring: one inverse pass)

Each f_k is a coupling layer with alternating masks: affine (``nfpo.flows.AffineCoupling``,
the default) or a rational-quadratic spline (``nfpo.flows.SplineCoupling``, ``transform``);
conditioners read the observation features ``h(s)`` (the normalized observation, or the output
of an optional shared encoder) and the passive half of the action. Zero-initialised last
layers make an untrained flow exactly the base Gaussian N(0, I). The deterministic action is
f(0; h(s)). For D = 1 every layer transforms the single coordinate conditioned on ``h`` only,
and so does every layer for any D with ``transform="diagonal"`` (all-zero masks): then the flow
is a state-dependent diagonal affine map of its base, a Gaussian for a Gaussian base.

The base q(z) is ``nfpo.flows.StandardNormal`` or, with ``base_mixture = M >= 2``, a
``nfpo.flows.GaussianMixture`` of M components (learned means, fixed or learned std, uniform or
learned weights; the math is in ``nfpo.flows.distributions``). A diffeomorphism of a unimodal
base has connected support, so K separated peaks need thin bridges between them; the mixture
gives the flow separate lumps to start from (benchmarks/multimodal/README.md). With learned
weights the share of the policy on a lump can move continuously, where with fixed weights a
whole component has to cross a low-reward valley to change peak; the logits get their gradient
through log q in the PPO surrogate (score function). ``push(obs, eps)`` and the deterministic
action use ``q.center(eps)``: for a mixture, the component with the highest base density.

``base_mixture_condition``: the mixture component k is part of the agent's state (held over
an episode, ``nfpo.policies.noise.HeldComponent``), so a sample drawn from a given k is scored
by the component's own density, log pi(u|s, k) = log q(z|k) - log|det df/dz|, and PPO's ratio
compares the new and old policy of that lump; without it, the marginal log q(z).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nfpo.flows import (
    AffineCoupling,
    Bijection,
    FlowSequence,
    GaussianMixture,
    SplineCoupling,
    StandardNormal,
)
from nfpo.nets import mlp, orthogonal_init
from nfpo.policies.base import ActionBound, Policy


def alternating_masks(dim: int, num_layers: int) -> list[Tensor]:
    """Masks m_k[i] = (i + k) mod 2 (1 = passive). For dim == 1, all zeros."""
    if dim == 1:
        return [torch.zeros(1) for _ in range(num_layers)]
    idx = torch.arange(dim)
    return [((idx + k) % 2).float() for k in range(num_layers)]


def coupling_stack(act_dim: int, context_dim: int, num_layers: int, hidden: tuple[int, ...],
                   activation: type[nn.Module], log_scale_bound: float | None,
                   layernorm: bool, identity_init: bool, transform: str = "affine",
                   spline_bins: int = 8, spline_bound: float = 3.0) -> FlowSequence:
    """``num_layers`` coupling layers (affine or spline) with alternating masks, conditioned
    on a ``context_dim`` feature vector; ``diagonal``: affine layers with an all-zero mask
    (every coordinate transformed, conditioned on the context only)."""
    def coupling(m: Tensor) -> Bijection:
        if transform == "spline":
            return SplineCoupling(m, context_dim, hidden, spline_bins, spline_bound,
                                  activation, layernorm, identity_init)
        return AffineCoupling(m, context_dim, hidden, log_scale_bound, activation,
                              layernorm, identity_init)
    masks = ([torch.zeros(act_dim) for _ in range(num_layers)] if transform == "diagonal"
             else alternating_masks(act_dim, num_layers))
    return FlowSequence([coupling(m) for m in masks])


class FlowPolicy(Policy):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        num_layers: int = 4,
        hidden: tuple[int, ...] = (64, 64),
        encoder_hidden: tuple[int, ...] = (),
        activation: type[nn.Module] = nn.Tanh,
        log_scale_bound: float | None = 2.0,
        action_bound: ActionBound = "clip",
        layernorm: bool = False,
        base_scale: bool = False,
        identity_init: bool = True,
        base_mixture: int = 0,
        base_mixture_std: float = 0.3,
        base_mixture_weights: bool = False,
        transform: str = "affine",
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        base_mixture_init: str = "normal",
        base_mixture_radius: float = 1.2,
        base_mixture_condition: bool = False,
        base_mixture_learn_std: bool = False,
        base_mixture_prior: bool = False,
    ) -> None:
        super().__init__(obs_dim, act_dim, action_bound)
        if encoder_hidden:
            enc = orthogonal_init(mlp([obs_dim, *encoder_hidden], activation), 2**0.5)
            encoder: nn.Module = nn.Sequential(enc, activation())
            context_dim = encoder_hidden[-1]
        else:
            encoder = nn.Identity()
            context_dim = obs_dim
        self._stack_args = (act_dim, context_dim, num_layers, hidden, activation,
                            log_scale_bound, layernorm, identity_init, transform, spline_bins,
                            spline_bound)
        flow = coupling_stack(*self._stack_args)
        # optional learned, state-independent base scale: the flow is a residual on top of a
        # Gaussian with a PPO-style log-std (the Gaussian's proven way to shrink exploration)
        self.base_log_std = nn.Parameter(torch.zeros(act_dim)) if base_scale else None
        base = GaussianMixture(act_dim, base_mixture, base_mixture_std, base_mixture_weights,
                               base_mixture_init, base_mixture_radius,
                               base_mixture_learn_std, base_mixture_prior) \
            if base_mixture >= 2 else StandardNormal(act_dim)
        # registered base first: parameters (and so the optimizer state of checkpoints) keep
        # the order of the earlier layout, base_log_std, base_means, base_logits, encoder, flow
        self.base_dist, self.encoder, self.flow = base, encoder, flow
        self.condition_on_component = base_mixture_condition and base_mixture >= 2

    @staticmethod
    def upgrade_state_dict(sd: dict[str, Tensor]) -> dict[str, Tensor]:
        """Checkpoints written before ``nfpo.flows.distributions``: the mixture's tensors were
        ``base_means`` / ``base_logits``."""
        legacy = {"base_means": "base_dist.means", "base_logits": "base_dist.logits"}
        return {legacy.get(k, k): v for k, v in sd.items()}

    def flow_parameters(self) -> list[nn.Parameter]:
        """All of the policy's parameters: everything in a flow policy is the flow."""
        return list(self.parameters())

    def _base(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z -> sigma * z and its log-det sum(log sigma) (identity without a base scale)."""
        if self.base_log_std is None:
            return z, z.new_zeros(z.shape[0])
        return z * self.base_log_std.exp(), self.base_log_std.sum().expand(z.shape[0])

    def rsample_raw(self, obs: Tensor, z: Tensor | None = None,
                    component: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.encoder(obs)
        if component is not None:
            self._need_mixture()
            z = self.base_dist.sample(obs.shape[0], obs, component)
        elif z is None:
            z = self.base_dist.sample(obs.shape[0], obs)
        elif not isinstance(self.base_dist, StandardNormal):
            raise ValueError("given base noise z needs the standard-normal base "
                             "(flow_base_mixture=0)")
        zs, ld_base = self._base(z)
        u, logdet = self.flow(zs, h)
        return u, self._base_log_prob(z, component if self.condition_on_component else None) \
            - ld_base - logdet

    def log_prob_raw(self, obs: Tensor, u: Tensor, component: Tensor | None = None
                     ) -> Tensor:
        zs, logdet = self.flow.inverse(u, self.encoder(obs))
        k = component if self.condition_on_component else None
        if self.base_log_std is None:
            return self._base_log_prob(zs, k) + logdet
        z = zs * torch.exp(-self.base_log_std)
        return self._base_log_prob(z, k) - self.base_log_std.sum() + logdet

    def _base_log_prob(self, z: Tensor, component: Tensor | None) -> Tensor:
        """log q(z), or log q(z|k) of given mixture components ``[B]``."""
        if component is None:
            return self.base_dist.log_prob(z)
        self._need_mixture()
        return self.base_dist.log_prob(z, component)

    def critic_conditions(self) -> int:
        """Width of the one-hot a conditioned critic reads: M (one per component)."""
        return len(self.base_dist.means)

    def critic_condition(self, component: Tensor) -> Tensor:
        """The index ``[B]`` a conditioned critic reads for held ``component`` ``[B]``."""
        return component

    def _need_mixture(self) -> None:
        if not isinstance(self.base_dist, GaussianMixture):
            raise ValueError("a given mixture component needs a mixture base "
                             "(flow_base_mixture >= 2)")

    def push_flow(self) -> FlowSequence:
        """The coupling stack of the deterministic push (one stack here; a mixture of flows
        picks the one of its center component)."""
        return self.flow

    def group_code(self) -> Tensor | None:
        """What the push's stack reads after h(s): nothing here (a mixture of flows with a
        shared stack reads its group's one-hot)."""
        return None

    def push(self, obs: Tensor, z: Tensor) -> Tensor:
        """u = f(base(z); h(obs)) for standard-normal ``z`` ``[B, D]`` (see module docstring
        for a mixture base)."""
        return self.flow(self._base(self.base_dist.center(z))[0], self.encoder(obs))[0]

    @torch.no_grad()
    def diagnostics(self, obs: Tensor) -> dict[str, float]:
        """log|det J| of the forward pass on fresh samples, total and per layer: mean, min and
        max over the batch."""
        obs = obs.to(self.compute_dtype)
        h = self.encoder(obs)
        z = self.base_dist.sample(obs.shape[0], obs)
        _, per_layer = self.flow.forward_layers(self._base(z)[0], h)
        logdet = torch.stack(per_layer).sum(0)
        out = {"flow/logdet_mean": logdet.mean().item(), "flow/logdet_min": logdet.min().item(),
               "flow/logdet_max": logdet.max().item()}
        for k, ld in enumerate(per_layer):
            out[f"flow/layer{k}_logdet_mean"] = ld.mean().item()
            out[f"flow/layer{k}_logdet_min"] = ld.min().item()
            out[f"flow/layer{k}_logdet_max"] = ld.max().item()
        if self.base_log_std is not None:
            out["flow/base_log_std_mean"] = self.base_log_std.mean().item()
        return out
