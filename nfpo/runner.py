"""The training loop: rollout -> GAE -> PPO update -> log -> checkpoint. The only module that
knows every piece; it talks to policies through ``Agent`` and to the algorithm through ``PPO``.
"""

from __future__ import annotations

import math
import secrets
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch

from nfpo import rng
from nfpo.agent import Agent, resolve_device
from nfpo.algo import PPO
from nfpo.algo.cross_groups import CrossGroupTargets
from nfpo.algo.diagnostics import rollout_stats
from nfpo.algo.group_restart import copy_parts
from nfpo.collector import Collector
from nfpo.config import TrainConfig
from nfpo.envs import env_spec, import_env_modules, make_vec_env, parse_perturb
from nfpo.episodes import EpisodeStats
from nfpo.errors import CheckpointError, DivergenceError
from nfpo.evaluate import periodic_eval, record_clip
from nfpo.guard import DivergenceGuard
from nfpo.logger import MetricsLogger, truncate_metrics, wandb_options
from nfpo.progress import Progress
from nfpo.run_dir import RunDir
from nfpo.signals import StopSignals

RUNS_ROOT = Path("runs")  # where runs without --run-dir go


class Trainer:
    """Builds everything from a ``TrainConfig`` and runs ``train()``.

    A new run refuses a run dir that already holds a run unless ``overwrite`` (then the old run
    is deleted first); ``Trainer.resume`` restores weights, optimizer, normalizers, counters and
    RNG states (``resuming``)."""

    exit_after_signal = False
    """Set by the CLI: after a stop signal the process exits, so ``train()`` leaves SIGINT
    and SIGTERM ignored instead of restoring their handlers (in-process users keep theirs)."""

    def __init__(self, cfg: TrainConfig, run_dir: Path | str | None = None,
                 overwrite: bool = False, resuming: bool = False) -> None:
        self.cfg = cfg = cfg.validate()  # a resolved copy; the caller's cfg is left as given
        rng.seed_everything(cfg.run.seed)
        torch.set_num_threads(cfg.run.torch_threads)
        self.device = resolve_device(cfg.run.device)
        explicit = run_dir or cfg.run.run_dir
        rundir = RunDir(explicit) if explicit else None
        if rundir is not None and not resuming:
            rundir.prepare_new(overwrite)  # before anything is built: fail fast, lose nothing
        if not resuming and (note := cfg.rounding_note()):
            print(f"note: {note}", file=sys.stderr)
        import_env_modules(cfg.env.env_import)
        e = cfg.env
        self.envs = make_vec_env(e.id, e.num_envs, e.kwargs(), parse_perturb(e.randomize),
                                 e.backend, e.obs_key, e.critic_obs_key, e.envpool_threads,
                                 cfg.run.seed)
        self.spec = env_spec(self.envs, cfg.env.id)
        self.run = rundir or RunDir.create_default(RUNS_ROOT, cfg.env.id, cfg.policy.kind,
                                                   cfg.run.seed)
        self.run_dir = self.run.path
        self._last_good = partial(self.run.last_good, cfg.run.checkpoint_every)  # for errors
        self.agent = Agent(cfg, self.spec.obs_dim, self.spec.act_dim,
                           self.spec.critic_obs_dim).to(self.device)
        if cfg.run.init_from and not resuming:  # fine-tuning (a resume loads its own weights)
            self.agent.init_from(cfg.run.init_from)
        self.agent.freeze(cfg.run.freeze)
        self.generator = torch.Generator().manual_seed(cfg.run.seed)
        self.ppo = PPO(self.agent.policy, self.agent.critic, cfg.ppo, cfg.num_updates,
                       self.generator, compile=cfg.run.compile)
        self.global_step, self.update_idx, self.wall_time = 0, 0, 0.0
        self.stats = EpisodeStats()
        self.best_eval_return = -math.inf  # of the periodic evaluation (checkpoints/best)
        self.wandb_id = secrets.token_hex(4)  # one W&B run across resumes (--track)
        self.stop = StopSignals()  # SIGINT/SIGTERM: finish the update, checkpoint, exit 130
        self._restored: dict[str, Any] | None = None  # env states etc. from a checkpoint
        self.guard = DivergenceGuard(cfg.run.guard)
        self.collector = Collector(cfg, self.envs, self.spec, self.agent, self.stats,
                                   self.device, self._last_good)
        self.storage = self.collector.storage

    # --- persistence ----------------------------------------------------------------------
    def save(self, name: str | None = None, **extra: Any) -> Path:
        """Checkpoint everything a resume needs (``name``: a named dir such as ``best``)."""
        ppo_tensors, ppo_state = self.ppo.checkpoint_state()
        tensors = {**self.agent.tensors(), **ppo_tensors, **rng.capture_torch(self.generator)}
        state = {"global_step": self.global_step, "update": self.update_idx,
                 "wall_time": self.wall_time, **self.stats.state_dict(),
                 "best_eval_return": self.best_eval_return, "wandb_id": self.wandb_id,
                 "ppo": ppo_state, **self.collector.state_dict(), **rng.capture(),
                 "loop": self.collector.loop_state(), **extra}
        return self.run.save_checkpoint(self.global_step, tensors, state,
                                        self.cfg.run.keep_checkpoints, name=name)

    @classmethod
    def resume(cls, run_dir: Path, total_steps: int | None = None) -> Trainer:
        """Continue a run from its newest checkpoint (optionally with a larger budget; the
        linear LR schedule is then stretched over the new total)."""
        cfg, tensors, state = RunDir(run_dir).read_resume()
        if total_steps is not None:
            cfg.run.total_steps = total_steps
        self = cls(cfg, run_dir, resuming=True)
        if state is None:  # stopped before its first checkpoint
            print(f"note: {run_dir} has no checkpoint yet: the run starts over with its saved "
                  "config", file=sys.stderr)
        else:
            try:
                self._restore(tensors, state)
            except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
                raise CheckpointError(f"cannot resume {run_dir}: checkpoint state is incomplete "
                                      f"or corrupted ({type(e).__name__}: {e})") from e
        truncate_metrics(run_dir, self.global_step)  # drop rows logged after the checkpoint
        return self

    def _restore(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        self.agent.load_tensors(tensors)
        self.ppo.load_checkpoint_state(tensors, state["ppo"])
        self.collector.load_state_dict(state)
        self.global_step, self.update_idx = state["global_step"], state["update"]
        self.wall_time = state["wall_time"]
        self.stats.load_state_dict(state)
        self.best_eval_return = max(state.get("best_eval_return", -math.inf),
                                    self.run.best_eval_return())
        self.wandb_id = state.get("wandb_id", self.wandb_id)
        rng.restore_torch(tensors, self.generator)
        rng.restore(state)
        self._restored = state.get("loop")

    # --- the loop -------------------------------------------------------------------------
    def train(self) -> Path:
        """Run to ``total_steps``; returns the run dir. On SIGINT/SIGTERM: checkpoint, exit 130."""
        cfg = self.cfg
        self.run.write_config(cfg, self.spec)
        logger = MetricsLogger(self.run_dir, cfg.run.tensorboard, config=cfg.to_dict(),
                               wandb=wandb_options(cfg.run, self.wandb_id, self.run_dir))
        self.stop.install()
        num_updates = cfg.num_updates
        self.collector.start(cfg.run.seed + 1000 * self.update_idx, self._restored,
                             self.update_idx > 0)
        progress = Progress(cfg.run.progress, cfg.num_updates * cfg.batch_size, self.global_step)
        try:
            while self.update_idx < num_updates:
                metrics, dt = self._update()
                last = self.update_idx == num_updates
                evaluate_now = cfg.run.eval_every and (
                    self.update_idx % cfg.run.eval_every == 0 or last)
                if evaluate_now:
                    metrics.update(periodic_eval(self.agent, cfg))
                logger.log(self.global_step, metrics)
                self.guard.check(metrics, self.update_idx)  # before any checkpoint of it
                progress.update(self.global_step, cfg.batch_size / dt, self.stats.recent_return)
                if evaluate_now and metrics["eval/return"] > self.best_eval_return:
                    self.best_eval_return = metrics["eval/return"]
                    self.save("best", eval_return=self.best_eval_return)
                if self.update_idx % cfg.run.checkpoint_every == 0 or last:
                    self.save()
                if cfg.run.video_every and (self.update_idx % cfg.run.video_every == 0 or last):
                    clip = self.run_dir / "videos" / f"update_{self.update_idx:06d}.mp4"
                    logger.image("video/frame", record_clip(self.agent, cfg, clip),
                                 self.global_step)
                if self.stop.signum is not None:
                    path = self.save()
                    progress.close()
                    print(f"\nstopped by signal {self.stop.signum}: checkpoint {path}\n"
                          f"resume with: nfpo train --resume {self.run_dir}", file=sys.stderr)
                    raise SystemExit(130)
        except DivergenceError as e:
            self.run.write_failure("divergence", str(e), update=self.update_idx,
                                   global_step=self.global_step)
            raise
        finally:
            progress.close()
            logger.close()
            self.envs.close()
            self.stop.restore(self.exit_after_signal)
        self.run.write_summary({
            "global_step": self.global_step, "wall_time": self.wall_time,
            "steps_per_second": self.global_step / max(self.wall_time, 1e-9),
            **self.stats.summary(),
            **({"best_eval_return": self.best_eval_return}
               if math.isfinite(self.best_eval_return) else {})})
        return self.run_dir

    def _cross_groups(self) -> CrossGroupTargets | None:
        """With ``group_cross_coef``: what each group of a mixture of held flows learns from
        the other groups' steps in this rollout (``nfpo.algo.cross_groups``), else None."""
        if not self.cfg.ppo.group_cross_coef:
            return None
        return CrossGroupTargets.build(self.storage, self.agent.policy.log_prob,
                                       self.agent.held_value, self.agent.policy.group_of,
                                       self.cfg.ppo.gamma)

    def _update(self) -> tuple[dict[str, float], float]:
        """One rollout and PPO update; returns (the update's metrics, its wall-clock seconds)
        and advances the counters."""
        t0 = time.perf_counter()
        self._regroup()
        self.rollout()
        t_roll = time.perf_counter() - t0
        metrics = self.ppo.update(self.storage, self._cross_groups())
        metrics.update(self.collector.metrics)
        metrics.update(rollout_stats(self.storage.log_probs, self.storage.actions,
                                     self.cfg.policy.action_bound))
        metrics.update(self.agent.policy.diagnostics(self.storage.obs.flatten(0, 1)[::4]))
        self.storage.clear()
        self._check_finite_params()
        dt = time.perf_counter() - t0
        self.wall_time += dt
        self.update_idx += 1
        self.global_step += self.cfg.batch_size
        metrics.update(self.stats.metrics())
        metrics.update({"time/steps_per_second": self.cfg.batch_size / dt,
                        "time/rollout_fraction": t_roll / dt, "time/wall": self.wall_time})
        return metrics, dt

    def rollout(self) -> None:
        """Fill the storage with one rollout continuing the running episodes (after
        ``collector.start``; ``Collector.collect``)."""
        self.collector.collect(self.ppo.ent_reward_coef, self.global_step, self.update_idx)

    def _regroup(self) -> None:
        """While the group weights follow the returns: with ``flow_groups_restart`` make the
        lagging group, if any, a copy of its donor; with ``flow_groups_merge`` (from
        ``flow_groups_merge_start`` if set) merge the closest pair of good groups, if close
        enough (``nfpo.algo.group_restart``)."""
        pc, weights = self.cfg.policy, self.collector.group_weights
        total = self.cfg.run.total_steps
        merge_start = pc.flow_groups_start if pc.flow_groups_merge_start is None \
            else pc.flow_groups_merge_start
        restart = pc.flow_groups_restart and self.global_step >= pc.flow_groups_start * total
        merge = pc.flow_groups_merge and self.global_step >= merge_start * total
        if not (restart or merge):
            return
        sigma = self.collector.return_scale()
        pair = weights.lagging(sigma, pc.flow_groups_restart, pc.flow_groups_restart_radius,
                               pc.flow_groups_restart_mutual) if restart else None
        if pair is not None:
            dst, src = pair
            copy_parts(self.agent.group_parts(dst, src), self.ppo.optimizer)
            weights.copy(dst, src)
        pair = weights.mergeable(sigma, pc.flow_groups_restart, pc.flow_groups_merge) \
            if merge else None
        if pair is not None:
            dst, src = pair
            copy_parts(self.agent.policy.merge_group(dst, src), self.ppo.optimizer)
            weights.merge(dst, src)

    def _check_finite_params(self) -> None:
        DivergenceGuard.check_params(self.agent, self.update_idx, self._last_good())
