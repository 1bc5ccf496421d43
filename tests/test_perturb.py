"""Robustness wrappers change what they claim."""

import gymnasium as gym
import numpy as np
import pytest

from nfpo.envs import make_env, parse_perturb
from nfpo.envs.perturb import ActionDelay, PerturbConfig
from nfpo.errors import ConfigError, EnvError


def test_parse_and_errors():
    cfg = parse_perturb("obs_noise=0.05, delay=2,mass=0.8:1.2,gain=1.1")
    assert cfg == PerturbConfig(obs_noise=0.05, delay=2, mass=(0.8, 1.2), gain=(1.1, 1.1))
    assert parse_perturb("") == PerturbConfig() and not parse_perturb("").active
    for bad, needle in [("mas=1", "key one of"), ("delay=-1", "integer >= 0"),
                        ("mass=1.2:0.8", "LOW:HIGH"), ("obs_noise=x", "number >= 0"),
                        ("delay", "key=value")]:
        with pytest.raises(ConfigError, match=needle):
            parse_perturb(bad)


def test_dynamics_randomization_scales_the_mujoco_model():
    env = make_env("Hopper-v5", perturb=parse_perturb(
        "mass=0.5:0.6,friction=2:2,damping=3:3,gain=0.25:0.25"))
    model = env.unwrapped.model
    base = gym.make("Hopper-v5").unwrapped.model
    env.reset(seed=0)
    ratio = model.body_mass[1:] / base.body_mass[1:]
    assert np.all((ratio >= 0.5) & (ratio <= 0.6)) and np.ptp(ratio) > 0  # per body
    assert np.allclose(model.body_inertia[1:] / base.body_inertia[1:], ratio[:, None])
    assert np.allclose(model.geom_friction[:, 0], 2 * base.geom_friction[:, 0])
    assert np.allclose(model.dof_damping, 3 * base.dof_damping)
    assert np.allclose(model.actuator_gainprm[:, 0], 0.25 * base.actuator_gainprm[:, 0])
    first = model.body_mass.copy()
    env.reset(seed=1)
    assert not np.allclose(model.body_mass, first)  # re-drawn every episode
    env.reset(seed=0)
    assert np.allclose(model.body_mass, first)  # seeded


def test_dynamics_randomization_needs_mujoco():
    with pytest.raises(EnvError, match="MuJoCo"):
        make_env("nfpo/PointReach-v0", perturb=parse_perturb("mass=0.9:1.1"))


class _Record(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def __init__(self):
        self.seen = []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.seen.append(float(np.asarray(action)[0]))
        return np.zeros(1, np.float32), 0.0, False, False, {}


def test_action_delay_shifts_by_k():
    inner = _Record()
    env = ActionDelay(inner, 2)
    env.reset()
    for a in (0.1, 0.2, 0.3, 0.4):
        env.step(np.array([a]))
    assert inner.seen == [0.0, 0.0, 0.1, 0.2]


def test_noise_wrappers_have_the_stated_std():
    env = make_env("nfpo/PointReach-v0", perturb=parse_perturb("obs_noise=0.2"))
    obs = np.stack([env.reset(seed=s)[0] for s in range(2000)])
    assert abs(obs[:, 0].std() - 0.2) < 0.02  # start position is exactly 0 without noise
    env = make_env("nfpo/PointReach-v0", perturb=parse_perturb("action_noise=0.1"))
    env.reset(seed=0)
    start = env.unwrapped.pos.copy()
    moves = []
    for _ in range(500):
        env.step(np.zeros(2))
        moves.append(env.unwrapped.pos - start)
        start = env.unwrapped.pos.copy()
    step = np.asarray(moves) / env.unwrapped.step_size
    assert abs(step.std() - 0.1) < 0.02  # noise std 0.1 x half-range 1


def test_train_randomize_wraps_training_envs(tmp_path):
    from nfpo.config import TrainConfig
    from nfpo.envs.perturb import ObservationNoise
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.env.randomize = "nfpo/PointReach-v0", 2, "obs_noise=0.1"
    cfg.run.run_dir = str(tmp_path)
    tr = Trainer(cfg)
    assert isinstance(tr.envs.envs[0], ObservationNoise)
    tr.envs.close()
    cfg.env.randomize = "mass=2"
    with pytest.raises(EnvError, match="MuJoCo"):
        Trainer(cfg)
