"""Correlated exploration noise (``--noise-correlation``): exact marginals, held latents,
unchanged log-probs, and evaluation that uses the training process."""

import csv
import math

import numpy as np
import pytest
import torch

from nfpo.agent import Agent
from nfpo.config import PolicyConfig, TrainConfig
from nfpo.errors import ConfigError
from nfpo.evaluate import run_episodes
from nfpo.policies import FlowPolicy, GaussianPolicy, make_policy
from nfpo.policies.noise import CorrelatedNoise, HeldComponent


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
                     max_steps=5, policy_cfg=PolicyConfig(kind="gaussian", noise_correlation=rho),
                     on_step=lambda env, n, obs, done, p=positions: p.append(np.array(obs)))
        moves = np.diff(np.stack(positions), axis=0)  # the actions, [5, 2]
        assert len(moves) == 5
        assert np.allclose(moves, moves[0], atol=1e-5) == constant, (rho, moves)


def test_held_component_is_drawn_per_episode_and_kept():
    torch.manual_seed(0)
    held = HeldComponent(3, lambda: torch.tensor([0.0, 0.5, 0.5]))
    k0 = held.next().clone()
    assert (k0 > 0).all()  # weight 0 is never drawn
    for _ in range(5):
        assert torch.equal(held.next(), k0)  # held while no episode ends
    held.restart(np.array([True, False, False]))
    draws = set()
    for _ in range(40):
        k = held.next().clone()
        assert torch.equal(k[1:], k0[1:])  # the other envs keep theirs
        draws.add(int(k[0]))
        held.restart(np.array([True, False, False]))
    assert draws == {1, 2}
    state = held.state_dict()
    other = HeldComponent(3, held.probs)
    other.load_state_dict(state)
    assert torch.equal(other.k, held.k) and (other.fresh == held.fresh).all()


def test_a_given_component_samples_that_lump_with_the_marginal_log_prob():
    torch.manual_seed(0)
    pol = FlowPolicy(1, 2, base_mixture=4, base_mixture_init="sphere",
                     base_mixture_radius=2.0, base_mixture_std=0.1)
    means = pol.base_dist.means.detach()
    assert torch.allclose(means.norm(dim=1), torch.full((4,), 2.0))
    assert torch.cdist(means, means).add(torch.eye(4) * 9).min() > 2.0  # spread (2-D: ~2.83)
    obs = torch.zeros(200, 1)
    k = torch.full((200,), 2, dtype=torch.long)
    u, logp = pol.rsample_raw(obs, component=k)  # identity flow: u = z
    assert (u - means[2]).norm(dim=1).max() < 0.6
    assert torch.allclose(logp, pol.log_prob_raw(obs, u), atol=1e-5)  # the marginal density
    with pytest.raises(ValueError, match="mixture base"):
        FlowPolicy(1, 2).rsample_raw(obs, component=k)
    with pytest.raises(ValueError, match="Gaussian"):
        GaussianPolicy(1, 2).rsample_raw(obs, component=k)


def test_a_conditioned_flow_scores_a_given_component_by_its_own_density():
    """log pi(u|s, k) = log N(z; mu_k, s^2 I) for the identity flow, from sampling and from
    re-scoring alike; the marginal differs (it mixes in the other lumps)."""
    torch.manual_seed(0)
    pol = FlowPolicy(1, 2, base_mixture=4, base_mixture_init="sphere", base_mixture_radius=2.0,
                     base_mixture_std=0.3, base_mixture_condition=True)
    obs, k = torch.zeros(50, 1), torch.arange(50) % 4
    u, logp = pol.sample(obs, component=k)
    mu, s = pol.base_dist.means.detach()[k], 0.3
    expected = torch.distributions.Normal(mu, s).log_prob(u).sum(-1)
    assert torch.allclose(logp, expected, atol=1e-5)
    assert torch.allclose(pol.log_prob(obs, u, k), expected, atol=1e-5)
    # separated lumps: the marginal is the conditional minus log 4
    assert torch.allclose(pol.log_prob(obs, u), expected - math.log(4), atol=1e-3)
    with pytest.raises(ValueError, match="Gaussian"):
        GaussianPolicy(1, 2).log_prob(obs, u, k)


def test_a_conditioned_run_stores_components_the_critic_reads_and_ratios_start_at_one(tmp_path):
    """The critic's stored input ends in the one-hot of the held component, and PPO's re-score
    of the stored actions given their components reproduces the rollout's log-probs (ratio 1
    before the first step; the marginal would be off by the other lumps' mass)."""
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/MultiGoal-v0", 2
    cfg.policy.kind, cfg.policy.flow_base_mixture = "flow", 8
    cfg.policy.flow_base_mixture_hold = cfg.policy.flow_base_mixture_condition = True
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = 256, str(tmp_path / "run")
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 0
    trainer = Trainer(cfg)
    assert trainer.agent.critic.net[0].in_features == trainer.spec.obs_dim + 8
    trainer.train()
    st = trainer.storage
    onehot = st.critic_obs[..., -8:]
    assert torch.equal(onehot.argmax(-1), st.components) and (onehot.sum(-1) == 1).all()
    assert len(st.components.unique()) > 1
    with open(tmp_path / "run" / "metrics.csv") as f:  # every update's re-score at its start
        errors = [float(r["policy/ratio_error_at_start"]) for r in csv.DictReader(f)]
    assert len(errors) == 2 and max(errors) < 1e-4, errors


def test_hold_needs_a_mixture_base():
    with pytest.raises(ConfigError, match="flow_base_mixture_hold"):
        PolicyConfig(flow_base_mixture_hold=True).validate()
    with pytest.raises(ConfigError, match="flow_base_mixture_init"):
        PolicyConfig(flow_base_mixture=4, flow_base_mixture_init="grid").validate()
    PolicyConfig(flow_base_mixture=4, flow_base_mixture_hold=True).validate()
    with pytest.raises(ConfigError, match="flow_base_mixture_condition"):
        PolicyConfig(flow_base_mixture=4, flow_base_mixture_condition=True).validate()
    cfg = TrainConfig()
    cfg.ppo.lump_balance = 1.0
    with pytest.raises(ConfigError, match="lump_balance"):  # it needs held lumps
        cfg.validate()


def test_stochastic_evaluation_holds_the_component():
    """An identity flow on a 4-lump base with tiny lumps: with the held component every step
    of an episode moves the same way; without it the direction changes."""
    cfg = TrainConfig()
    cfg.policy.kind, cfg.env.normalize_obs = "flow", False
    cfg.policy.flow_base_mixture, cfg.policy.flow_base_mixture_std = 4, 0.01
    cfg.policy.flow_base_mixture_init, cfg.policy.flow_base_mixture_radius = "sphere", 0.5
    torch.manual_seed(3)
    agent = Agent(cfg, 2, 2)
    for hold, constant in ((True, True), (False, False)):
        cfg.policy.flow_base_mixture_hold = hold
        positions: list[np.ndarray] = []
        run_episodes(agent, "nfpo/MultiGoal-v0", {}, 1, deterministic=False, seed=0,
                     max_steps=8, policy_cfg=cfg.policy,
                     on_step=lambda env, n, obs, done, p=positions: p.append(np.array(obs)))
        moves = np.diff(np.stack(positions), axis=0)
        assert np.allclose(moves, moves[0], atol=0.05) == constant, (hold, moves)


def test_a_learned_mixture_std_is_the_fixed_one_at_its_value_and_gets_a_gradient():
    from nfpo.export.fused import FusedFlowPush
    from nfpo.flows import GaussianMixture

    torch.manual_seed(0)
    learned = GaussianMixture(2, 4, 0.3, init="sphere", learn_std=True)
    z = torch.randn(64, 2)
    for s in (0.3, 0.1):
        with torch.no_grad():
            learned.log_std.fill_(math.log(s))
        fixed = GaussianMixture(2, 4, s)
        fixed.means.data.copy_(learned.means.data)
        assert torch.allclose(learned.log_prob(z), fixed.log_prob(z), atol=1e-5)
        k = torch.arange(64) % 4
        assert torch.allclose(learned.log_prob(z, k), fixed.log_prob(z, k), atol=1e-5)
    learned.log_prob(z).sum().backward()
    assert learned.log_std.grad is not None and learned.log_std.grad.abs() > 0
    pol = FlowPolicy(3, 2, base_mixture=4, base_mixture_learn_std=True)  # export uses it too
    with torch.no_grad():
        pol.base_dist.log_std.fill_(math.log(0.1))
    obs, eps = torch.randn(8, 3), torch.randn(8, 2)
    assert torch.allclose(FusedFlowPush(pol)(obs, eps), pol.push(obs, eps), atol=1e-5)
