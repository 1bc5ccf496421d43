"""Correlated exploration noise (``--noise-correlation``): exact marginals, held latents,
unchanged log-probs, and evaluation that uses the training process."""

import numpy as np
import pytest
import torch

from nfpo.agent import Agent
from nfpo.config import PolicyConfig, TrainConfig
from nfpo.errors import ConfigError
from nfpo.evaluate import run_episodes
from nfpo.policies import make_policy
from nfpo.policies.noise import CorrelatedNoise


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ar1_noise_is_standard_normal_with_lag_one_correlation_rho(rho):
    torch.manual_seed(0)
    noise = CorrelatedNoise(4000, 2, rho)
    zs = torch.stack([noise.next().clone() for _ in range(20)])  # [T, N, D]
    assert abs(zs.mean().item()) < 0.02 and abs(zs.std().item() - 1.0) < 0.02
    lag1 = (zs[1:] * zs[:-1]).mean().item()
    assert abs(lag1 - rho) < 0.03


def test_rho_one_holds_z_within_an_episode_and_redraws_at_its_end():
    torch.manual_seed(0)
    noise = CorrelatedNoise(3, 2, 1.0)
    z0 = noise.next().clone()
    z1 = noise.next().clone()
    assert torch.equal(z0, z1)
    noise.restart(np.array([False, True, False]))
    z2 = noise.next().clone()
    assert torch.equal(z2[[0, 2]], z1[[0, 2]]) and not torch.equal(z2[1], z1[1])
    state = noise.state_dict()
    other = CorrelatedNoise(3, 2, 1.0)
    other.load_state_dict(state)
    assert torch.equal(other.next(), noise.next())


@pytest.mark.parametrize("kind,bound", [("flow", "tanh"), ("flow", "clip"),
                                        ("gaussian", "tanh"), ("flow-naive", "clip")])
def test_sample_from_given_noise_returns_the_policys_log_prob(kind, bound):
    torch.manual_seed(0)
    cfg = PolicyConfig(kind=kind, action_bound=bound, flow_identity_init=False)
    policy = make_policy(cfg, 3, 2)
    obs, z = torch.randn(16, 3), torch.randn(16, 2)
    u, logp = policy.sample(obs, z)
    assert torch.allclose(logp, policy.log_prob(obs, u), atol=1e-4)
    assert torch.allclose(u, policy.push(obs, z), atol=1e-5)
    u2, _ = policy.sample(obs, z)
    assert torch.equal(u, u2)  # the noise, not the global generator, decides the action


def test_config_rejects_rho_outside_unit_interval_and_mixture_base():
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="noise_correlation"):
            PolicyConfig(noise_correlation=bad).validate()
    with pytest.raises(ConfigError, match="standard-normal base"):
        PolicyConfig(noise_correlation=1.0, flow_base_mixture=4).validate()


def test_stochastic_evaluation_holds_the_latent_for_rho_one():
    """A Gaussian with a zero mean: its action is sigma z, constant over an episode with
    rho = 1 and changing every step with i.i.d. noise."""
    cfg = TrainConfig()
    cfg.policy.kind, cfg.env.normalize_obs = "gaussian", False
    agent = Agent(cfg, 2, 2)
    torch.nn.init.zeros_(agent.policy.mean_net[-1].weight)
    torch.nn.init.zeros_(agent.policy.mean_net[-1].bias)
    for rho, constant in ((1.0, True), (0.0, False)):
        positions: list[np.ndarray] = []  # first episode: p_0 .. p_5
        run_episodes(agent, "nfpo/MultiGoal-v0", {}, 1, deterministic=False, seed=0,
                     max_steps=5, noise_correlation=rho,
                     on_step=lambda env, n, obs, done, p=positions: p.append(np.array(obs)))
        moves = np.diff(np.stack(positions), axis=0)  # the actions, [5, 2]
        assert len(moves) == 5
        assert np.allclose(moves, moves[0], atol=1e-5) == constant, (rho, moves)
