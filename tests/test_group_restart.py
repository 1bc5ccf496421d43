"""Restarting a lagging group of a mixture of held flows (``--flow-groups-restart``) and merging
groups that went the same way (``--flow-groups-merge``): the choice of the pair, the copy
(densities, value, Adam state), the merge. The settings' errors are in
tests/test_group_weights.py; training runs with restarts and merges that resume
bit-identically in tests/test_resume.py."""

import numpy as np
import pytest
import torch

from nfpo.agent import Agent
from nfpo.algo.group_restart import copy_parts
from nfpo.algo.group_weights import GroupWeights
from nfpo.config import TrainConfig
from nfpo.runner import Trainer


def test_the_lagging_group_is_paired_with_the_nearest_good_group():
    gw = GroupWeights(4, temperature=0.5, rate=1.0)
    # returns: groups 0-2 good, 3 far behind; descriptors: 3 went near 2 and far from 0, 1
    gw.observe(np.arange(4), np.array([-16.0, -17.0, -18.0, -35.0]),
               np.array([[0.0, 1.0], [0.1, 1.1], [0.2, -1.0], [0.5, -1.5]]))
    assert gw.lagging(sigma=14.0, gap=1.5) is None  # 19 < 1.5 * 14: not far enough behind
    assert gw.lagging(sigma=14.0, gap=1.0) == (3, 2)
    gw.returns[2] = -32.0  # group 2 behind too (but not the worst): not a donor
    assert gw.lagging(sigma=14.0, gap=1.0) == (3, 0)
    gw.copy(3, 0)
    assert gw.returns[3] == -16.0 and np.array_equal(gw.outcomes[3], gw.outcomes[0])
    assert gw.restarts == 1
    again = GroupWeights(4, 0.5, rate=1.0)
    again.load_state_dict(gw.state_dict())
    assert again.state_dict() == gw.state_dict()
    assert again.lagging(14.0, 1.0) == gw.lagging(14.0, 1.0) == (2, 0)


def test_a_restart_radius_keeps_the_only_group_of_a_side():
    gw = GroupWeights(3, temperature=0.5, rate=1.0)
    # group 2 lags on its own side (descriptor y < 0); the good groups 0, 1 went to y > 0
    gw.observe(np.arange(3), np.array([-16.0, -17.0, -35.0]),
               np.array([[0.0, 1.0], [0.1, 0.9], [0.3, -0.8]]))
    assert gw.lagging(14.0, 1.0) == (2, 1)  # no radius: copied across (1.7 away)
    assert gw.lagging(14.0, 1.0, radius=1.0) is None  # left on its own side
    gw.observe(np.array([2]), np.array([-35.0]), np.array([[0.2, 0.3]]))  # it came nearer
    assert gw.lagging(14.0, 1.0, radius=1.0) == (2, 1)


def test_a_mutual_restart_keeps_the_only_group_of_a_side():
    gw = GroupWeights(4, temperature=0.5, rate=1.0)
    # groups 0, 1 good on side y > 0; group 2 good on y < 0; group 3 lags on y < 0
    gw.observe(np.arange(4), np.array([-16.0, -17.0, -17.5, -35.0]),
               np.array([[0.0, 1.0], [0.1, 0.9], [0.2, -1.0], [0.5, -1.2]]))
    assert gw.lagging(14.0, 1.0, mutual=True) == (3, 2)  # 2 and 3: each other's nearest
    gw.alive[2], gw.returns[2] = False, np.nan  # group 2 merged away: 3 is side's only group
    assert gw.lagging(14.0, 1.0) == (3, 1)  # copied across without the rule
    assert gw.lagging(14.0, 1.0, mutual=True) is None  # 1's nearest live group is 0


def test_no_restart_before_every_group_has_a_descriptor():
    gw = GroupWeights(2, 0.5)
    gw.observe(np.array([0, 1]), np.array([0.0, -100.0]))  # returns only
    assert gw.lagging(1.0, 0.1) is None


def agent(condition=True):
    cfg = TrainConfig()
    p = cfg.policy
    p.kind, p.flow_hidden, p.flow_base_mixture, p.flow_base_mixture_hold = "flow", (16, 16), 8, True
    p.flow_base_mixture_init, p.flow_groups, p.flow_base_mixture_condition = "sphere", 4, condition
    p.flow_groups_temperature = 0.5  # a base whose group weights can be set
    torch.manual_seed(0)
    return Agent(cfg, 3, 2).double()


def trained(steps):
    """An agent whose groups' stacks and value columns were moved apart by ``steps`` Adam
    steps (so Adam has state), its optimizer, and the observations and held lumps used."""
    ag = agent()
    opt = torch.optim.Adam(ag.parameters(), lr=1e-2)
    obs = torch.randn(64, 3, dtype=torch.float64)
    comp = torch.arange(64) % 8
    for _ in range(steps):
        opt.zero_grad()
        _, logp = ag.policy.rsample_raw(obs, component=comp)
        (logp.square().mean() + ag.critic(ag.critic_input(obs, comp)).square().mean()).backward()
        opt.step()
    return ag, opt, obs


def test_a_copied_group_has_the_donors_density_value_and_adam_state():
    ag, opt, obs = trained(3)
    pol = ag.policy
    dst, src = 1, 3
    lumps = [(pol.group_of == g).nonzero().ravel() for g in range(4)]
    k_dst, k_src = (lumps[g][torch.arange(64) % len(lumps[g])] for g in (dst, src))
    u, _ = pol.rsample_raw(obs, component=k_src)
    with torch.no_grad():
        before = {g: pol.log_prob_raw(obs, u, lumps[g][torch.arange(64) % len(lumps[g])])
                  for g in range(4)}
        assert not torch.allclose(before[dst], before[src])
        copy_parts(ag.group_parts(dst, src), opt)
        after = pol.log_prob_raw(obs, u, k_dst)
        assert torch.allclose(after, before[src], atol=1e-10)  # pi_dst = pi_src
        for g in (0, 2, 3):  # the others are untouched
            assert torch.equal(pol.log_prob_raw(obs, u, lumps[g][torch.arange(64) %
                                                                 len(lumps[g])]), before[g])
        v = ag.critic
        assert torch.allclose(v(ag.critic_input(obs, k_dst)), v(ag.critic_input(obs, k_src)))
    for pd, ps in zip(pol.stacks[dst].parameters(), pol.stacks[src].parameters(), strict=True):
        for key in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(opt.state[pd][key], opt.state[ps][key])
    means = opt.state[pol.base_dist.means]["exp_avg_sq"]
    assert torch.equal(means[lumps[dst]], means[lumps[src]])


def test_a_shared_stack_cannot_restart_a_group():
    ag = agent()
    ag.policy.shared = True
    with pytest.raises(ValueError, match="flow_groups_shared"):
        ag.group_parts(0, 1)


def test_the_closest_good_pair_merges_into_the_better_group():
    gw = GroupWeights(4, temperature=0.5, rate=1.0)
    gw.observe(np.arange(4), np.array([-16.0, -17.0, -18.0, -35.0]),
               np.array([[0.0, 1.0], [0.1, 1.1], [0.2, -1.0], [0.25, -1.05]]))
    assert gw.mergeable(14.0, 1.0, radius=0.1) is None  # the closest pair is 0.14 apart
    assert gw.mergeable(14.0, 0.0, radius=0.2) == (3, 2)  # gap 0: every live group is good
    assert gw.mergeable(14.0, 1.0, radius=0.2) == (1, 0)  # group 3 is behind: not merged
    gw.merge(1, 0)
    w = gw.weights(14.0)
    assert w[1] == 0.0 and np.isclose(w.sum(), 1.0) and np.all(w[[0, 2, 3]] >= 0.1 / 3)
    assert gw.mergeable(14.0, 1.0, radius=0.2) is None  # the dead group is nobody's pair
    assert gw.lagging(14.0, 1.0) == (3, 2)  # ... nor the worst (its return is gone)
    again = GroupWeights(4, 0.5, rate=1.0)
    again.load_state_dict(gw.state_dict())
    assert again.alive.tolist() == [True, False, True, True]
    assert np.array_equal(again.weights(14.0), w)


def test_a_merged_group_samples_from_its_hosts_lumps_and_stack():
    ag, opt, obs = trained(1)
    pol = ag.policy
    dst, src = 1, 3
    k_dst = (pol.group_of == dst).nonzero().ravel()
    k_src = (pol.group_of == src).nonzero().ravel()
    u, _ = pol.rsample_raw(obs, component=k_src[torch.arange(64) % len(k_src)])
    with torch.no_grad():
        before = pol.log_prob_raw(obs, u, k_src[torch.arange(64) % len(k_src)])
        copy_parts(pol.merge_group(dst, src), opt)
        assert not (pol.group_of == dst).any()
        # the merged lumps are the host's: the same density, from the host's stack
        assert torch.allclose(pol.log_prob_raw(obs, u, k_dst[torch.arange(64) % len(k_dst)]),
                              before, atol=1e-10)
        assert torch.allclose(pol.log_prob_raw(obs, u, k_src[torch.arange(64) % len(k_src)]),
                              before, atol=1e-10)
        pol.set_group_weights(torch.tensor([0.3, 0.0, 0.3, 0.4], dtype=torch.float64))
        assert torch.allclose(pol.group_weights(), torch.tensor([0.3, 0.0, 0.3, 0.4],
                                                                dtype=torch.float64))
        g = torch.linspace(-7, 7, 400, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        mass = pol.log_prob_raw(obs[:1].expand(len(grid), 3), grid).exp().sum() * (g[1] - g[0])**2
    assert abs(mass.item() - 1) < 2e-3  # the marginal is still a density


@pytest.mark.parametrize("merge_start,merged", [(None, False), (0.0, True)])
def test_merges_start_at_their_own_fraction(tmp_path, merge_start, merged):
    """``flow_groups_merge_start`` lets groups merge while the weights are still equal
    (``flow_groups_start`` 1: they never follow the returns); unset, merges wait for
    ``flow_groups_start`` with the weights."""
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/MultiGoal-v0", 2
    p = cfg.policy
    p.kind, p.flow_base_mixture, p.flow_base_mixture_hold = "flow", 4, True
    p.flow_base_mixture_condition, p.flow_groups = True, 4
    p.flow_groups_temperature, p.flow_groups_start = 0.5, 1.0
    p.flow_groups_merge, p.flow_groups_merge_start = 100.0, merge_start  # any pair is close
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = 8 * 128, str(tmp_path / "run")
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 0
    trainer = Trainer(cfg)
    trainer.train()
    alive = trainer.collector.group_weights.alive
    assert (alive.sum() < 4) == merged
    # the lumps' weights stayed equal (a merged group's lumps count for its host)
    lumps = np.bincount(trainer.agent.policy.group_of.numpy(), minlength=4) / 4
    assert np.allclose(trainer.agent.policy.group_weights().numpy(), lumps)
    assert np.array_equal(lumps > 0, alive)
