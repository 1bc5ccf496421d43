"""The training loop: rollout -> GAE -> PPO update -> log -> checkpoint. The only module that
knows every piece; it talks to policies through ``Agent`` and to the algorithm through ``PPO``.
"""

from __future__ import annotations

import json
import math
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nfpo import rng
from nfpo.agent import Agent, resolve_device
from nfpo.algo import PPO
from nfpo.algo.diagnostics import rollout_stats
from nfpo.checkpoint import (
    atomic_write_text,
    flatten_optimizer,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)
from nfpo.collector import Collector
from nfpo.config import TrainConfig
from nfpo.envs import env_spec, import_env_modules, make_vec_env, parse_perturb
from nfpo.envs.state import UnsupportedEnvState, get_env_state, set_env_state
from nfpo.episodes import EpisodeStats
from nfpo.errors import CheckpointError, DivergenceError
from nfpo.guard import DivergenceGuard
from nfpo.logger import MetricsLogger, truncate_metrics, wandb_options
from nfpo.progress import Progress
from nfpo.run_dir import RunDir
from nfpo.storage import RolloutStorage

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
        env_kwargs = cfg.env.kwargs()
        e = cfg.env
        self.envs = make_vec_env(e.id, e.num_envs, env_kwargs, parse_perturb(e.randomize),
                                 e.backend, e.obs_key, e.critic_obs_key, e.envpool_threads,
                                 cfg.run.seed)
        self.spec = env_spec(self.envs, cfg.env.id)
        self.run = rundir or RunDir.create_default(RUNS_ROOT, cfg.env.id, cfg.policy.kind,
                                                   cfg.run.seed)
        self.run_dir = self.run.path
        self.agent = Agent(cfg, self.spec.obs_dim, self.spec.act_dim,
                           self.spec.critic_obs_dim).to(self.device)
        self.generator = torch.Generator().manual_seed(cfg.run.seed)
        self.ppo = PPO(self.agent.policy, self.agent.critic, cfg.ppo, cfg.num_updates,
                       self.generator, compile=cfg.run.compile)
        self.storage = RolloutStorage(cfg.ppo.num_steps, cfg.env.num_envs, self.spec.obs_dim,
                                      self.spec.act_dim, self.spec.critic_obs_dim, self.device)
        self.global_step = 0
        self.update_idx = 0
        self.wall_time = 0.0
        self.stats = EpisodeStats()
        self.best_eval_return = -math.inf  # of the periodic evaluation (checkpoints/best)
        self.wandb_id = secrets.token_hex(4)  # one W&B run across resumes (--track)
        self._signals = 0
        self._stop_signal: int | None = None
        self._restored: dict[str, Any] | None = None  # env states etc. from a checkpoint
        self._obs: np.ndarray | None = None  # next observation, set by train()
        self.guard = DivergenceGuard(cfg.run.guard)
        self.collector = Collector(cfg, self.envs, self.spec, self.agent, self.storage,
                                   self.stats, self.device, self._last_good)

    # --- persistence ----------------------------------------------------------------------
    def save(self, name: str | None = None, **extra: Any) -> Path:
        """Checkpoint everything a resume needs (``name``: a named dir such as ``best``)."""
        opt_tensors, opt_meta = flatten_optimizer(self.ppo.optimizer.state_dict())
        tensors = {**self.agent.tensors(), **opt_tensors,
                   "rng.torch": torch.get_rng_state(),
                   "rng.generator": self.generator.get_state()}
        state = {
            "global_step": self.global_step, "update": self.update_idx,
            "wall_time": self.wall_time, **self.stats.state_dict(),
            "best_eval_return": self.best_eval_return, "wandb_id": self.wandb_id,
            "ppo": {**{k: v for k, v in self.ppo.state_dict().items() if k != "optimizer"},
                    **opt_meta},
            **self.collector.state_dict(),
            **rng.capture(),
            "loop": self._loop_state(),
            **extra,
        }
        return save_checkpoint(self.run_dir, self.global_step, tensors, state,
                               self.cfg.run.keep_checkpoints, name=name)

    def _last_good(self) -> str:
        """Where the last good checkpoint is, for error messages."""
        ckpts = list_checkpoints(self.run_dir)
        return (f"last good checkpoint: {ckpts[-1]}" if ckpts else
                f"no checkpoint was written yet (every {self.cfg.run.checkpoint_every} updates)")

    def _loop_state(self) -> dict[str, Any] | None:
        """Next observation, running episode stats and every env's exact state, or None if an
        env's state cannot be saved (resume then restarts the envs from a reset)."""
        if self._obs is None or not hasattr(self.envs, "envs"):  # EnvPool: no per-env state
            return None
        try:
            envs = [get_env_state(e) for e in self.envs.envs]
        except UnsupportedEnvState:
            return None
        return {"obs": self._obs.tolist(), "ep_ret": self._ep_ret.tolist(),
                "ep_len": self._ep_len.tolist(), "envs": envs, **self.collector.loop_state()}

    @classmethod
    def resume(cls, run_dir: Path, total_steps: int | None = None) -> Trainer:
        """Continue a run from its newest checkpoint (optionally with a larger budget; the
        linear LR schedule is then stretched over the new total)."""
        run_dir = Path(run_dir)
        try:
            cfg, _ = RunDir(run_dir).read_config()
        except CheckpointError as e:
            raise CheckpointError(f"cannot resume {run_dir}: {e}") from e
        if total_steps is not None:
            cfg.run.total_steps = total_steps
        if not list_checkpoints(run_dir):  # stopped before its first checkpoint
            print(f"note: {run_dir} has no checkpoint yet: the run starts over with its saved "
                  "config", file=sys.stderr)
            truncate_metrics(run_dir, 0)
            return cls(cfg, run_dir, resuming=True)
        tensors, state = load_checkpoint(run_dir)
        self = cls(cfg, run_dir, resuming=True)
        try:
            self._restore(tensors, state)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as e:
            raise CheckpointError(f"cannot resume {run_dir}: checkpoint state is incomplete or "
                                  f"corrupted ({type(e).__name__}: {e})") from e
        truncate_metrics(run_dir, self.global_step)  # drop rows logged after the checkpoint
        return self

    def _restore(self, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
        self.agent.load_tensors(tensors)
        ppo_state = state["ppo"]
        self.ppo.load_state_dict({**ppo_state,
                                  "optimizer": unflatten_optimizer(tensors, ppo_state)})
        self.collector.load_state_dict(state)
        self.global_step, self.update_idx = state["global_step"], state["update"]
        self.wall_time = state["wall_time"]
        self.stats.load_state_dict(state)
        self.best_eval_return = max(state.get("best_eval_return", -math.inf),
                                    self.run.best_eval_return())
        self.wandb_id = state.get("wandb_id", self.wandb_id)
        torch.set_rng_state(tensors["rng.torch"])
        self.generator.set_state(tensors["rng.generator"])
        rng.restore(state)
        self._restored = state.get("loop")

    # --- the loop -------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        """First signal: finish the update, checkpoint, exit 130. A second one only repeats
        that; a third aborts at once (losing the work since the last checkpoint)."""
        self._signals += 1
        if self._signals >= 3:
            raise KeyboardInterrupt
        if self._stop_signal is None:
            self._stop_signal = signum
            print("\nstopping: finishing this update, then writing a checkpoint", file=sys.stderr)
        else:
            print("\nstill finishing the update to save a checkpoint; a third interrupt aborts "
                  "without saving it", file=sys.stderr)

    def train(self) -> Path:
        """Run to ``total_steps``; returns the run dir. On SIGINT/SIGTERM: checkpoint, exit 130."""
        cfg = self.cfg
        self.run.write_config(cfg, self.spec)
        logger = MetricsLogger(self.run_dir, cfg.run.tensorboard, config=cfg.to_dict(),
                               wandb=wandb_options(cfg.run, self.wandb_id, self.run_dir))
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT,
                                                                       signal.SIGTERM)}
        num_updates = cfg.num_updates
        obs, _ = self.envs.reset(seed=cfg.run.seed + 1000 * self.update_idx)
        ep_ret = np.zeros(cfg.env.num_envs)
        ep_len = np.zeros(cfg.env.num_envs, dtype=np.int64)
        if self._restored is not None:  # exact continuation of the interrupted run
            for env, st in zip(self.envs.envs, self._restored["envs"], strict=True):
                set_env_state(env, st)
            obs = np.asarray(self._restored["obs"], dtype=obs.dtype)
            ep_ret = np.asarray(self._restored["ep_ret"], dtype=np.float64)
            ep_len = np.asarray(self._restored["ep_len"], dtype=np.int64)
            self.collector.load_loop_state(self._restored)
        elif self.update_idx > 0:
            print("note: env states were not in the checkpoint; environments restart from a "
                  "reset (the resumed run is not bit-identical)", file=sys.stderr)
        self._obs, self._ep_ret, self._ep_len = obs, ep_ret, ep_len
        progress = Progress(cfg.run.progress, cfg.num_updates * cfg.batch_size, self.global_step)
        try:
            while self.update_idx < num_updates:
                t0 = time.perf_counter()
                obs = self._rollout(obs, ep_ret, ep_len)
                self._obs = obs
                t_roll = time.perf_counter() - t0
                metrics = self.ppo.update(self.storage)
                metrics.update(rollout_stats(self.storage.log_probs, self.storage.actions,
                                             cfg.policy.action_bound))
                metrics.update(self.agent.policy.diagnostics(
                    self.storage.obs.flatten(0, 1)[::4]))
                self.storage.clear()
                self._check_finite_params()
                dt = time.perf_counter() - t0
                self.wall_time += dt
                self.update_idx += 1
                self.global_step += cfg.batch_size
                metrics.update(self.stats.metrics())
                metrics.update({"time/steps_per_second": cfg.batch_size / dt,
                                "time/rollout_fraction": t_roll / dt,
                                "time/wall": self.wall_time})
                last = self.update_idx == num_updates
                evaluate_now = cfg.run.eval_every and (
                    self.update_idx % cfg.run.eval_every == 0 or last)
                if evaluate_now:
                    metrics.update(self._periodic_eval())
                logger.log(self.global_step, metrics)
                self.guard.check(metrics, self.update_idx)  # before any checkpoint of it
                progress.update(self.global_step, cfg.batch_size / dt, self.stats.recent_return)
                if evaluate_now and metrics["eval/return"] > self.best_eval_return:
                    self.best_eval_return = metrics["eval/return"]
                    self.save("best", eval_return=self.best_eval_return)
                if self.update_idx % cfg.run.checkpoint_every == 0 or last:
                    self.save()
                if cfg.run.video_every and (self.update_idx % cfg.run.video_every == 0 or last):
                    self._record_clip(logger)
                if self._stop_signal is not None:
                    path = self.save()
                    progress.close()
                    print(f"\nstopped by signal {self._stop_signal}: checkpoint {path}\n"
                          f"resume with: nfpo train --resume {self.run_dir}", file=sys.stderr)
                    raise SystemExit(130)
        except DivergenceError as e:  # leave a machine-readable record (bench reports count it)
            atomic_write_text(self.run_dir / "failure.json", json.dumps(
                {"kind": "divergence", "error": str(e), "update": self.update_idx,
                 "global_step": self.global_step}, indent=2))
            raise
        finally:
            progress.close()
            logger.close()
            self.envs.close()
            for s, h in old_handlers.items():
                # a process that exits on the stop (the CLI) ignores further signals: a
                # repeated Ctrl-C during interpreter shutdown would only print a
                # KeyboardInterrupt traceback from some finalizer
                ignore = self._signals and self.exit_after_signal
                signal.signal(s, signal.SIG_IGN if ignore else h)
        summary = {"global_step": self.global_step, "wall_time": self.wall_time,
                   "steps_per_second": self.global_step / max(self.wall_time, 1e-9),
                   "episodes": self.stats.episodes, "dropped_episodes": self.stats.dropped,
                   "final_return_recent": self.stats.recent_return
                   if self.stats.recent_returns else None}
        if math.isfinite(self.best_eval_return):
            summary["best_eval_return"] = self.best_eval_return
        atomic_write_text(self.run_dir / "summary.json", json.dumps(summary, indent=2))
        (self.run_dir / "failure.json").unlink(missing_ok=True)  # a resumed run that finished
        return self.run_dir

    def _rollout(self, obs: np.ndarray, ep_ret: np.ndarray, ep_len: np.ndarray
                 ) -> np.ndarray:
        """Fill the storage with one rollout (``Collector.collect``); returns the next
        observation."""
        return self.collector.collect(obs, ep_ret, ep_len, self.ppo.ent_reward_coef,
                                      self.global_step, self.update_idx)

    def _record_clip(self, logger: MetricsLogger) -> None:
        """One deterministic episode to RUN_DIR/videos/update_NNNNNN.mp4, and its middle frame
        to TensorBoard (``video/frame``; TensorBoard's own video needs moviepy). No RNG is
        used, so training continues exactly as without videos."""
        from nfpo.evaluate import run_episodes

        path = self.run_dir / "videos" / f"update_{self.update_idx:06d}.mp4"
        res = run_episodes(self.agent, self.cfg.env.id, self.cfg.env.kwargs(), 1, True,
                           self.cfg.run.seed + 777, self.cfg.run.video_steps, video=path,
                           render=(320, 240))
        frames = res["frames"]
        logger.image("video/frame", frames[len(frames) // 2], self.global_step)
        print(f"video: {path} (return {res['returns'][0]:.1f})", file=sys.stderr)

    def _periodic_eval(self) -> dict[str, float]:
        """``eval_every_episodes`` deterministic episodes of the current policy in a fresh env
        (clean: no ``--randomize``). Deterministic actions use no random numbers, so training
        continues exactly as without it."""
        from nfpo.evaluate import run_episodes

        e = self.cfg.env
        res = run_episodes(self.agent, e.id, e.kwargs(), self.cfg.run.eval_every_episodes,
                           True, self.cfg.run.seed + 20_000, backend=e.backend,
                           obs_key=e.obs_key)
        return {"eval/return": float(np.mean(res["returns"])),
                "eval/return_std": float(np.std(res["returns"])),
                "eval/length": float(np.mean(res["lengths"]))}

    def _check_finite_params(self) -> None:
        for name, p in self.agent.named_parameters():
            if not torch.isfinite(p).all():
                raise DivergenceError(f"non-finite parameter {name} after update "
                                      f"{self.update_idx}; {self._last_good()}")

