"""Both policies must learn a small continuous-control task (fixed seed, fixed budget).

nfpo/PointReach-v0: a random policy scores about -24, the zero action about -23; the learned
deterministic policy must score > -4 and reach the goal in >= 80% of episodes."""

import pytest

from nfpo.config import TrainConfig
from nfpo.evaluate import evaluate
from nfpo.runner import Trainer


@pytest.mark.parametrize("kind", ["gaussian", "flow"])
def test_solves_point_reach(tmp_path, kind):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 8
    cfg.policy.kind = kind
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 128, 4, 5
    cfg.ppo.learning_rate = 1e-3
    cfg.run.total_steps, cfg.run.seed = 40_960, 1
    cfg.run.run_dir, cfg.run.progress, cfg.run.tensorboard = str(tmp_path), False, False
    Trainer(cfg).train()
    result = evaluate(tmp_path, episodes=20)
    assert result["mean_return"] > -4.0, result
    assert result["info/success"] >= 0.8, result


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gaussian", "flow"])
def test_hopper_learns(tmp_path, kind):
    """Hopper-v5, 200k steps, default settings: well above the ~20 of a random policy (the
    1M-step benchmark reaches > 1500 at 200k; this bound is deliberately generous)."""
    cfg = TrainConfig()
    cfg.policy.kind = kind
    cfg.run.total_steps, cfg.run.seed = 200_000, 1
    cfg.run.run_dir, cfg.run.progress, cfg.run.tensorboard = str(tmp_path), False, False
    Trainer(cfg).train()
    result = evaluate(tmp_path, episodes=5)
    assert result["mean_return"] > 500, result
