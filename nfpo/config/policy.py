"""The policy section of the config: actor, critic and flow architecture."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import tyro

from nfpo.validation import check as _check

PolicyKind = Literal["gaussian", "flow", "flow-naive"]


@dataclass
class PolicyConfig:
    """Actor and critic architecture."""

    kind: Annotated[PolicyKind, tyro.conf.arg(name="policy")] = "flow"
    """gaussian: diagonal, state-independent log-std. flow: conditional affine-coupling flow with
    bounded log-scales. flow-naive: the same flow with unbounded log-scales (ablation baseline)."""
    action_bound: Literal["clip", "tanh"] = "clip"
    """clip: env clips, PPO scores the unclipped action. tanh: squash with exact log-det."""
    actor_hidden: tuple[int, ...] = (64, 64)
    """Gaussian mean network hidden sizes."""
    critic_hidden: tuple[int, ...] = (64, 64)
    activation: Literal["tanh", "relu", "elu"] = "tanh"
    init_log_std: float = 0.0
    """Gaussian initial log-std."""
    flow_layers: int = 4
    """number of coupling layers."""
    flow_transform: Literal["affine", "spline", "diagonal"] = "affine"
    """the 1-D map of each coupling layer (policy=flow). affine: z exp(s) + t with a bounded
    log-scale. spline: a monotone rational-quadratic spline on [-flow_spline_bound, +bound] with
    flow_spline_bins bins, identity outside (Durkan et al. 2019; nfpo.flows.spline): folds one
    lump into several per layer, where an affine map only shifts and scales it. diagonal: the
    affine map on every coordinate at once, conditioned on the state only (no coupling): the
    flow is then a state-dependent diagonal Gaussian transform of its base, so with one lump
    per flow (--flow-groups) each flow is a Gaussian policy: the control for the coupling."""
    flow_spline_bins: int = 8
    flow_spline_bound: float = 3.0
    flow_hidden: tuple[int, ...] = (64, 64)
    """hidden sizes of each coupling conditioner."""
    flow_encoder: tuple[int, ...] = ()
    """hidden sizes of an optional observation encoder shared by all conditioners (empty: none)."""
    log_scale_bound: float = 2.0
    """soft bound b of the coupling log-scale, s = b tanh(s/b) (policy=flow)."""
    flow_layernorm: bool = False
    """stabilizer: LayerNorm in the coupling conditioners."""
    policy_float64: bool = False
    """stabilizer: keep the actor in float64 so log-probs (and PPO ratios) carry no float32
    round-off; inputs and outputs stay float32."""
    flow_base_scale: bool = False
    """stabilizer: learned state-independent base log-std under the flow (flow as residual)."""
    flow_identity_init: bool = True
    """stabilizer: zero the conditioners' last layers so the untrained flow is exactly N(0, I)
    (``--no-flow-identity-init``: orthogonal gain 1 there, a random initial flow; policy=flow
    only, the naive flow always starts at the identity)."""
    flow_base_mixture: int = 0
    """base distribution of policy=flow: 0 = N(0, I); M >= 2 = a uniform mixture of M Gaussians
    with learned means and std ``flow_base_mixture_std`` (separate lumps for separate action
    modes; benchmarks/multimodal/README.md)."""
    flow_base_mixture_std: float = 0.3
    flow_base_mixture_learn_std: bool = False
    """learn the mixture base's std (one log-std shared by the components, starting at
    ``flow_base_mixture_std``), so PPO can sharpen every lump at once, as a Gaussian shrinks its
    std; fixed otherwise."""
    flow_base_mixture_weights: bool = False
    """learn the mixture base's weights (softmax logits, initially uniform; nfpo.policies.flow)."""
    flow_base_mixture_init: Literal["normal", "sphere"] = "normal"
    """initial means of the mixture base: normal = N(0, I) draws; sphere = spread over the sphere
    of radius ``flow_base_mixture_radius`` (farthest-point selection), so the lumps start
    pointing every way."""
    flow_base_mixture_radius: float = 1.2
    flow_base_mixture_hold: bool = False
    """exploration: draw each env's mixture component at the start of an episode and hold it
    for the episode (fresh noise within the component every step), so an episode follows one
    lump of the policy (nfpo.policies.noise.HeldComponent). Log-probs stay the mixture's
    marginal (with flow_groups > 1: the held group's own density); stochastic evaluation holds
    the component too. Needs flow_base_mixture >= 2."""
    flow_base_mixture_condition: bool = False
    """make the held component part of the agent's state (latent-conditioned PPO): the critic
    reads its one-hot, V(s, k), and PPO's ratio uses the component's own density
    log pi(u|s, k) instead of the marginal, so each lump is judged against its own value
    rather than pushed toward whichever lump the shared critic rates best (nfpo.policies.flow).
    Measured negative: the critic then explains ~all return variance and the flow stops
    learning (docs/multimodal.md). With flow_groups > 1 the critic reads the held *group*,
    V(s, g) (the ratio is the group's density either way). Needs flow_base_mixture_hold."""
    flow_groups: int = 1
    """a mixture of flows: split the mixture base's lumps into this many groups of neighbours
    (k-means on the initial means), each pushed through its own coupling stack, so
    pi(u|s) = sum_g w_g pi_g(u|s) (nfpo.policies.flow_mixture). Under held components each
    group learns from its own episodes only: the gradient of a group's log-density has zero
    mean under its own samples, so the shared critic's preference between groups moves no
    group. Costs ~G x the flow's compute. 1: one flow shared by every lump. Needs
    flow_base_mixture >= flow_groups."""
    flow_groups_shared: bool = False
    """a mixture of flows with one coupling stack for every group: its conditioners read the
    group's one-hot next to the observation, pi_g(u|s) = pi(u|s, g), so what one group learns
    about the task reaches the others, in one pass instead of G (nfpo.policies.flow_mixture).
    Measured negative on ForkReach: the groups share the side too (one side in 5 of 6 runs;
    docs/multimodal.md). Needs flow_groups > 1."""
    flow_groups_temperature: float = 0.0
    """a mixture of held flows' group weights follow the groups' returns (flow_groups > 1 and
    flow_base_mixture_hold): after ``flow_groups_start`` of training, before each rollout,
    W_g = (1 - f) softmax_g(R_g / (T sigma)) + f / G, with R_g a running mean of group g's
    episode returns, sigma the reward scaler's return std, T this temperature and f
    ``flow_groups_floor``: the maximum of E[R] + T sigma H(W) over the group choice, so a
    group far below the best loses its share while groups within ~T sigma keep theirs
    (nfpo.algo.group_weights). 0: fixed equal weights."""
    flow_groups_start: float = 0.5
    """fraction of training before the group weights start to follow the returns."""
    flow_groups_floor: float = 0.1
    """f: the share of the group weights that stays uniform (each group keeps >= f / G)."""
    flow_groups_restart: float = 0.0
    """while the group weights follow the returns, restart a group stuck far behind: before
    a rollout, the group with the lowest running return, if more than this many sigma below
    the best, becomes a copy (stack, lumps, critic column, Adam state) of the good group
    (within this gap of the best) whose episodes went nearest to its own, by their mean
    normalized observation and action (nfpo.algo.group_restart). 0: never. Needs
    flow_groups_temperature > 0 and separate stacks. Measured on ForkReach (0.75 from 2/3):
    return -17.79 against -18.04 without; with flow_groups_merge -16.73 (docs/multimodal.md)."""
    flow_groups_restart_radius: float | None = None
    """with flow_groups_restart: restart a lagging group only from a good group whose
    episodes' mean normalized observation and action lie less than this distance from its own
    (the units of flow_groups_merge), so the only group on one side of a fork is not copied
    from a group on the other side. None: any distance. Measured on ForkReach (1.0, from 1/2,
    2 seeds): a restart still crossed sides in one (docs/multimodal.md, Session 21)."""
    flow_groups_restart_mutual: bool = False
    """with flow_groups_restart: restart a lagging group only from a good group whose nearest
    live group (by the same descriptors) is the lagging one, so a side's only group is not
    copied from the other side, where the donor has a nearer neighbour. Measured on ForkReach
    (2 seeds): no help once merges leave one group per side, each the other's nearest
    (docs/multimodal.md, Session 21)."""
    flow_groups_merge: float = 0.0
    """while the group weights follow the returns, merge groups that went the same way: before
    a rollout, of the good groups (within ``flow_groups_restart`` sigma of the best; every
    group if that is 0) the closest pair whose episodes' mean normalized observation and
    action are less than this distance apart merges, the one with the lower return moving its
    lumps onto the other's and its episodes to the other's stack: one stack then learns from
    both groups' episodes (nfpo.algo.group_weights). 0: never. Needs flow_groups_temperature
    > 0 and separate stacks. Measured on ForkReach (0.6 with restarts at 0.75, from 2/3):
    return -16.73 against the Gaussian's -15.94, both sides in 4/5 seeds; from 1/3 one side
    (docs/multimodal.md)."""
    flow_groups_merge_start: float | None = None
    """with flow_groups_merge: fraction of training from which merges may happen (before
    ``flow_groups_start`` too, while every lump keeps its equal weight: a merged group's
    lumps then send their episodes to its host). None: from ``flow_groups_start``, with the
    weights and restarts. Measured on ForkReach under the preset (0.25, seeds 1-5): faster
    in the middle of training (-22 against -34 at 1/2), the same at the end (-16.56 against
    -16.47; docs/multimodal.md)."""
    noise_correlation: float = 0.0
    """exploration: AR(1) correlation rho of each env's base noise across the steps of an
    episode, z_t = rho z_(t-1) + sqrt(1 - rho^2) e_t (nfpo.policies.noise). 0: i.i.d. samples;
    1: one z per episode (a latent held from reset). Log-probs are unchanged; stochastic
    evaluation uses the same process. Needs the standard-normal base."""

    @property
    def holds_components(self) -> bool:
        """Whether rollouts follow held mixture components (a flow with
        ``flow_base_mixture_hold``)."""
        return self.kind == "flow" and self.flow_base_mixture_hold

    def validate(self) -> None:
        for name in ("actor_hidden", "critic_hidden", "flow_hidden", "flow_encoder"):
            sizes = getattr(self, name)
            _check(all(int(s) >= 1 for s in sizes), name, sizes, "positive layer sizes")
        _check(self.flow_layers >= 1, "flow_layers", self.flow_layers, "an integer >= 1")
        _check(self.log_scale_bound > 0, "log_scale_bound", self.log_scale_bound, "a number > 0")
        _check(math.isfinite(self.init_log_std), "init_log_std", self.init_log_std, "finite")
        _check(self.flow_base_mixture == 0 or self.flow_base_mixture >= 2, "flow_base_mixture",
               self.flow_base_mixture, "0 (a standard normal base) or an integer >= 2")
        _check(self.flow_base_mixture_std > 0, "flow_base_mixture_std",
               self.flow_base_mixture_std, "a number > 0")
        _check(self.flow_base_mixture_init in ("normal", "sphere"), "flow_base_mixture_init",
               self.flow_base_mixture_init, "'normal' or 'sphere'")
        _check(self.flow_base_mixture_radius > 0, "flow_base_mixture_radius",
               self.flow_base_mixture_radius, "a number > 0")
        _check(not self.flow_base_mixture_hold or self.flow_base_mixture >= 2,
               "flow_base_mixture_hold", self.flow_base_mixture_hold,
               "False unless flow_base_mixture >= 2 (it holds a mixture component)")
        _check(self.flow_groups >= 1, "flow_groups", self.flow_groups, "an integer >= 1")
        _check(self.flow_groups == 1 or self.flow_base_mixture >= self.flow_groups,
               "flow_groups", self.flow_groups,
               f"1, or at most flow_base_mixture (= {self.flow_base_mixture}) groups of lumps")
        _check(self.flow_groups == 1 or not self.flow_base_scale, "flow_groups",
               self.flow_groups, "1 with flow_base_scale")
        _check(not self.flow_groups_shared or self.flow_groups > 1, "flow_groups_shared",
               self.flow_groups_shared, "False unless flow_groups > 1 (it shares their stack)")
        _check(self.flow_groups_temperature >= 0, "flow_groups_temperature",
               self.flow_groups_temperature, "a number >= 0 (0: fixed equal group weights)")
        _check(not self.flow_groups_temperature or (self.flow_groups > 1
                                                   and self.flow_base_mixture_hold),
               "flow_groups_temperature", self.flow_groups_temperature,
               "0 unless flow_groups > 1 and flow_base_mixture_hold (it weighs held groups)")
        _check(0 <= self.flow_groups_start <= 1, "flow_groups_start", self.flow_groups_start,
               "a fraction in [0, 1]")
        _check(0 <= self.flow_groups_floor <= 1, "flow_groups_floor", self.flow_groups_floor,
               "a fraction in [0, 1]")
        for name in ("flow_groups_restart", "flow_groups_merge"):
            value = getattr(self, name)
            _check(value >= 0, name, value, "a number >= 0 (0: never)")
            _check(not value or (self.flow_groups_temperature and not self.flow_groups_shared),
                   name, value, "0 unless flow_groups_temperature > 0 and not "
                   "flow_groups_shared (it moves a group between stacks)")
        start = self.flow_groups_merge_start
        _check(start is None or (0 <= start <= 1 and self.flow_groups_merge > 0),
               "flow_groups_merge_start", start,
               "None, or a fraction in [0, 1] together with flow_groups_merge > 0")
        radius = self.flow_groups_restart_radius
        _check(radius is None or (radius > 0 and self.flow_groups_restart > 0),
               "flow_groups_restart_radius", radius,
               "None, or a number > 0 together with flow_groups_restart > 0")
        _check(not self.flow_groups_restart_mutual or self.flow_groups_restart > 0,
               "flow_groups_restart_mutual", self.flow_groups_restart_mutual,
               "False unless flow_groups_restart > 0")
        _check(not self.flow_base_mixture_condition or self.flow_base_mixture_hold,
               "flow_base_mixture_condition", self.flow_base_mixture_condition,
               "False unless flow_base_mixture_hold (it conditions on the held component)")
        _check(self.flow_transform in ("affine", "spline", "diagonal"), "flow_transform",
               self.flow_transform, "'affine', 'spline' or 'diagonal'")
        _check(self.flow_spline_bins >= 2, "flow_spline_bins", self.flow_spline_bins,
               "an integer >= 2")
        _check(self.flow_spline_bound > 0, "flow_spline_bound", self.flow_spline_bound,
               "a number > 0")
        _check(0.0 <= self.noise_correlation <= 1.0, "noise_correlation",
               self.noise_correlation, "a number in [0, 1]")
        _check(self.noise_correlation == 0 or self.flow_base_mixture == 0, "noise_correlation",
               self.noise_correlation, "0 with flow_base_mixture >= 2 (correlated noise needs "
               "the standard-normal base)")
