"""PPO with a clipped surrogate (Schulman et al. 2017), readable top to bottom.

Per minibatch, with r = exp(log pi_new(u|s) - log pi_old(u|s)) and advantages A:

    L_pi  = mean(max(-A r, -A clip(r, 1 - eps, 1 + eps)))
            (or, with policy_loss="awr", -mean(w log pi_new) with w ∝ exp(A / eta))
    L_V   = 0.5 mean(max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2))  (clip_vloss)
    L     = L_pi + vf_coef L_V - ent_coef H
    KL    ~ mean((r - 1) - log r)           (k3 estimator: unbiased, >= 0, sample-based, so it
                                             works for Gaussian and flow policies alike)

Policies are seen only through ``nfpo.policies.Policy``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nfpo.algo.cross_groups import CrossGroupTargets
from nfpo.algo.diagnostics import GradNorms, UpdateStats, module_groups
from nfpo.algo.schedules import adaptive_lr, linear, linear_lr
from nfpo.checkpoint import flatten_optimizer, unflatten_optimizer
from nfpo.config import PPOConfig
from nfpo.errors import ConfigError, DivergenceError
from nfpo.policies import Critic, Policy
from nfpo.storage import RolloutStorage


def clipped_surrogate(adv: Tensor, log_ratio: Tensor, clip_coef: float,
                      log_ratio_clamp: float | None = None) -> Tensor:
    """mean(max(-A r, -A clip(r, 1 - eps, 1 + eps))), r = exp(log_ratio).

    ``log_ratio_clamp`` c (stabilizer): r = exp(clamp(log r, -c, c)). Addresses exploding
    ratios through the unclipped side of the max (A < 0, r >> 1 + eps: the loss grows like r
    and one sample can dominate a minibatch). Cost: none; gradients outside [-c, c] are 0.
    """
    if log_ratio_clamp is not None:
        log_ratio = log_ratio.clamp(-log_ratio_clamp, log_ratio_clamp)
    ratio = log_ratio.exp()
    return torch.max(-adv * ratio, -adv * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)).mean()


def clipped_value_error(value: Tensor, old_value: Tensor, returns: Tensor,
                        clip: float | None) -> Tensor:
    """Per-sample value error ``[B]``: max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)
    (PPO's clipped value loss; plain (V - R)^2 if ``clip`` is None). Callers reduce it: nfpo
    takes 0.5 * mean, rsl_rl the mean."""
    err = (value - returns).pow(2)
    if clip is None:
        return err
    v_clipped = old_value + (value - old_value).clamp(-clip, clip)
    return torch.max(err, (v_clipped - returns).pow(2))


class KLStop:
    """Early stop of a PPO update on the k3 KL estimate. ``mode="minibatch"``: each minibatch's
    KL, measured before its gradient step, is compared with ``target_kl``; above it the step
    is skipped and the update ends. ``mode="epoch"``: the mean KL of each finished epoch
    (CleanRL). ``target_kl=None``: never."""

    def __init__(self, target_kl: float | None, mode: str) -> None:
        self.target_kl, self.mode = target_kl, mode
        self.epoch_kls: list[float] = []

    def skip_step(self, kl: float) -> bool:
        """Record a minibatch's KL; True if its step must be skipped and the update end."""
        self.epoch_kls.append(kl)
        return self.target_kl is not None and self.mode == "minibatch" and kl > self.target_kl

    def end_epoch(self) -> bool:
        """True if the finished epoch's mean KL is above the target (mode epoch); the next
        epoch starts a new mean."""
        kls, self.epoch_kls = self.epoch_kls, []
        return (self.target_kl is not None and self.mode == "epoch" and bool(kls)
                and sum(kls) / len(kls) > self.target_kl)


def weighted_mle(adv: Tensor, new_logp: Tensor, temperature: float,
                 max_weight: float) -> Tensor:
    """Advantage-weighted maximum likelihood (AWR, Peng et al. 2019; V-MPO, Song et al. 2020):

        L = -mean_i(w_i log pi(a_i|s_i)),  w_i = min(exp(A_i / eta), w_max) / mean_j(...)

    on actions a_i ~ pi_old. Its minimizer over all densities is the target
    pi_old(a|s) exp(A / eta) / Z: the loss is a forward KL from that target (plus a constant),
    which is mass-covering. Where the target has several separated lumps the fit keeps all of
    them; PPO's clipped surrogate follows the reverse direction and may settle on one. The
    weights carry no gradient. adv, new_logp: [B].
    """
    w = (adv / temperature).clamp(max=math.log(max_weight)).exp()
    w = w / w.mean()
    return -(w.detach() * new_logp).mean()


def k3_kl(log_ratio: Tensor) -> Tensor:
    """k3 estimate of KL(old || new) from log r = log pi_new - log pi_old of old samples."""
    return (torch.exp(log_ratio) - 1.0) - log_ratio


def make_adam(groups: list[dict], lr: float, eps: float) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has it for the parameters' device (CPU since
    torch 2.4): one C++ pass over all tensors instead of a Python loop per tensor. One PPO
    update at Hopper size took 0.75x the time with it, for the flow and the Gaussian alike
    (benchmarks/throughput/optimizer.md). Falls back to torch's default."""
    try:
        return torch.optim.Adam(groups, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups, lr=lr, eps=eps)


class PPO:
    def __init__(self, policy: Policy, critic: Critic, cfg: PPOConfig, num_updates: int,
                 generator: torch.Generator | None = None, compile: bool = False) -> None:
        if "auto" in (cfg.target_kl, cfg.kl_stop):
            raise ConfigError("PPOConfig has unresolved 'auto' fields; call "
                              "TrainConfig.validate() or PPOConfig.resolve(policy_kind) first")
        self.policy, self.critic, self.cfg = policy, critic, cfg
        # the minibatch log-prob (forward + backward) dominates a flow's update time
        self.log_prob = torch.compile(policy.log_prob) if compile else policy.log_prob
        self.num_updates = num_updates
        self.generator = generator
        self.params = list(policy.parameters()) + list(critic.parameters())
        self.groups = module_groups(policy, critic)
        # stabilizer: the flow's parameters may get a smaller learning rate (flow_lr_scale) and
        # their own grad-norm clip
        self.flow_params = policy.flow_parameters()
        flow_ids = {id(p) for p in self.flow_params}
        rest = [p for p in self.params if id(p) not in flow_ids]
        groups = [{"params": rest, "lr_scale": 1.0}]
        if self.flow_params:
            groups.append({"params": self.flow_params, "lr_scale": cfg.flow_lr_scale})
        self.optimizer = make_adam(groups, lr=cfg.learning_rate, eps=cfg.adam_eps)
        self.lr = cfg.learning_rate
        self._set_lr(self.lr)
        self.log_alpha = math.log(cfg.ent_coef if cfg.ent_coef > 0 else 1e-3)
        self.updates_done = 0

    def _set_lr(self, lr: float) -> None:
        self.lr = lr
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g["lr_scale"]

    def update(self, storage: RolloutStorage, cross: CrossGroupTargets | None = None
               ) -> dict[str, float]:
        """Run ``num_epochs`` epochs of minibatch updates on a filled storage; return metrics.
        ``cross``: the other groups' steps each group also learns from, with coefficient
        ``group_cross_coef`` (``nfpo.algo.cross_groups``)."""
        cfg = self.cfg
        if cfg.lr_schedule == "linear":
            self._set_lr(linear_lr(cfg.learning_rate, self.updates_done, self.num_updates))

        # Identical-parameter check: re-score every stored action before any step. In exact
        # arithmetic log r = 0; anything else is numerical error of the log-prob computation.
        full = storage.flat()
        with torch.no_grad():
            err = (self.policy.log_prob(full.obs, full.actions, full.components)
                   - full.log_probs).abs()
        ratio_err = err.max().item() if err.numel() else 0.0

        alpha = self.ent_reward_coef  # before updates_done moves on
        stats = UpdateStats()
        early_stop, kl_at_stop = 0.0, math.nan
        kl_stop = KLStop(cfg.target_kl, cfg.kl_stop)
        for _epoch in range(cfg.num_epochs):
            for mb in storage.minibatches(cfg.num_minibatches, self.generator):
                new_logp = self.log_prob(mb.obs, mb.actions, mb.components)
                log_ratio = new_logp - mb.log_probs
                ratio = log_ratio.exp()
                with torch.no_grad():
                    kl = k3_kl(log_ratio).mean().item()
                    clipfrac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item()
                if kl_stop.skip_step(kl):  # no step on this minibatch; still logged
                    stats.add_log_ratio(log_ratio)
                    early_stop, kl_at_stop = 1.0, kl
                    break
                if cfg.lr_schedule == "adaptive":
                    self._set_lr(adaptive_lr(self.lr, kl, cfg.desired_kl, cfg.min_lr, cfg.max_lr))

                adv = mb.advantages
                if cfg.norm_adv and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                if cfg.policy_loss == "awr":
                    pg_loss = weighted_mle(adv, new_logp, cfg.awr_temperature,
                                           cfg.awr_max_weight)
                else:
                    pg_loss = clipped_surrogate(adv, log_ratio, cfg.clip_coef,
                                                cfg.log_ratio_clamp)

                if cross is not None:
                    cross_loss = cross.loss(mb, self.log_prob, cfg.clip_coef)
                    pg_loss = pg_loss + cfg.group_cross_coef * cross_loss

                value = self.critic(mb.value_obs)
                v_loss = 0.5 * clipped_value_error(value, mb.values, mb.returns, cfg.clip_coef
                                                   if cfg.clip_vloss else None).mean()

                loss = pg_loss + cfg.vf_coef * v_loss
                ent_coef = self.ent_coef
                if ent_coef > 0:
                    loss = loss - ent_coef * self._entropy_bonus(mb.obs, ratio, new_logp)
                if not torch.isfinite(loss):
                    raise DivergenceError(
                        f"non-finite loss at update {self.updates_done} "
                        f"(policy loss={pg_loss.item()}, value loss={v_loss.item()})")

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grads = GradNorms(self.params)
                norms = grads.named(self.groups)
                if not math.isfinite(norms["total"]):
                    bad = [k for k, v in norms.items() if not math.isfinite(v) and k != "total"]
                    raise DivergenceError(f"non-finite gradient in {bad} at update "
                                          f"{self.updates_done}")
                if cfg.flow_max_grad_norm is not None and self.flow_params:
                    nn.utils.clip_grad_norm_(self.flow_params, cfg.flow_max_grad_norm)
                    nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
                else:  # from the norms just taken
                    grads.clip_(cfg.max_grad_norm)
                self.optimizer.step()

                stats.add(log_ratio, {
                    "loss/policy": pg_loss.item(), "loss/value": v_loss.item(),
                    "policy/approx_kl": kl, "policy/clip_fraction": clipfrac,
                    "train/grad_norm": norms.pop("total"),
                    **({"loss/cross_group": cross_loss.item()} if cross is not None else {}),
                    **{f"grad_norm/{k}": v for k, v in norms.items()}})
            if early_stop or kl_stop.end_epoch():
                early_stop = 1.0
                break

        self.updates_done += 1
        metrics = stats.summary()
        if cfg.kl_stop == "minibatch" and cfg.target_kl is not None:
            metrics["train/kl_at_stop"] = kl_at_stop
        with torch.no_grad():
            var_y = full.returns.var()
            ev = 1.0 - (full.returns - full.values).var() / var_y if var_y > 0 else torch.nan
            entropy = self.policy.entropy(full.obs).mean().item()
        if cfg.target_entropy is not None:
            self.update_entropy_coef(entropy)
        metrics.update({
            "policy/entropy": entropy,
            "policy/ent_coef": self.ent_coef,
            "policy/ratio_error_at_start": ratio_err,
            "train/learning_rate": self.lr,
            "train/early_stop": early_stop,
            "train/minibatch_steps": float(stats.n),
            "value/explained_variance": float(ev),
        })
        if cross is not None:
            metrics["groups/cross_weight"] = cross.mean_weight()
        if cfg.ent_reward_coef or cfg.ent_reward_coef_final:  # the alpha this batch used
            metrics["policy/ent_reward_coef"] = alpha
        return metrics

    def _entropy_bonus(self, obs: Tensor, ratio: Tensor, new_logp: Tensor) -> Tensor:
        """The minibatch's entropy term: exact if the policy has it in closed form, else the
        Monte-Carlo estimate chosen by ``entropy_estimate`` (see ``PPOConfig``)."""
        if self.policy.closed_form_entropy or self.cfg.entropy_estimate == "reparam":
            return self.policy.entropy(obs).mean()
        return -(ratio * new_logp).mean()

    @property
    def ent_coef(self) -> float:
        """The entropy coefficient: ``ent_coef`` (annealed linearly to ``ent_coef_final`` over the
        updates if set), or exp(log_alpha) under a target entropy."""
        cfg = self.cfg
        if cfg.target_entropy is not None:
            return math.exp(self.log_alpha)
        return self._annealed(cfg.ent_coef, cfg.ent_coef_final)

    @property
    def ent_reward_coef(self) -> float:
        """The soft-return coefficient alpha of this update: ``ent_reward_coef``, annealed
        linearly to ``ent_reward_coef_final`` over the updates if set."""
        return self._annealed(self.cfg.ent_reward_coef, self.cfg.ent_reward_coef_final)

    def _annealed(self, start: float, final: float | None) -> float:
        """``start`` moved linearly to ``final`` over the updates (``start`` if None)."""
        if final is None:
            return start
        return linear(start, final, min(self.updates_done, self.num_updates), self.num_updates)

    def update_entropy_coef(self, entropy: float) -> None:
        """Target-entropy controller (stabilizer against entropy/volume collapse), a dual step:
        log_alpha += entropy_lr * (target - H), clamped to alpha in [1e-6, 1]. The coefficient
        grows while the (Monte-Carlo) entropy is below target. Cost: the entropy pass per
        minibatch once alpha > 0."""
        step = self.cfg.entropy_lr * (self.cfg.target_entropy - entropy)
        self.log_alpha = min(max(self.log_alpha + step, math.log(1e-6)), 0.0)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "lr": self.lr,
                "updates_done": self.updates_done, "log_alpha": self.log_alpha}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self._set_lr(state["lr"])
        self.updates_done = state["updates_done"]
        self.log_alpha = state.get("log_alpha", self.log_alpha)

    def checkpoint_state(self) -> tuple[dict[str, Tensor], dict]:
        """``state_dict`` split for a checkpoint: the optimizer's tensors (``optim.*``) and
        the JSON-able rest (``param_groups`` included); ``load_checkpoint_state`` inverts it."""
        state = self.state_dict()
        tensors, meta = flatten_optimizer(state.pop("optimizer"))
        return tensors, {**state, **meta}

    def load_checkpoint_state(self, tensors: dict[str, Tensor], state: dict) -> None:
        self.load_state_dict({**state, "optimizer": unflatten_optimizer(tensors, state)})
