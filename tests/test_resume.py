"""Resume is bit-identical: interrupted + resumed == uninterrupted (same seed and config)."""

import csv
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from nfpo.agent import load_run
from nfpo.config import TrainConfig
from nfpo.runner import Trainer


def cfg_for(run_dir, env, kind, randomize="", outcome_bonus=0.0, hold=False):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.env.randomize = env, 2, randomize
    cfg.policy.kind, cfg.ppo.outcome_bonus = kind, outcome_bonus
    if outcome_bonus:  # the multimodal recipe's other state: novelty buffer, annealed alpha
        cfg.ppo.state_bonus, cfg.policy.action_bound = 0.1, "tanh"
        cfg.ppo.ent_reward_coef, cfg.ppo.ent_reward_coef_final = 0.1, 0.0
        cfg.policy.noise_correlation = 0.9  # per-env AR(1) noise state
        cfg.ppo.mode_balance = 1.0  # k-means seeded by the update index
    if hold:  # a mixture component held per episode (per-env state)
        cfg.policy.flow_base_mixture, cfg.policy.flow_base_mixture_hold = 8, True
        cfg.policy.flow_base_mixture_init = "sphere"
        cfg.policy.flow_base_mixture_condition = hold == "condition"  # critic reads it
        cfg.ppo.lump_balance = 1.0 if hold == "lumps" else 0.0  # neighbourhood offsets
        cfg.policy.flow_groups = {"groups": 2, "weights": 2, "shared": 2, "restart": 2,
                                  "merge": 4}.get(hold, 1)
        cfg.policy.flow_groups_shared = hold == "shared"  # ... one stack, read with g's code
        if hold in ("weights", "restart", "merge"):  # ... weights follow returns from the start
            cfg.policy.flow_groups_temperature, cfg.policy.flow_groups_start = 0.5, 0.0
        if hold == "restart":  # ... and a group behind the other restarts as its copy
            cfg.policy.flow_groups_restart = 0.01
        if hold == "merge":  # ... and groups that went alike merge
            cfg.policy.flow_groups_merge = 10.0
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 2
    cfg.run.total_steps, cfg.run.run_dir = 6 * 128, str(run_dir)
    cfg.run.progress, cfg.run.tensorboard, cfg.run.checkpoint_every = False, False, 1
    cfg.run.eval_episodes = 0
    return cfg


class StopAt(Trainer):
    """Simulates SIGINT arriving during update ``stop_at`` (0-based)."""

    stop_at = 2

    def _check_finite_params(self):
        super()._check_finite_params()
        if self.update_idx == self.stop_at:
            self.stop.signum = signal.SIGINT


def rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if not k.startswith("time/")}
                for r in csv.DictReader(f)]


@pytest.mark.parametrize("env,kind,randomize,outcome,hold", [
    ("nfpo/PointReach-v0", "flow", "", 0.0, False),
    ("Hopper-v5", "flow", "", 0.0, False),
    ("Hopper-v5", "gaussian", "mass=0.8:1.2,obs_noise=0.05,delay=1", 0.0, False),
    ("nfpo/MultiGoal-v0", "flow", "", 1.0, False),  # bonus buffers, descriptors, AR(1) noise
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, True),  # held mixture components
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "condition"),  # ... that critic and ratio see
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "lumps"),  # ... balanced by neighbourhood
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "groups"),  # ... pushed by one flow per group
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "weights"),  # ... weighted by the groups' returns
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "shared"),  # ... sharing one stack
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "restart"),  # ... restarting a lagging group
    ("nfpo/MultiGoal-v0", "flow", "", 0.0, "merge"),  # ... merging groups that went alike
])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, env, kind, randomize, outcome,
                                                      hold):
    ref = Trainer(cfg_for(tmp_path / "a", env, kind, randomize, outcome, hold))
    ref.train()
    with pytest.raises(SystemExit) as e:
        StopAt(cfg_for(tmp_path / "b", env, kind, randomize, outcome, hold)).train()
    assert e.value.code == 130
    _, _, state = load_run(tmp_path / "b")
    assert state["update"] == 3 and state["loop"] is not None
    resumed = Trainer.resume(tmp_path / "b")
    resumed.train()
    if hold in ("weights", "restart", "merge"):  # the groups' returns and weights are restored
        assert resumed.collector.group_weights.state_dict() == \
            ref.collector.group_weights.state_dict()
    if hold == "weights":
        assert ref.agent.policy.group_weights().sub(0.5).abs().max() > 1e-3  # weights moved
    if hold == "restart":  # groups were restarted (their copies are in the tensors compared)
        assert ref.collector.group_weights.restarts >= 2
    if hold == "merge":  # groups merged (the group map is among the tensors compared)
        assert ref.collector.group_weights.alive.sum() <= 2
    if outcome:
        for k in ("outcome", "state_novelty"):
            a, b = getattr(ref.collector, k), getattr(resumed.collector, k)
            assert len(a.buffer) and a.state_dict() == b.state_dict(), k
    for k, v in ref.agent.tensors().items():
        assert torch.equal(resumed.agent.tensors()[k], v), k
    for k, v in ref.ppo.optimizer.state_dict()["state"].items():
        assert torch.equal(resumed.ppo.optimizer.state_dict()["state"][k]["exp_avg"],
                           v["exp_avg"])
    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_sigkill_at_random_times_leaves_a_loadable_checkpoint(tmp_path):
    """Kill a training process at pseudo-random moments; the newest checkpoint always loads,
    and resuming after the last kill reproduces the uninterrupted weights."""
    n_kills = int(os.environ.get("NFPO_KILLS", "6"))
    updates = max(120, 20 * n_kills)  # a quiet, fast machine is still training at each kill
    cfg = cfg_for(tmp_path / "ref", "nfpo/PointReach-v0", "flow")
    cfg.run.total_steps = updates * 128
    Trainer(cfg).train()
    ref = load_run(tmp_path / "ref")[1].tensors()
    rd = tmp_path / "killed"
    args = [sys.executable, "-m", "nfpo", "train", "--env", "nfpo/PointReach-v0",
            "--num-envs", "2", "--num-steps", "64", "--num-minibatches", "2", "--num-epochs", "2",
            "--total-steps", str(updates * 128), "--checkpoint-every", "1", "--eval-episodes", "0",
            "--no-tensorboard", "--no-report", "--run-dir", str(rd)]
    # seconds after training has (re)started; NFPO_KILLS=30 for benchmarks/reliability.md
    rng = random.Random(0)
    delays = [rng.uniform(0.0, 1.0) for _ in range(n_kills)]
    kills = 0
    for d in delays:
        resume = (rd / "checkpoints").exists()
        cmd = [*args[:4], "--resume", str(rd)] if resume else args
        rows_before = len((rd / "metrics.csv").read_text().splitlines()) \
            if (rd / "metrics.csv").exists() else 0
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while p.poll() is None and time.time() < deadline:  # wait for a new metrics row
            if (rd / "metrics.csv").exists() and \
                    len((rd / "metrics.csv").read_text().splitlines()) > max(rows_before, 1):
                break
            time.sleep(0.02)
        time.sleep(d)
        if p.poll() is None:
            p.kill()
            kills += 1
        p.wait()
        if (rd / "checkpoints").exists():
            load_run(rd)  # must never raise
    assert kills >= len(delays) // 2
    print(f"kills={kills} of {len(delays)} starts; resumed weights bit-identical")
    p = subprocess.run([*args[:4], "--resume", str(rd)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    got = load_run(rd)[1].tensors()
    for k, v in ref.items():
        assert torch.equal(got[k], v), k
