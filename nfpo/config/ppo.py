"""The PPO section of the config: rollout length, loss, stabilizers and schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from nfpo.validation import check as _check

NFPO_TARGET_KL = 0.1  # the KL stop of the NFPO default (policy=flow); docs/stability.md


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
