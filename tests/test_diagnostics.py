"""Per-update diagnostics, the divergence guard and NaN detection."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from nfpo.agent import load_run
from nfpo.algo.diagnostics import UpdateStats, rollout_stats
from nfpo.config import TrainConfig
from nfpo.errors import ConfigError, DivergenceError
from nfpo.guard import DivergenceGuard
from nfpo.logger import read_metrics
from nfpo.runner import Trainer


def cfg_for(tmp_path, env="nfpo/PointReach-v0", kind="flow", guard="", total=1024):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = env, 2
    cfg.policy.kind = kind
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 128, 2, 2
    cfg.run.total_steps, cfg.run.run_dir, cfg.run.guard = total, str(tmp_path), guard
    cfg.run.progress, cfg.run.tensorboard, cfg.run.checkpoint_every = False, False, 1
    return cfg


@pytest.mark.parametrize("kind", ["gaussian", "flow"])
def test_metrics_are_logged(tmp_path, kind):
    Trainer(cfg_for(tmp_path, kind=kind, total=512)).train()
    m = read_metrics(tmp_path)
    for key in ("policy/log_ratio_p01", "policy/log_ratio_p99", "policy/log_ratio_min",
                "policy/log_ratio_nonfinite", "grad_norm/critic", "train/grad_norm",
                "rollout/log_prob_mean", "rollout/saturated_fraction", "policy/entropy"):
        assert key in m and np.isfinite(m[key]).all(), key
    own = "grad_norm/flow" if kind == "flow" else "grad_norm/mean_net"
    assert own in m and max(m[own]) > 0
    if kind == "flow":
        for k in range(4):
            lo, mid, hi = (np.asarray(m[f"flow/layer{k}_logdet_{stat}"])
                           for stat in ("min", "mean", "max"))
            assert (lo <= mid).all() and (mid <= hi).all()
            assert np.abs(np.concatenate([lo, hi])).max() <= 2.0  # 1 active dim x bound 2


def test_guard_trips_and_last_good_checkpoint_loads(tmp_path):
    # episode/count grows by ~8 per update (30-step episodes, 256 steps): trips at update 3
    cfg = cfg_for(tmp_path, guard="episode/count<20")
    with pytest.raises(DivergenceError, match=r"episode/count=\d+ violates episode/count<20 "
                                              r"at update 3"):
        Trainer(cfg).train()
    _, _, state = load_run(tmp_path)
    assert state["global_step"] == 2 * 256


def test_guard_spec_errors():
    with pytest.raises(ConfigError, match="METRIC<VALUE"):
        DivergenceGuard("policy/approx_kl=3")
    with pytest.raises(DivergenceError, match="not logged"):
        DivergenceGuard("nope<1").check({"a": 1.0}, 0)
    with pytest.raises(DivergenceError, match="violates"):
        DivergenceGuard("a<1").check({"a": float("nan")}, 0)
    DivergenceGuard("a<1, b>-2").check({"a": 0.5, "b": 0.0}, 0)


def test_update_stats_quantiles_and_nonfinite():
    s = UpdateStats()
    s.add(torch.linspace(-1, 1, 101), {"x": 1.0})
    s.add(torch.tensor([float("-inf")]), {"x": 3.0})
    out = s.summary()
    assert out["x"] == 2.0 and out["policy/log_ratio_nonfinite"] == 1.0
    assert out["policy/log_ratio_min"] == -1.0
    assert out["policy/log_ratio_p99"] == pytest.approx(0.98)


def test_saturated_fraction():
    u = torch.tensor([[0.5, 2.0], [-4.0, 0.0]])
    assert rollout_stats(torch.zeros(2), u, "clip")["rollout/saturated_fraction"] == 0.5
    assert rollout_stats(torch.zeros(2), u, "tanh")["rollout/saturated_fraction"] == 0.25


class _NaNEnv(gym.Env):
    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([np.nan if self.t == 7 else 0.0, 0.0], np.float32)
        return obs, 0.0, False, False, {}


gym.register("nfpo-test/NaN-v0", entry_point=_NaNEnv, max_episode_steps=1000)


def test_nan_observation_is_reported_with_env_and_step(tmp_path):
    with pytest.raises(DivergenceError, match=r"non-finite observation from env 0 at step 12"):
        Trainer(cfg_for(tmp_path, env="nfpo-test/NaN-v0")).train()


def test_nan_episode_can_be_dropped(tmp_path, capsys):
    cfg = cfg_for(tmp_path, env="nfpo-test/NaN-v0")
    cfg.env.nonfinite = "drop-episode"
    tr = Trainer(cfg)
    # this env puts a NaN into every episode (step 7): every episode is dropped, and after 3
    # such updates the run stops (tests/test_trust.py: a single NaN episode does not stop it)
    with pytest.raises(DivergenceError, match="every episode of the last 3 updates"):
        tr.train()
    m = read_metrics(tmp_path)
    assert len(m["global_step"]) == 2  # the third such rollout stops before its update
    assert m["episode/dropped"][-1] >= 2  # both envs hit the NaN at step 7 of each episode
    assert np.isfinite(m["loss/value"]).all()
    assert torch.isfinite(tr.storage.obs).all()
    assert capsys.readouterr().err.count("dropped episodes") == 3  # a line per update
