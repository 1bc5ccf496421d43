"""Rollout collection: step the vector env with the agent's policy and fill a RolloutStorage.

Per step: normalize the observation (and update the running statistics), sample u ~ pi(.|s)
(from i.i.d. or, with ``noise_correlation``, AR(1) base noise, or with
``flow_base_mixture_hold`` a mixture component held per episode: ``nfpo.policies.noise``)
and V(s) (on the CPU in numpy, ``nfpo.policies.numpy_rollout``, else through torch), step
the envs, check for non-finite values, book finished episodes into ``EpisodeStats``, and build
the reward PPO learns from:

    r_t = scale( r_env + b_outcome (at an episode's end) + b_state - alpha log pi(u_t|s_t) )
          + gamma V(s_final)   on truncation (time-out bootstrap; termination cuts)

(``nfpo.algo.outcome`` for the bonuses, soft returns with ``alpha = ent_reward_coef``, the
reward scaler of ``nfpo.normalization``). After ``num_steps`` steps the storage computes
GAE(lambda) from V(s_T), and optional advantage corrections run on it (mode balance over
outcome clusters, lump balance over held components: ``nfpo.algo.modes``). The collector owns
the state that lives across updates: reward scaler, bonus buffers, per-env episode bookkeeping;
``state_dict`` / ``loop_state`` hold what a bit-identical resume needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nfpo.agent import Agent
from nfpo.algo.group_weights import GroupWeights
from nfpo.algo.modes import ModeBalance, correct_in_place, lump_balance
from nfpo.algo.outcome import EpisodeDescriptors, OutcomeBonus, StateNovelty
from nfpo.config import TrainConfig
from nfpo.envs import EnvSpec
from nfpo.envs.nonfinite import NonFiniteFilter
from nfpo.envs.state import UnsupportedEnvState, get_env_state, set_env_state
from nfpo.envs.terms import EpisodeTerms
from nfpo.episodes import EpisodeStats
from nfpo.normalization import RewardScaler
from nfpo.policies.noise import HeldComponent, make_noise
from nfpo.policies.numpy_rollout import NumpyRollout
from nfpo.storage import RolloutStorage


class Collector:
    """``collect(...)`` fills its ``storage`` (a ``RolloutStorage`` it builds for the run: the
    actor's and, where the critic reads something else, the critic's inputs; the held mixture
    components of a held run) with ``num_steps`` steps of every env. ``start`` resets the
    envs; ``running`` then holds the running episodes (obs ``[N, O]``, returns ``[N]``,
    lengths ``[N]``), which ``collect`` continues and ``loop_state`` saves.
    ``last_good``: a callback naming the last good checkpoint (error messages)."""

    def __init__(self, cfg: TrainConfig, envs: Any, spec: EnvSpec, agent: Agent,
                 stats: EpisodeStats, device: torch.device, last_good: Callable[[], str]
                 ) -> None:
        self.cfg, self.envs, self.spec, self.agent = cfg, envs, spec, agent
        self.stats, self.device = stats, device
        n, p = cfg.env.num_envs, cfg.ppo
        self.storage = RolloutStorage(p.num_steps, n, spec.obs_dim, spec.act_dim,
                                      agent.stored_critic_dim, device,
                                      components=cfg.policy.holds_components)
        self.reward_scaler = RewardScaler(n, p.gamma, cfg.env.clip_reward)
        self.nonfinite = NonFiniteFilter(cfg.env.nonfinite, envs, last_good)
        self.terms = EpisodeTerms(n)
        self.descr = EpisodeDescriptors(n, spec.obs_dim, spec.act_dim)
        self.outcome = OutcomeBonus(p.outcome_bonus, p.outcome_bandwidth, p.outcome_buffer) \
            if p.outcome_bonus else None
        self.state_novelty = StateNovelty(p.state_bonus, p.state_bonus_bandwidth,
                                          p.state_bonus_buffer) if p.state_bonus else None
        self.modes = ModeBalance(n, p.mode_balance_clusters, p.mode_balance,
                                 p.mode_balance_shrink) if p.mode_balance else None
        pc = cfg.policy  # a mixture of held flows whose group weights follow the returns
        # a group merged away owns no lump (weights from --init-from a run with merges; a
        # resume loads the same from its state)
        self.group_weights = GroupWeights(
            pc.flow_groups, pc.flow_groups_temperature, pc.flow_groups_floor,
            alive=np.isin(np.arange(pc.flow_groups), agent.policy.group_of.cpu().numpy())) \
            if pc.flow_groups_temperature else None
        # lagging groups restart, close ones merge (runner): both need episode descriptors
        self.regroup = bool(pc.flow_groups_restart or pc.flow_groups_merge)
        # episode descriptors (mean normalized obs and action) for the bonus, the mode
        # balance and the restarts' nearest donor
        self.describe = self.outcome is not None or self.modes is not None or self.regroup
        self.metrics: dict[str, float] = {}  # of the last rollout (mode balance, groups)
        self.running: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # set by start
        # persistent exploration (AR(1) base noise or a held mixture component), if any
        self.noise = make_noise(cfg.policy, n, spec.act_dim, agent.policy)
        self.held = isinstance(self.noise, HeldComponent)
        # numpy inference of the per-step sample and value (CPU, covered architectures); else
        # torch, with --compile one fused graph for the sample (the flow's ~90 small ops)
        self.fast = NumpyRollout.build(agent.policy, agent.critic, self.held) \
            if cfg.run.numpy_rollout and device.type == "cpu" else None
        self._sample = torch.compile(agent.policy.sample) \
            if cfg.run.compile and self.fast is None else agent.policy.sample

    def collect(self, alpha: float, global_step: int, update_idx: int) -> None:
        """Fill the storage continuing the ``running`` episodes (set by ``start``; their
        returns and lengths are updated in place, the next observation replaces theirs);
        ``alpha``: the soft-return coefficient of this rollout."""
        if self.running is None:
            raise RuntimeError("Collector.collect before Collector.start (no running episodes)")
        obs, ep_ret, ep_len = self.running
        cfg, agent, spec, storage = self.cfg, self.agent, self.spec, self.storage
        ended_before = self.stats.pending
        if self.modes is not None:
            self.modes.start(ep_len)
        if self.group_weights is not None:
            self._reweight_groups(global_step)
        for _ in range(cfg.ppo.num_steps):
            if self.fast is not None:
                x, xc, u, logp, value, a, k = self._step_numpy(obs)
            else:
                x, xc = self.inputs(obs, update_norm=cfg.env.normalize_obs)
                kw = {} if self.noise is None else self.noise.draw(x.device)
                k = kw.get("component")  # held mixture components, if any
                xc = agent.critic_input(xc, k)
                with torch.inference_mode():
                    u, logp = self._sample(x, **kw)
                    value = agent.critic(xc)
                a = agent.policy.to_action(u).cpu().numpy()
            obs, reward, term, trunc, info = self.envs.step(spec.scale_action(a))
            dropped = self.nonfinite.check(obs, reward, term, trunc, global_step +
                                           storage.step * cfg.env.num_envs, update_idx)
            self.stats.drop(int(np.count_nonzero(dropped)))
            done = term | trunc
            if self.noise is not None:
                self.noise.restart(done)
            ep_ret += reward
            ep_len += 1
            ended = self.descr.pop_ended(x.cpu().numpy(), a, done) if self.describe else {}
            if self.group_weights is not None and k is not None and done.any():
                kept = np.flatnonzero(done & ~dropped)
                self.group_weights.observe(
                    agent.policy.group_of.cpu()[k.cpu()].numpy()[kept], ep_ret[kept],
                    np.array([ended[i] for i in kept]) if self.regroup else None)
            self._book_episodes(info, done, dropped, ep_ret, ep_len)
            if self.outcome is not None or self.modes is not None:
                if self.outcome is not None:  # outcome-entropy bonus at each episode's end
                    reward = self.outcome.add_to_rewards(ended, done & ~dropped, reward)
                if self.modes is not None:
                    self.modes.step(done, ended)
            if self.state_novelty is not None:  # state-marginal entropy bonus, every step
                reward = reward + self.state_novelty.bonus(x.cpu().numpy())
            if alpha:  # soft returns: the entropy reward -alpha log pi
                reward = reward - alpha * logp.cpu().numpy()
            r = self.reward_scaler(reward, done) if cfg.env.scale_reward else reward.copy()
            timeouts = np.flatnonzero(trunc & ~term)
            if len(timeouts):  # bootstrap V(s_final) on truncation, not on termination
                _, xc_final = self.inputs(np.stack([info["final_obs"][i] for i in timeouts]))
                xc_final = agent.critic_input(xc_final, None if k is None else k[timeouts])
                with torch.no_grad():
                    v_final = agent.critic(xc_final).cpu().numpy()
                r[timeouts] += cfg.ppo.gamma * v_final
            storage.add(x, u, logp, value, r, done, xc, k)
        with torch.no_grad():  # (the components of envs that just ended are not used by GAE)
            last_value = agent.critic(agent.critic_input(self.inputs(obs)[1], k))
        storage.compute_returns(last_value, cfg.ppo.gamma, cfg.ppo.gae_lambda)
        if self.modes is not None:  # no preference between outcome clusters
            self.metrics = self.modes.apply(storage.advantages, self.descr.means(),
                                            seed=cfg.run.seed * 100_003 + update_idx)
        if cfg.ppo.lump_balance:  # no preference between far-apart held lumps
            self.metrics = {**self.metrics, **self._balance_lumps()}
        if self.group_weights is not None:
            w, r = agent.policy.group_weights().tolist(), self.group_weights.returns
            self.metrics = {**self.metrics, **{f"groups/weight{g}": v for g, v in enumerate(w)},
                            **{f"groups/return{g}": float(v) for g, v in enumerate(r)},
                            "groups/sigma": self.return_scale()}
            if self.regroup:
                self.metrics["groups/restarts"] = float(self.group_weights.restarts)
                self.metrics["groups/live"] = float(self.group_weights.alive.sum())
        self.nonfinite.end_update(update_idx + 1, self.stats.pending - ended_before,
                                  self.stats.dropped)
        self.running = (obs, ep_ret, ep_len)

    def _reweight_groups(self, global_step: int) -> None:
        """From ``flow_groups_start`` of training on, set the mixture's group weights from
        the groups' returns (``nfpo.algo.group_weights``; sigma: the reward scaler's return
        std, 1 without reward scaling)."""
        cfg = self.cfg
        if global_step < cfg.policy.flow_groups_start * cfg.run.total_steps:
            return
        w = self.group_weights.weights(self.return_scale())
        if w is not None:
            self.agent.policy.set_group_weights(torch.as_tensor(w))

    def return_scale(self) -> float:
        """sigma: the reward scaler's return std (1 without reward scaling)."""
        return float(np.sqrt(self.reward_scaler.var)) if self.cfg.env.scale_reward else 1.0

    def _balance_lumps(self) -> dict[str, float]:
        """``nfpo.algo.modes.lump_balance`` on the stored advantages, in place."""
        p, st = self.cfg.ppo, self.storage
        means = self.agent.policy.base_dist.means.detach().cpu().numpy().astype(np.float64)
        components = st.components.cpu().numpy().ravel()
        return {"lumps/between_fraction": correct_in_place(st.advantages, lambda adv: lump_balance(
            adv, components, means, p.lump_balance_bandwidth, p.lump_balance,
            p.mode_balance_shrink))}

    def _step_numpy(self, obs: np.ndarray) -> tuple[Any, ...]:
        """One step's (x, xc, u, log pi, V) as tensors over numpy arrays, the env action
        ``a`` and the held components (or None), computed by ``NumpyRollout`` (noise drawn
        from torch's generator in the torch path's order: held components, then the base
        noise)."""
        x, xc = self.inputs_numpy(obs, update_norm=self.cfg.env.normalize_obs)
        n, d = len(x), self.spec.act_dim
        k = self.noise.next() if self.held else None
        z = self.noise.draw()["z"] if self.noise is not None and not self.held else \
            torch.randn(n, d)
        u, logp = self.fast.sample(x, z.numpy(), None if k is None else k.numpy())
        if k is not None and self.agent.critic_components:  # the critic reads the group
            index = self.agent.policy.critic_condition(k).numpy()
            xc = np.concatenate([xc, np.eye(self.agent.critic_components,
                                            dtype=np.float32)[index]], 1)
        value = self.fast.value(xc)
        xt = torch.from_numpy(x)
        return (xt, xt if xc is x else torch.from_numpy(xc), torch.from_numpy(u),
                torch.from_numpy(logp), torch.from_numpy(value), self.fast.to_action(u),
                None if k is None else k.clone())

    def _book_episodes(self, info: dict[str, Any], done: np.ndarray, dropped: np.ndarray,
                       ep_ret: np.ndarray, ep_len: np.ndarray) -> None:
        """Pass every finished, kept episode (return, length, reward terms, and the mode of
        multimodal tasks) to ``stats``; restart its running sums."""
        final = info.get("final_info", {})
        self.terms.add(info, done)
        for i in np.flatnonzero(done):
            terms = self.terms.pop(i)
            if not dropped[i]:
                mode = None
                if "mode" in final and final["_mode"][i]:
                    ok = final["success"][i] if "success" in final else final["mode"][i] >= 0
                    mode = (int(final["mode"][i]), int(final["num_modes"][i]), float(ok))
                self.stats.add(float(ep_ret[i]), int(ep_len[i]), terms, mode)
            ep_ret[i], ep_len[i] = 0.0, 0

    def inputs(self, obs: np.ndarray, update_norm: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized (actor, critic) inputs ``[B, O]``, ``[B, C or O]`` of raw env
        observations (``[actor | critic]`` with an asymmetric critic, ``EnvSpec.split``); with
        ``update_norm`` the running normalizers take them in first."""
        if self.device.type == "cpu":  # numpy: fewer small torch calls per step
            x, xc = self.inputs_numpy(obs, update_norm)
            xt = torch.from_numpy(x)
            return xt, (xt if xc is x else torch.from_numpy(xc))
        obs_t, cobs_t = (torch.as_tensor(o, dtype=torch.float32, device=self.device)
                         for o in self.spec.split(obs))
        if update_norm:
            self.agent.obs_norm.update(obs_t)
            if self.spec.critic_obs_dim:
                self.agent.critic_norm.update(cobs_t)
        with torch.inference_mode():
            x = self.agent.norm(obs_t)
            return x, self.agent.norm_critic(cobs_t, x)

    def inputs_numpy(self, obs: np.ndarray, update_norm: bool = False
                     ) -> tuple[np.ndarray, np.ndarray]:
        """``inputs`` as float32 numpy arrays (CPU); ``xc is x`` without an asymmetric
        critic."""
        if self.spec.critic_obs_dim:
            o, co = (np.array(o, dtype=np.float32) for o in self.spec.split(obs))
        else:
            o = co = np.array(obs, dtype=np.float32)
        if update_norm:
            self.agent.obs_norm.update(o)
            if self.spec.critic_obs_dim:
                self.agent.critic_norm.update(co)
        return self.agent.norm_numpy(o, co)

    # --- persistence (keys as in checkpoints written before this class existed) -----------
    def state_dict(self) -> dict[str, Any]:
        """Reward scaler and bonus buffers (checkpoint ``state.json`` top level)."""
        out = {"reward_scaler": self.reward_scaler.state_dict(),
               "outcome": self.outcome.state_dict() if self.outcome is not None else None,
               "state_novelty": (self.state_novelty.state_dict()
                                 if self.state_novelty is not None else None)}
        if self.group_weights is not None:
            out["group_weights"] = self.group_weights.state_dict()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.reward_scaler.load_state_dict(state["reward_scaler"])
        if self.outcome is not None:
            self.outcome.load_state_dict(state["outcome"])
        if self.state_novelty is not None:
            self.state_novelty.load_state_dict(state["state_novelty"])
        if self.group_weights is not None:
            self.group_weights.load_state_dict(state["group_weights"])

    def loop_state(self) -> dict[str, Any] | None:
        """The running episodes (checkpoint ``loop``): next observation, their returns and
        lengths, every env's exact state and the per-env bookkeeping; None before ``start`` or
        if an env's state cannot be saved (a resume then restarts the envs from a reset)."""
        if self.running is None or not hasattr(self.envs, "envs"):  # EnvPool: no env state
            return None
        obs, ep_ret, ep_len = self.running
        try:
            envs = [get_env_state(e) for e in self.envs.envs]
        except UnsupportedEnvState:
            return None
        out = {"obs": obs.tolist(), "ep_ret": ep_ret.tolist(), "ep_len": ep_len.tolist(),
               "envs": envs, "terms": self.terms.state_dict(),
               "descriptors": self.descr.state_dict()}
        if self.noise is not None:
            out["noise"] = self.noise.state_dict()
        return out

    def start(self, seed: int, loop: dict[str, Any] | None, resumed: bool) -> None:
        """Reset the envs (``seed``) and set ``running``; given a checkpoint's ``loop``,
        continue its running episodes exactly."""
        obs, _ = self.envs.reset(seed=seed)
        n = self.cfg.env.num_envs
        ep_ret, ep_len = np.zeros(n), np.zeros(n, dtype=np.int64)
        if loop is not None:
            for env, st in zip(self.envs.envs, loop["envs"], strict=True):
                set_env_state(env, st)
            obs = np.asarray(loop["obs"], dtype=obs.dtype)
            ep_ret = np.asarray(loop["ep_ret"], dtype=np.float64)
            ep_len = np.asarray(loop["ep_len"], dtype=np.int64)
            self.load_loop_state(loop)
        elif resumed:
            print("note: env states were not in the checkpoint; environments restart from a "
                  "reset (the resumed run is not bit-identical)", file=sys.stderr)
        self.running = (obs, ep_ret, ep_len)

    def load_loop_state(self, loop: dict[str, Any]) -> None:
        if self.noise is not None and "noise" in loop:
            self.noise.load_state_dict(loop["noise"])
        if "terms" in loop:
            self.terms.load_state_dict(loop["terms"])
        if "descriptors" in loop:
            self.descr.load_state_dict(loop["descriptors"])
