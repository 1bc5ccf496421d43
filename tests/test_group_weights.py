"""Group weights that follow returns (``--flow-groups-temperature``): the soft-max rule, the
mixture's weights it sets, and the settings' errors. A training run whose weights move (and
resume bit-identically) is in tests/test_resume.py."""

import math

import numpy as np
import pytest
import torch

from nfpo.algo.group_weights import GroupWeights
from nfpo.config import TrainConfig
from nfpo.errors import ConfigError
from nfpo.policies import FlowMixturePolicy


def test_weights_are_the_floored_softmax_of_the_running_returns():
    gw = GroupWeights(3, temperature=0.5, floor=0.1, rate=0.5)
    gw.observe(np.array([0, 1]), np.array([-1.0, -2.0]))
    assert gw.weights(1.0) is None  # group 2 has no return yet
    gw.observe(np.array([2, 2]), np.array([-9.0, -5.0]))  # first sets, second moves half-way
    assert gw.returns.tolist() == [-1.0, -2.0, -7.0]
    w = gw.weights(2.0)  # tau = T sigma = 1
    soft = np.exp([-1.0, -2.0, -7.0]) / np.exp([-1.0, -2.0, -7.0]).sum()
    assert np.allclose(w, 0.9 * soft + 0.1 / 3) and math.isclose(w.sum(), 1.0)
    assert w[2] < 0.035  # far below the best: about the floor's 1/30
    assert np.allclose(gw.weights(1e6), 1 / 3)  # a huge scale: equal shares
    again = GroupWeights(3, 0.5, 0.1, 0.5)
    again.load_state_dict(gw.state_dict())
    assert np.array_equal(again.weights(2.0), w)


def mixture(prior=True):
    torch.manual_seed(0)
    return FlowMixturePolicy(3, 2, 4, hidden=(16, 16), base_mixture=8, base_mixture_init="sphere",
                             base_mixture_prior=prior).double()


def test_setting_group_weights_keeps_each_groups_density_and_changes_the_draws():
    pol = mixture()
    obs = torch.randn(64, 3, dtype=torch.float64)
    comp = torch.arange(64) % 8
    u, _ = pol.rsample_raw(obs, component=comp)
    before = pol.log_prob_raw(obs, u, comp)
    w = torch.tensor([0.7, 0.1, 0.15, 0.05], dtype=torch.float64)
    pol.set_group_weights(w)
    assert torch.allclose(pol.group_weights().double(), w, atol=1e-6)
    assert torch.allclose(pol.log_prob_raw(obs, u, comp), before)  # pi_g does not move
    drawn = pol.group_of[pol.base_dist.draw_components(20_000)]
    share = torch.bincount(drawn, minlength=4) / 20_000.0
    assert torch.allclose(share.double(), w, atol=0.02)
    # the marginal is the weighted sum of the groups' densities, still normalized
    g = torch.linspace(-7, 7, 400, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = pol.log_prob_raw(obs[:1].expand(len(grid), 3), grid).exp().sum() * (g[1] - g[0])**2
    assert abs(mass.item() - 1) < 2e-3


def test_a_mixture_without_a_prior_refuses_weights():
    with pytest.raises(RuntimeError, match="prior=True"):
        mixture(prior=False).set_group_weights(torch.full((4,), 0.25))


@pytest.mark.parametrize("change,needle", [
    (dict(flow_groups_temperature=-1.0), "flow_groups_temperature=-1.0"),
    (dict(flow_groups_temperature=1.0, flow_base_mixture_hold=False), "flow_base_mixture_hold"),
    (dict(flow_groups_floor=1.5), "flow_groups_floor=1.5"),
    (dict(flow_groups_start=-0.1), "flow_groups_start=-0.1"),
    (dict(flow_groups_restart=-1.0), "flow_groups_restart=-1.0"),
    (dict(flow_groups_restart=1.0), "flow_groups_temperature > 0"),
    (dict(flow_groups_merge=0.5, flow_groups_temperature=0.5, flow_groups_shared=True),
     "not flow_groups_shared"),
    (dict(flow_groups_restart_radius=1.0), "flow_groups_restart_radius=1.0"),
    (dict(flow_groups_restart_mutual=True), "flow_groups_restart_mutual=True"),
    (dict(flow_groups_merge_start=0.25), "flow_groups_merge_start=0.25"),
    (dict(flow_groups_merge_start=1.5, flow_groups_merge=0.6, flow_groups_temperature=0.5),
     "flow_groups_merge_start=1.5"),
    (dict(flow_groups_restart_radius=-1.0, flow_groups_restart=1.0,
          flow_groups_temperature=0.5), "flow_groups_restart_radius=-1.0"),
])
def test_bad_group_weight_settings_are_named(change, needle):
    cfg = TrainConfig()
    p = cfg.policy
    p.kind, p.flow_base_mixture, p.flow_base_mixture_hold, p.flow_groups = "flow", 4, True, 2
    for k, v in change.items():
        setattr(p, k, v)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        cfg.validate()
