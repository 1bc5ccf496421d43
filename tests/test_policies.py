"""Gaussian policy vs torch.distributions; the shared interface on both policies."""

import pytest
import torch
from torch.distributions import Independent, Normal, TanhTransform, TransformedDistribution

from nfpo.config import PolicyConfig
from nfpo.policies import FlowPolicy, GaussianPolicy, make_critic, make_policy
from tests.conftest import randomize


def gaussian(bound="clip"):
    pol = GaussianPolicy(5, 3, hidden=(16,), action_bound=bound).double()
    with torch.no_grad():
        pol.log_std.copy_(torch.tensor([-0.5, 0.0, 0.7]))
    return randomize_mean(pol)


def randomize_mean(pol):
    randomize(pol.mean_net, 0.5)
    return pol


def test_gaussian_log_prob_and_entropy_match_torch():
    pol = gaussian()
    obs = torch.randn(40, 5, dtype=torch.float64)
    ref = Independent(Normal(pol.mean_net(obs), pol.log_std.exp()), 1)
    u, logp = pol.sample(obs)
    assert torch.allclose(logp, ref.log_prob(u), atol=1e-10)
    assert torch.allclose(pol.log_prob(obs, u), ref.log_prob(u), atol=1e-10)
    assert torch.allclose(pol.entropy(obs), ref.entropy(), atol=1e-10)
    assert torch.equal(pol.deterministic(obs), pol.mean_net(obs).clamp(-1, 1))


def test_gaussian_tanh_matches_transformed_distribution():
    pol = gaussian("tanh")
    obs = torch.randn(40, 5, dtype=torch.float64)
    ref = TransformedDistribution(Normal(pol.mean_net(obs), pol.log_std.exp()), [TanhTransform()])
    u, logp = pol.sample(obs)
    a = pol.to_action(u)
    assert torch.allclose(logp, ref.log_prob(a).sum(-1), atol=1e-7)
    assert a.abs().max() < 1


@pytest.mark.parametrize("kind", ["gaussian", "flow", "flow-naive"])
@pytest.mark.parametrize("bound", ["clip", "tanh"])
def test_interface_shapes_and_bounds(kind, bound):
    cfg = PolicyConfig(kind=kind, action_bound=bound)
    pol = make_policy(cfg, 7, 4)
    critic = make_critic(cfg, 7)
    obs = torch.randn(33, 7)
    u, logp = pol.sample(obs)
    assert u.shape == (33, 4) and logp.shape == (33,)
    assert pol.log_prob(obs, u).shape == (33,)
    assert pol.entropy(obs).shape == (33,)
    det = pol.deterministic(obs)
    assert det.shape == (33, 4) and det.abs().max() <= 1
    assert pol.to_action(u * 100).abs().max() <= 1
    assert critic(obs).shape == (33,)
    assert all(isinstance(v, float) for v in pol.diagnostics(obs).values())


def test_flow_naive_has_unbounded_log_scale():
    pol = make_policy(PolicyConfig(kind="flow-naive"), 3, 2)
    assert isinstance(pol, FlowPolicy)
    assert all(layer.log_scale_bound is None for layer in pol.flow.layers)
    pol = make_policy(PolicyConfig(kind="flow", log_scale_bound=1.5), 3, 2)
    assert all(layer.log_scale_bound == 1.5 for layer in pol.flow.layers)


def test_entropy_gradient_flows_through_flow_log_det():
    pol = randomize(FlowPolicy(4, 2, hidden=(8,)), 0.3)
    pol.entropy(torch.randn(16, 4)).mean().backward()
    grads = [p.grad for p in pol.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
