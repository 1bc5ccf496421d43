"""The rsl_rl, Stable-Baselines3 and skrl adapters: interface contracts, learning, export.

Each framework is optional: its tests are skipped, with the reason, when it is not installed
(the dev extras install all three, so CI runs them)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import randomize
from torch import nn

import nfpo.envs  # noqa: F401  (registers nfpo/PointReach-v0)
from nfpo.errors import ConfigError
from nfpo.integrations._versions import require

TASK = "nfpo/PointReach-v0"  # 30 steps; untrained flow ~ -23, straight line ~ -4


def test_core_package_does_not_import_the_frameworks():
    import subprocess
    import sys

    code = ("import sys, nfpo, nfpo.cli, nfpo.runner, nfpo.integrations; "
            "print(sorted(m for m in ('rsl_rl', 'stable_baselines3', 'skrl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_version_errors_name_the_version_and_the_fix():
    with pytest.raises(ImportError, match=r"rsl-rl-lib >= 5\.0\.1; installed: 4\.2\.0"):
        require("rsl-rl-lib", "5.0.1", "nfpo.integrations.rsl_rl", installed="4.2.0")
    with pytest.raises(ImportError, match="not installed: pip install"):
        require("surely-not-a-package-nfpo", "1.0", "x")
    assert require("rsl-rl-lib", "5.0.1", "x", installed="5.5.1") == "5.5.1"


# --- rsl_rl ---------------------------------------------------------------------------------

def _rsl():
    pytest.importorskip("rsl_rl", reason="rsl-rl-lib not installed (pip install 'nfpo[rsl_rl]')")
    import nfpo.integrations.rsl_rl as m

    return m


def _dist(seed: int = 0):
    m = _rsl()
    d = m.FlowDistribution(3, context_dim=8, hidden=(16, 16))
    randomize(d, 0.2, seed)
    return d


def test_rsl_rl_flow_distribution_contract():
    d = _dist()
    c = torch.randn(32, 8)
    d.update(c)
    u = d.sample()
    assert u.shape == (32, 3) and d.input_dim == 8
    logp = d.log_prob(u.detach())  # rsl_rl detaches the sample: same storage -> cached
    assert torch.allclose(logp, d.flow.log_prob_raw(c, u), atol=1e-5)
    assert d.entropy.shape == (32,) and torch.isfinite(d.entropy).all()
    assert d.std.shape == (32, 3) and (d.std > 0).all() and d.mean.shape == (32, 3)
    det = d.deterministic_output(c)
    assert torch.allclose(det, d.flow.mode_raw(c))
    assert torch.allclose(d.as_deterministic_output_module()(c), det, atol=1e-6)


def test_rsl_rl_kl_is_order_independent():
    """KL(old || new) on the stored actions, whether rsl_rl reads ``params`` after scoring the
    stored actions (what its PPO does) or after a fresh sample (the fragile order)."""
    d = _dist()
    c = torch.randn(64, 8)
    d.update(c)
    u = d.sample()
    d.log_prob(u)
    old = tuple(p.detach().clone() for p in d.params)
    with torch.no_grad():  # a parameter step
        for p in d.parameters():
            p.add_(0.05 * torch.randn_like(p))
    d.update(c)
    d.sample()  # rsl_rl's update-time forward draws a fresh sample first
    fresh = d.params  # params of the fresh sample, not of the stored actions
    d.log_prob(old[1])
    scored = d.params
    expected = d.flow.log_prob_raw(c, old[1]) - old[0]
    expected = (expected.exp() - 1) - expected
    for new in (fresh, scored):
        kl = d.kl_divergence(old, new)
        assert kl.shape == (64,) and torch.allclose(kl, expected, atol=1e-6)
    assert expected.mean() > 1e-4  # the step did change the policy
    d.update(c)
    d.sample()
    now = tuple(p.detach().clone() for p in d.params)  # stored at the current parameters
    d.update(c)
    d.sample()
    assert d.kl_divergence(now, d.params).abs().max() < 1e-6  # ~0 at identical parameters


def _rsl_eval(policy, m, n: int = 32) -> float:
    env = m.NfpoVecEnv(TASK, n, seed=123)
    obs, total = env.get_observations(), torch.zeros(n)
    with torch.inference_mode():
        for _ in range(30):
            obs, r, _, _ = env.step(policy(obs))
            total += r
    return total.mean().item()


def test_rsl_rl_runner_trains_flow_and_exports(tmp_path):
    """Stock OnPolicyRunner + FlowDistribution + NFPOPPO on PointReach: the deterministic return
    improves within 10 iterations; JIT and ONNX exports match the policy within 1e-5."""
    m = _rsl()
    onnxruntime = pytest.importorskip("onnxruntime")
    from rsl_rl.runners import OnPolicyRunner
    from tensordict import TensorDict

    env = m.NfpoVecEnv(TASK, 16, seed=0)
    cfg = m.train_cfg("flow", num_steps_per_env=32, hidden_dims=(64, 64), flow_hidden=(64, 64),
                      learning_rate=1e-3)
    runner = OnPolicyRunner(env, cfg, log_dir=None, device="cpu")
    before = _rsl_eval(runner.get_inference_policy(), m)
    runner.alg.train_mode()
    runner.learn(10)
    policy = runner.get_inference_policy()
    after = _rsl_eval(policy, m)
    assert before < -18 and after > before + 8, (before, after)

    runner.export_policy_to_jit(str(tmp_path))
    runner.export_policy_to_onnx(str(tmp_path))
    x = torch.randn(6, 4)
    with torch.no_grad():
        ref = policy(TensorDict({"policy": x, "critic": x}, batch_size=[6]))
    jit = torch.jit.load(str(tmp_path / "policy.pt"))(x)
    sess = onnxruntime.InferenceSession(str(tmp_path / "policy.onnx"))
    onnx = np.concatenate([sess.run(None, {"obs": x[i:i + 1].numpy()})[0] for i in range(6)])
    assert (jit - ref).abs().max() < 1e-5
    assert np.abs(onnx - ref.numpy()).max() < 1e-5


def test_rsl_rl_nfpoppo_kl_stop_and_bad_config():
    m = _rsl()
    from rsl_rl.runners import OnPolicyRunner

    env = m.NfpoVecEnv(TASK, 8, seed=0)
    cfg = m.train_cfg("flow", num_steps_per_env=16, hidden_dims=(32,), flow_hidden=(16,),
                      target_kl=1e-9)  # any real step exceeds it
    runner = OnPolicyRunner(env, cfg, log_dir=None, device="cpu")
    with torch.inference_mode():
        obs = env.get_observations()
        for _ in range(16):
            obs, r, d, extras = env.step(runner.alg.act(obs))
            runner.alg.process_env_step(obs, r, d, extras)
        runner.alg.compute_returns(obs)
    out = runner.alg.update()
    # the first minibatch is at identical parameters (KL ~ 0): one step, then the stop
    assert out["early_stop"] == 1.0 and out["minibatch_steps"] == 1.0

    bad = m.train_cfg("flow")
    bad["algorithm"]["kl_stop"] = "sometimes"
    with pytest.raises(ConfigError, match="kl_stop='sometimes'.*minibatch"):
        OnPolicyRunner(m.NfpoVecEnv(TASK, 2, seed=0), bad, log_dir=None, device="cpu")
    with pytest.raises(ConfigError, match="policy='beta'"):
        m.train_cfg("beta")


# --- Stable-Baselines3 -------------------------------------------------------------------------

def test_sb3_flow_policy_learns_saves_and_rejects_discrete(tmp_path):
    pytest.importorskip("stable_baselines3", reason="stable-baselines3 not installed")
    from stable_baselines3 import PPO

    from nfpo.integrations.sb3 import FlowPolicy

    model = PPO(FlowPolicy, gym.make(TASK), seed=0, n_steps=256, batch_size=64, n_epochs=10,
                learning_rate=1e-3, target_kl=0.05,
                policy_kwargs={"flow_kwargs": {"hidden": (32, 32)}})
    assert not hasattr(model.policy, "log_std")

    def mean_return() -> float:  # 10 deterministic episodes on seeded goals: no luck involved
        total = 0.0
        for seed in range(10):
            env = gym.make(TASK)
            obs, _ = env.reset(seed=1000 + seed)
            done = False
            while not done:
                obs, reward, term, trunc, _ = env.step(model.predict(obs, deterministic=True)[0])
                total, done = total + float(reward), term or trunc
        return total / 10

    before = mean_return()
    model.learn(6144)
    after = mean_return()
    assert before < -12 and after > before + 6, (before, after)

    model.save(tmp_path / "m")
    again = PPO.load(tmp_path / "m")
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(obs, deterministic=True)[0],
                                  again.predict(obs, deterministic=True)[0])
    with pytest.raises(ConfigError, match="continuous"):
        PPO(FlowPolicy, gym.make("CartPole-v1"))


# --- skrl --------------------------------------------------------------------------------------

def test_skrl_flow_mixin_learns_and_logs_std():
    skrl = pytest.importorskip("skrl", reason="skrl not installed")
    skrl.logger.setLevel("WARNING")  # its INFO lines at exit hit pytest's closed capture stream
    from skrl.agents.torch.ppo import PPO, PPO_CFG
    from skrl.envs.wrappers.torch import wrap_env
    from skrl.memories.torch import RandomMemory
    from skrl.models.torch import DeterministicMixin, Model
    from skrl.resources.preprocessors.torch import RunningStandardScaler
    from skrl.trainers.torch import SequentialTrainer

    from nfpo.integrations.skrl import FlowMixin

    class Policy(FlowMixin, Model):
        def __init__(self, observation_space, action_space):
            Model.__init__(self, observation_space=observation_space, action_space=action_space,
                           device="cpu")
            FlowMixin.__init__(self, context_dim=64)
            self.net = nn.Sequential(nn.Linear(self.num_observations, 64), nn.ELU(),
                                     nn.Linear(64, 64), nn.ELU())

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {}

    class Value(DeterministicMixin, Model):
        def __init__(self, observation_space, action_space):
            Model.__init__(self, observation_space=observation_space, action_space=action_space,
                           device="cpu")
            DeterministicMixin.__init__(self)
            self.net = nn.Sequential(nn.Linear(self.num_observations, 64), nn.ELU(),
                                     nn.Linear(64, 1))

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {}

    def evaluate(policy, n: int = 32) -> float:
        envs = gym.make_vec(TASK, num_envs=n, vectorization_mode="sync")
        obs, _ = envs.reset(seed=123)
        total = np.zeros(n)
        for _ in range(30):
            with torch.no_grad():
                a = policy.act({"observations": torch.as_tensor(obs)})[1]["mean_actions"]
            obs, r, *_ = envs.step(a.clamp(-1, 1).numpy())
            total += r
        return float(total.mean())

    torch.manual_seed(0)
    train_envs = gym.make_vec(TASK, num_envs=8, vectorization_mode="sync")
    train_envs.reset(seed=0)  # skrl resets unseeded; this fixes the goals it will see
    env = wrap_env(train_envs, verbose=False)
    models = {"policy": Policy(env.observation_space, env.action_space),
              "value": Value(env.observation_space, env.action_space)}
    cfg = PPO_CFG()
    cfg.rollouts, cfg.learning_epochs, cfg.mini_batches, cfg.kl_threshold = 32, 8, 4, 0.05
    cfg.value_preprocessor, cfg.value_preprocessor_kwargs = RunningStandardScaler, {"size": 1}
    agent = PPO(models=models, memory=RandomMemory(memory_size=32, num_envs=8, device="cpu"),
                cfg=cfg, observation_space=env.observation_space,
                action_space=env.action_space, device="cpu")
    before = evaluate(models["policy"])
    SequentialTrainer(cfg={"timesteps": 480, "headless": True, "disable_progressbar": True},
                      env=env, agents=agent).train()
    after = evaluate(models["policy"])
    env.close()
    assert before < -18 and after > before + 5, (before, after)
    stats = models["policy"].distribution()
    assert stats.stddev.shape == (32, 2) and (stats.stddev > 0).all()  # the last act: 32 envs
