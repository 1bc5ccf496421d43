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
import json
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import tyro

from nfpo.errors import ConfigError
from nfpo.validation import check as _check
from nfpo.validation import check_types as _check_types

PolicyKind = Literal["gaussian", "flow", "flow-naive"]
NFPO_TARGET_KL = 0.1  # the KL stop of the NFPO default (policy=flow); docs/stability.md
# Values that reproduce what the code did before a field existed, for config.json files
# written then (``TrainConfig.from_dict``): the KL stop was checked per epoch.
# numpy_rollout did not exist: rollouts ran through torch.
LEGACY_DEFAULTS: dict[str, dict[str, Any]] = {"ppo": {"kl_stop": "epoch"},
                                              "run": {"numpy_rollout": False}}


@dataclass
class EnvConfig:
    """Environment and the data it produces."""

    id: Annotated[str, tyro.conf.arg(name="env")] = "Hopper-v5"
    """env id with a continuous (Box) action space (gymnasium, or EnvPool with --backend
    envpool, e.g. Go1JoystickFlatTerrain-v1)."""
    backend: Literal["gymnasium", "envpool"] = "gymnasium"
    """simulator: gymnasium (SyncVectorEnv) or envpool (C++ vectorized, 2-3x faster on
    MuJoCo; legged MuJoCo Playground tasks; ``pip install 'nfpo[envpool]'``)."""
    num_envs: int = 4
    """parallel environments."""
    env_kwargs: str = "{}"
    """JSON object of keyword arguments passed to ``gymnasium.make`` / ``envpool.make``."""
    env_import: tuple[str, ...] = ()
    """modules to import before the env is made, so that they register their gymnasium ids
    (e.g. ``--env-import my_pkg.envs --env MyEnv-v0``; ``--env my_pkg.envs:MyEnv-v0`` does the
    same for one module). Saved with the run, so eval and resume import them too."""
    obs_key: str = ""
    """dict observations (EnvPool Playground tasks): the key the actor reads (default: state)."""
    critic_obs_key: str = ""
    """dict observations: the key the critic reads, e.g. privileged_state (asymmetric
    actor-critic; default: the actor's)."""
    envpool_threads: int = 0
    """EnvPool worker threads (0: one per CPU core, at most num_envs)."""
    normalize_obs: bool = True
    """running mean/std observation normalization (saved with the policy, exported)."""
    scale_reward: bool = True
    """divide rewards by the running std of the discounted return."""
    clip_obs: float = 10.0
    clip_reward: float = 10.0
    nonfinite: Literal["stop", "drop-episode"] = "stop"
    """NaN/Inf in an observation or reward: stop the run (message names env and step), or
    reset that env and drop the episode from training statistics."""
    randomize: str = ""
    """robustness perturbations during training, e.g. "mass=0.8:1.2,obs_noise=0.05,delay=1"
    (keys: obs_noise, action_noise, delay, mass, friction, damping, gain; see nfpo.envs.perturb)."""

    def kwargs(self) -> dict[str, Any]:
        try:
            out = json.loads(self.env_kwargs)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid env_kwargs={self.env_kwargs!r}: not JSON ({e})") from e
        _check(isinstance(out, dict), "env_kwargs", self.env_kwargs, "a JSON object")
        return out

    def validate(self) -> None:
        _check(self.num_envs >= 1, "num_envs", self.num_envs, "an integer >= 1")
        _check(self.clip_obs > 0, "clip_obs", self.clip_obs, "a number > 0")
        _check(self.clip_reward > 0, "clip_reward", self.clip_reward, "a number > 0")
        _check(self.envpool_threads >= 0, "envpool_threads", self.envpool_threads, ">= 0")
        self.kwargs()
        for m in self.env_import:
            _check(bool(m.strip()), "env_import", self.env_import, "module names")
        from nfpo.envs.perturb import parse_perturb

        parse_perturb(self.randomize)


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


@dataclass
class PPOConfig:
    """PPO hyperparameters (names as in CleanRL; ``desired_kl`` as in rsl_rl)."""

    num_steps: int = 512
    """rollout length per environment; batch = num_steps * num_envs."""
    num_epochs: int = 10
    num_minibatches: int = 32
    learning_rate: float = 3e-4
    lr_schedule: Literal["linear", "constant", "adaptive"] = "linear"
    """linear: anneal to 0. adaptive: rsl_rl rule on the k3 KL estimate (target desired_kl)."""
    desired_kl: float = 0.01
    """adaptive schedule: lr /= 1.5 if KL > 2 desired_kl, *= 1.5 if KL < desired_kl / 2."""
    min_lr: float = 1e-5
    max_lr: float = 1e-2
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    policy_loss: Literal["clip", "awr"] = "clip"
    """clip: PPO's clipped surrogate. awr: advantage-weighted maximum likelihood (AWR / V-MPO),
    -mean(w log pi(a|s)) with w = exp(A / awr_temperature) normalized over the minibatch: a
    forward-KL fit of pi_old exp(A / eta), which covers every mode of that target where the
    clipped surrogate seeks one (nfpo.algo.ppo.weighted_mle; docs/multimodal.md)."""
    awr_temperature: float = 1.0
    """eta of policy_loss=awr, in units of the (normalized) advantage."""
    awr_max_weight: float = 20.0
    """cap on awr's weights before normalization (AWR's clip; one sample cannot dominate)."""
    clip_vloss: bool = True
    norm_adv: bool = True
    """normalize advantages per minibatch."""
    ent_coef: float = 0.0
    ent_coef_final: float | None = None
    """anneal ent_coef linearly to this value over training (None: constant). A high start
    spreads the policy over every mode; the flow then sharpens each one in place
    (benchmarks/multimodal/README.md)."""
    target_entropy: float | None = None
    """stabilizer: adapt the entropy coefficient so that the policy's (Monte-Carlo) entropy
    tracks this target (nats, whole action); ent_coef is then only the initial value."""
    entropy_estimate: Literal["reparam", "ratio"] = "reparam"
    """the entropy bonus of a policy without closed-form entropy (the flow). reparam:
    -log pi(u) of a fresh reparameterized sample per minibatch (one extra sampling pass).
    ratio: -mean(ratio * log pi) over the minibatch's stored actions, reusing the surrogate's
    log-prob pass (no extra pass; an unbiased score-function estimate of the entropy's
    gradient: grad E_old[ratio log pi] = E_pi[(log pi + 1) grad log pi] = -grad H)."""
    entropy_lr: float = 0.05
    """step size of the target-entropy controller on log(ent_coef)."""
    ent_reward_coef: float = 0.0
    """maximum-entropy RL: add ent_reward_coef * (-log pi(a_t|s_t)) to every reward (before
    reward scaling), so returns, values and advantages count the entropy of *future* actions
    (soft returns, Haarnoja et al. 2017). ent_coef rewards spread in each action; this also
    rewards keeping several trajectories whose soft values are equal. Needs
    ``--action-bound tanh`` (the entropy of a clipped action's pre-clip sample is unbounded)."""
    ent_reward_coef_final: float | None = None
    """anneal ent_reward_coef linearly to this value over training (None: constant): soft
    returns that spread the policy over every mode first, then let each one sharpen."""
    outcome_bonus: float = 0.0
    """outcome-entropy bonus (multimodal tasks): at each episode's end add this times the
    centred -log density of the episode's descriptor (mean observation and action) among the
    last ``outcome_buffer`` episodes, so rarer outcomes earn more (nfpo.algo.outcome; 0: off)."""
    outcome_bandwidth: float = 0.5
    """kernel width of that density, in normalized observation / action units."""
    outcome_buffer: int = 256
    state_bonus: float = 0.0
    """state-marginal entropy bonus (multimodal tasks): add this times the centred -log density
    of every step's normalized observation among the last ``state_bonus_buffer`` observations
    (all envs), so rarely visited states pay (nfpo.algo.outcome.StateNovelty; 0: off)."""
    state_bonus_bandwidth: float = 0.5
    """kernel width of that density, in normalized observation units."""
    state_bonus_buffer: int = 2048
    mode_balance: float = 0.0
    """mode-balanced advantages (multimodal tasks): cluster the rollout's episodes by their
    descriptor (k-means, no labels) and remove this fraction (0..1) of each (cluster,
    step-in-episode) group's mean advantage, so the update improves every cluster in place
    instead of moving mass between them (nfpo.algo.modes; 0: off)."""
    mode_balance_clusters: int = 8
    """k of that k-means: an upper bound on the number of modes kept apart."""
    mode_balance_shrink: float = 4.0
    """a group's mean advantage is sum / (count + this): small groups are corrected less."""
    lump_balance: float = 0.0
    """niching over held mixture components (needs flow_base_mixture_hold): remove this
    fraction (0..1) of the mean advantage of each component's neighbourhood (components whose
    base means lie within ~``lump_balance_bandwidth``, Gaussian kernel), so a lump is compared
    with its neighbours, not with every lump (nfpo.algo.modes.lump_balance; n0 is
    ``mode_balance_shrink``; 0: off). Measured negative on ForkReach (docs/multimodal.md)."""
    lump_balance_bandwidth: float = 0.5
    """kernel width h of that neighbourhood in base space, c_kj = exp(-|mu_k - mu_j|^2 / 2h^2)."""
    group_cross_coef: float = 0.0
    """a mixture of held flows (flow_groups > 1, flow_base_mixture_hold, the critic reading
    the group): every group also learns from the other groups' steps, each weighted by
    min(1, pi_h/pi_g) and scored by the group's own one-step advantage
    r + gamma V(s', h) - V(s, h); this is the coefficient of that extra surrogate
    (nfpo.algo.cross_groups). 0: each group learns from its own episodes only. Measured on
    ForkReach (1.0 with restarts and merges): faster early, both sides in 1/5 seeds against
    4/5 without (docs/multimodal.md)."""
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    flow_lr_scale: float = 1.0
    """stabilizer: learning rate of the flow's parameters = learning_rate * flow_lr_scale
    (flows take ~2-3x larger KL steps than a Gaussian at the same learning rate)."""
    flow_max_grad_norm: float | None = None
    """stabilizer: clip the flow parameters' gradient norm to this before the global clip."""
    log_ratio_clamp: float | None = None
    """stabilizer: clamp log(pi_new / pi_old) to [-c, c] before exp in the surrogate."""
    target_kl: float | None | Literal["auto"] = "auto"
    """stop an update early once the k3 KL estimate exceeds this (None: never). auto: the NFPO
    default, 0.1 for policy=flow and None for gaussian and flow-naive (docs/stability.md)."""
    kl_stop: Literal["auto", "epoch", "minibatch"] = "auto"
    """where ``target_kl`` is checked. epoch: the mean KL of each finished epoch (CleanRL).
    minibatch: each minibatch's KL before its gradient step; the step is skipped and the
    update ends (catches a blow-up inside an epoch). auto: minibatch for policy=flow (the
    NFPO default), epoch otherwise."""
    adam_eps: float = 1e-5

    def resolve(self, kind: str) -> PPOConfig:
        """Replace ``auto`` fields by the defaults of policy ``kind``, in place: the NFPO default
        for ``flow`` is the per-minibatch KL stop at ``NFPO_TARGET_KL`` (no KL blow-up in any
        stress or extreme-regime run, docs/stability.md); the Gaussian and the naive flow get
        none."""
        nfpo = kind == "flow"
        if self.target_kl == "auto":
            self.target_kl = NFPO_TARGET_KL if nfpo else None
        if self.kl_stop == "auto":
            self.kl_stop = "minibatch" if nfpo else "epoch"
        return self

    def validate(self, num_envs: int) -> None:
        _check(self.num_steps >= 1, "num_steps", self.num_steps, "an integer >= 1")
        _check(self.num_epochs >= 1, "num_epochs", self.num_epochs, "an integer >= 1")
        batch = self.num_steps * num_envs
        _check(1 <= self.num_minibatches <= batch, "num_minibatches", self.num_minibatches,
               f"an integer in [1, num_steps * num_envs = {batch}]")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "a number > 0")
        _check(0 < self.min_lr <= self.max_lr, "min_lr/max_lr", (self.min_lr, self.max_lr),
               "0 < min_lr <= max_lr")
        _check(self.desired_kl > 0, "desired_kl", self.desired_kl, "a number > 0")
        _check(0 < self.gamma <= 1, "gamma", self.gamma, "a number in (0, 1]")
        _check(0 <= self.gae_lambda <= 1, "gae_lambda", self.gae_lambda, "a number in [0, 1]")
        _check(self.clip_coef > 0, "clip_coef", self.clip_coef, "a number > 0")
        _check(self.policy_loss in ("clip", "awr"), "policy_loss", self.policy_loss,
               "'clip' or 'awr'")
        _check(self.awr_temperature > 0, "awr_temperature", self.awr_temperature, "a number > 0")
        _check(self.awr_max_weight > 1, "awr_max_weight", self.awr_max_weight, "a number > 1")
        _check(self.ent_coef >= 0, "ent_coef", self.ent_coef, "a number >= 0")
        _check(self.vf_coef >= 0, "vf_coef", self.vf_coef, "a number >= 0")
        _check(self.group_cross_coef >= 0, "group_cross_coef", self.group_cross_coef,
               "a number >= 0")
        _check(self.outcome_bonus >= 0, "outcome_bonus", self.outcome_bonus, "a number >= 0")
        _check(self.outcome_bandwidth > 0, "outcome_bandwidth", self.outcome_bandwidth, "> 0")
        _check(self.outcome_buffer >= 2, "outcome_buffer", self.outcome_buffer, ">= 2")
        _check(self.state_bonus >= 0, "state_bonus", self.state_bonus, "a number >= 0")
        _check(self.state_bonus_bandwidth > 0, "state_bonus_bandwidth",
               self.state_bonus_bandwidth, "> 0")
        _check(self.state_bonus_buffer >= 2, "state_bonus_buffer", self.state_bonus_buffer,
               ">= 2")
        _check(0 <= self.mode_balance <= 1, "mode_balance", self.mode_balance,
               "a number in [0, 1]")
        _check(self.mode_balance_clusters >= 2, "mode_balance_clusters",
               self.mode_balance_clusters, "an integer >= 2")
        _check(0 <= self.lump_balance <= 1, "lump_balance", self.lump_balance, "a number in [0, 1]")
        _check(self.lump_balance_bandwidth > 0, "lump_balance_bandwidth",
               self.lump_balance_bandwidth, "a number > 0")
        _check(self.mode_balance_shrink >= 0, "mode_balance_shrink", self.mode_balance_shrink,
               "a number >= 0")
        _check(self.target_entropy is None or math.isfinite(self.target_entropy),
               "target_entropy", self.target_entropy, "a finite number or None")
        _check(self.entropy_lr > 0, "entropy_lr", self.entropy_lr, "a number > 0")
        _check(self.ent_coef_final is None or self.ent_coef_final >= 0, "ent_coef_final",
               self.ent_coef_final, "a number >= 0 or None")
        _check(self.ent_coef_final is None or self.target_entropy is None, "ent_coef_final",
               self.ent_coef_final, "None when target_entropy is set (the controller sets the "
               "coefficient)")
        _check(self.ent_reward_coef >= 0, "ent_reward_coef", self.ent_reward_coef,
               "a number >= 0")
        _check(self.ent_reward_coef_final is None or self.ent_reward_coef_final >= 0,
               "ent_reward_coef_final", self.ent_reward_coef_final, "a number >= 0 or None")
        _check(self.max_grad_norm > 0, "max_grad_norm", self.max_grad_norm, "a number > 0")
        _check(self.target_kl is None or self.target_kl > 0, "target_kl", self.target_kl,
               "a number > 0 or None")
        _check(self.flow_lr_scale > 0, "flow_lr_scale", self.flow_lr_scale, "a number > 0")
        _check(self.flow_max_grad_norm is None or self.flow_max_grad_norm > 0,
               "flow_max_grad_norm", self.flow_max_grad_norm, "a number > 0 or None")
        _check(self.log_ratio_clamp is None or self.log_ratio_clamp > 0, "log_ratio_clamp",
               self.log_ratio_clamp, "a number > 0 or None")


@dataclass
class RunConfig:
    """Budget, seed, outputs."""

    total_steps: int = 1_000_000
    """environment steps (all envs together)."""
    seed: int = 1
    """seeds torch, numpy and the environments (0 <= seed < 2**31)."""
    run_dir: str | None = None
    """output directory (default: a new runs/<env>__<policy>__s<seed>__<time>-<random>). A dir
    that holds a run is never reused: continue it with ``--resume`` or replace it with
    ``--overwrite``."""
    init_from: str = ""
    """fine-tuning: start from the weights (observation normalizer, policy, critic) of this
    run dir's newest checkpoint, or of a checkpoint dir; the optimizer, counters, schedules and
    bonus buffers start fresh. The architecture must match (errors name the mismatch)."""
    freeze: tuple[str, ...] = ()
    """fine-tuning: parameter-name prefixes held fixed, as the checkpoint names them (e.g.
    ``policy.flow policy.encoder policy.base_dist.means``: with a mixture base, only its
    weights then adapt); a prefix that names no parameter is an error listing the names."""
    device: str = "cpu"
    """where the policy, critic and PPO update run: cpu, cuda, cuda:N, or auto (cuda when
    available). The simulator stays on the CPU; checkpoints are device-independent."""
    checkpoint_every: int = 50
    """updates between checkpoints (a final one is always written)."""
    keep_checkpoints: int = 3
    torch_threads: int = 1
    """torch intra-op threads (1 is fastest for these small nets on 2 cores)."""
    numpy_rollout: bool = True
    """on the CPU, evaluate the actor's per-step sample and the critic in numpy on views of the
    torch weights (torch's per-call overhead dominates at rollout sizes: ~4x faster per step;
    nfpo.policies.numpy_rollout). Same math and random draws as torch, equal to float32
    rounding; architectures it does not cover (spline couplings, a mixture base, LayerNorm,
    float64 actors) keep the torch path."""
    compile: bool = False
    """torch.compile the policy's log-prob in the PPO update, and its sample in the rollout
    where the rollout runs through torch (``--no-numpy-rollout``, a GPU, or an architecture the
    numpy path does not cover); fuses the flow's many small ops; a one-off compilation of
    ~30-60 s; the flow's speed with and without it: benchmarks/peers/README.md."""
    guard: str = ""
    """divergence guard: bounds on logged metrics that stop the run (the last good checkpoint
    is kept), e.g. "policy/log_ratio_min>-20,flow/logdet_max<30"."""
    eval_episodes: int = 10
    """deterministic evaluation episodes at the end of training (0: skip)."""
    eval_every: int = 0
    """every N updates (and at the end), evaluate ``eval_every_episodes`` deterministic episodes
    in a fresh env (``eval/return`` in the logs) and keep the best policy in
    RUN_DIR/checkpoints/best (``nfpo eval RUN_DIR --checkpoint best``; 0: off)."""
    eval_every_episodes: int = 5
    video_every: int = 0
    """every N updates (and at the end), render one deterministic episode of up to
    ``video_steps`` steps into RUN_DIR/videos/ (MuJoCo tasks, offscreen EGL; 0: off)."""
    video_steps: int = 1000
    report: bool = True
    """write report/ (curves + Markdown, and a still strip of the final policy for tasks that
    render) at the end of training."""
    tensorboard: bool = True
    track: bool = False
    """also log to Weights & Biases (``pip install 'nfpo[wandb]'``; ``WANDB_MODE=offline``
    logs without a network, ``wandb sync`` uploads later)."""
    wandb_project: str = "nfpo"
    wandb_entity: str | None = None
    progress: bool = True
    """rich progress bar (plain log lines when stdout is not a terminal)."""

    def validate(self) -> None:
        _check(self.total_steps >= 1, "total_steps", self.total_steps, "an integer >= 1")
        _check(0 <= self.seed < 2**31, "seed", self.seed, "an integer in [0, 2**31)")
        _check(self.device in ("cpu", "cuda", "auto") or (self.device.startswith("cuda:") and
               self.device[5:].isdigit()), "device", self.device, "cpu, cuda, cuda:N or auto")
        _check(self.eval_every >= 0, "eval_every", self.eval_every, ">= 0")
        _check(self.eval_every_episodes >= 1, "eval_every_episodes", self.eval_every_episodes,
               ">= 1")
        _check(self.checkpoint_every >= 1, "checkpoint_every", self.checkpoint_every, ">= 1")
        _check(self.keep_checkpoints >= 1, "keep_checkpoints", self.keep_checkpoints, ">= 1")
        _check(self.torch_threads >= 1, "torch_threads", self.torch_threads, ">= 1")
        _check(self.eval_episodes >= 0, "eval_episodes", self.eval_episodes, ">= 0")
        _check(self.video_every >= 0, "video_every", self.video_every, ">= 0")
        _check(self.video_steps >= 1, "video_steps", self.video_steps, ">= 1")
        from nfpo.guard import DivergenceGuard

        DivergenceGuard(self.guard)


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
