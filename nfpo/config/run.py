"""The run section of the config: budget, seed, device, checkpoints, evaluation, logging."""

from __future__ import annotations

from dataclasses import dataclass

from nfpo.validation import check as _check


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
