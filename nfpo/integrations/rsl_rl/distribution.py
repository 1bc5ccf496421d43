"""``FlowDistribution``: an rsl_rl ``Distribution`` whose actions come from an nfpo flow.

rsl_rl's model (``MLPModel`` and friends) maps observations to ``mlp_output``; a distribution
turns that into actions. Here ``mlp_output`` is a feature vector c of size ``context_dim`` and
the action is u = f(z; c), z ~ N(0, I), with the exact log-density of ``nfpo.policies.FlowPolicy``.
Select it by config alone::

    "actor": {"class_name": "MLPModel", "hidden_dims": [128, 128, 128], "activation": "elu",
              "distribution_cfg": {"class_name": "nfpo.integrations.rsl_rl:FlowDistribution",
                                   "context_dim": 64}}

A flow has no parameter vector from which a second copy of it could be rebuilt, so the parts
of rsl_rl's interface that a Gaussian answers in closed form are sample-based here:

- ``entropy``: one-sample Monte-Carlo estimate -log pi(u|s) of the reparameterized sample
  drawn by the last ``sample()`` (rsl_rl's PPO samples on every minibatch forward), so the
  entropy bonus costs no extra pass and its gradient is the reparameterized one. Shape [B].
- ``params``: ``(log pi(u|s), u)`` of the actions last scored (``log_prob``) or, if none were
  scored since the last sample, sampled. rsl_rl stores them per step.
- ``kl_divergence(old, new)``: the k3 estimate (r - 1) - log r of KL(old || new), r =
  pi_new(u) / pi_old(u), on the stored actions u. It does not depend on the order in which
  rsl_rl reads ``log_prob`` and ``params``: if ``new`` holds other actions than ``old``, the
  stored actions are re-scored under the current features.
- ``mean`` / ``std``: Monte-Carlo estimates over ``std_samples`` draws (no gradient), for
  logging only. The deterministic action is f(0; c), not the mean.
"""

from __future__ import annotations

import torch
from rsl_rl.modules.distribution import Distribution
from torch import Tensor, nn

from nfpo.algo.ppo import k3_kl
from nfpo.integrations._flow import FlowMode, MonteCarloMoments, flow_head


class FlowDistribution(Distribution):
    """Conditional normalizing-flow action distribution for rsl_rl (>= 5.0.1).

    Args:
        output_dim: action dimension D (rsl_rl passes it).
        context_dim: size C of the feature vector the MLP outputs (``input_dim``).
        num_layers, hidden, activation: coupling layers and their conditioner MLPs.
        log_scale_bound: soft bound b of each log-scale, s = b tanh(s/b); None = naive flow.
        layernorm, base_scale: optional stabilizers (see ``nfpo.flows.AffineCoupling`` and
            ``FlowPolicy``).
        std_samples: draws behind the logged ``mean`` / ``std`` estimates.
    """

    def __init__(self, output_dim: int, context_dim: int = 64, num_layers: int = 4,
                 hidden: tuple[int, ...] | list[int] = (64, 64), activation: str = "elu",
                 log_scale_bound: float | None = 2.0, layernorm: bool = False,
                 base_scale: bool = False, std_samples: int = 8) -> None:
        super().__init__(output_dim)
        self.flow = flow_head(context_dim, output_dim, num_layers, hidden, activation,
                              log_scale_bound, layernorm, base_scale)
        self.context_dim = int(context_dim)
        self.std_samples = int(std_samples)
        self._context: Tensor | None = None
        self._sampled: tuple[Tensor, Tensor] | None = None  # (u, log pi) of the last sample
        self._scored: tuple[Tensor, Tensor] | None = None  # (u, log pi) of the last log_prob
        self._moments: MonteCarloMoments | None = None

    # --- what rsl_rl's PPO calls ------------------------------------------------------------
    def update(self, mlp_output: Tensor) -> None:
        """Condition the flow on features ``[B, C]`` (clears per-batch caches)."""
        self._context = mlp_output
        self._sampled = self._scored = None
        self._moments = MonteCarloMoments(self.flow, mlp_output, self.std_samples)

    def sample(self) -> Tensor:
        """u ~ pi(.|c), ``[B, D]`` (reparameterized; its log-prob is kept for ``entropy``)."""
        u, logp = self.flow.rsample_raw(self._require_context())
        self._sampled, self._scored = (u, logp), None
        return u.detach()

    def log_prob(self, outputs: Tensor) -> Tensor:
        """log pi(u|c) of actions ``[B, D]`` -> ``[B]``; the sample's own log-prob if ``outputs``
        is the last sample (one pass instead of two)."""
        if self._sampled is not None and _same(outputs, self._sampled[0]):
            logp = self._sampled[1]
        else:
            logp = self.flow.log_prob_raw(self._require_context(), outputs)
        self._scored = (outputs, logp)
        return logp

    @property
    def params(self) -> tuple[Tensor, ...]:
        """(log pi(u), u) of the last scored (else sampled) actions; see the module docstring."""
        pair = self._scored or self._sampled
        if pair is None:
            raise RuntimeError("FlowDistribution.params read before sample() or log_prob()")
        return pair[1], pair[0]

    def kl_divergence(self, old_params: tuple[Tensor, ...], new_params: tuple[Tensor, ...]
                      ) -> Tensor:
        """k3 estimate of KL(old || new) per stored action, ``[B]``."""
        old_logp, old_u = old_params
        new_logp, new_u = new_params
        if not (new_u.shape == old_u.shape and torch.equal(new_u, old_u)):
            context = self._require_context()
            if context.shape[0] != old_u.shape[0]:
                raise ValueError(f"kl_divergence: {old_u.shape[0]} stored actions but the flow "
                                 f"is conditioned on {context.shape[0]} states")
            new_logp = self.flow.log_prob_raw(context, old_u)
        return k3_kl(new_logp - old_logp)

    @property
    def entropy(self) -> Tensor:
        """Monte-Carlo entropy -log pi(u|c) of the last reparameterized sample, ``[B]``."""
        if self._sampled is None:
            self.sample()
        return -self._sampled[1]

    @property
    def mean(self) -> Tensor:
        """Monte-Carlo mean ``[B, D]`` (logging only)."""
        return self._require_moments().mean

    @property
    def std(self) -> Tensor:
        """Monte-Carlo standard deviation ``[B, D]`` (rsl_rl logs its mean)."""
        return self._require_moments().std

    def deterministic_output(self, mlp_output: Tensor) -> Tensor:
        """The deterministic action f(0; c), ``[B, D]``."""
        return self.flow.mode_raw(mlp_output)

    def as_deterministic_output_module(self) -> nn.Module:
        """A frozen, fused f(0; c) for rsl_rl's JIT and ONNX exporters."""
        return FlowMode(self.flow)

    @property
    def input_dim(self) -> int:
        return self.context_dim

    # --- helpers ------------------------------------------------------------------------------
    def _require_context(self) -> Tensor:
        if self._context is None:
            raise RuntimeError("FlowDistribution used before update(mlp_output)")
        return self._context

    def _require_moments(self) -> MonteCarloMoments:
        self._require_context()
        assert self._moments is not None
        return self._moments


def _same(a: Tensor, b: Tensor) -> bool:
    """Whether ``a`` is (a view or detached copy of) the very tensor ``b``."""
    return a.shape == b.shape and a.data_ptr() == b.data_ptr() and a.dtype == b.dtype
