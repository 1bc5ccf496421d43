"""The mixture of flows (``--flow-groups``): an exact, normalized density; each group's
gradient comes from its own samples; export and grouping."""

import math

import pytest
import torch

from nfpo.policies import FlowMixturePolicy, FlowPolicy
from nfpo.policies.flow_mixture import group_lumps
from tests.conftest import randomize


def mixture(groups=4, lumps=16, scale=0.05, seed=0, shared=False):
    torch.manual_seed(seed)
    pol = FlowMixturePolicy(3, 2, groups, shared, hidden=(16, 16), base_mixture=lumps,
                            base_mixture_init="sphere").double()
    means = pol.base_dist.means.detach().clone()
    randomize(pol, scale, seed)
    with torch.no_grad():  # keep the lumps spread (randomize also drew the means)
        pol.base_dist.means.copy_(means)
    return pol


@pytest.mark.parametrize("shared", [False, True])
def test_density_integrates_to_one_and_sampling_scores_the_same(shared):
    pol = mixture(scale=0.1, shared=shared)
    obs = torch.randn(1, 3, dtype=torch.float64)
    g = torch.linspace(-7, 7, 500, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = pol.log_prob_raw(obs.expand(len(grid), 3), grid).exp().sum() * (g[1] - g[0])**2
    assert abs(mass.item() - 1) < 1e-3
    u, logp = pol.rsample_raw(obs.expand(64, 3))
    assert torch.allclose(logp, pol.log_prob_raw(obs.expand(64, 3), u))


@pytest.mark.parametrize("group,shared", [(0, False), (2, False), (2, True)])
def test_each_groups_density_integrates_to_one(group, shared):
    pol = mixture(scale=0.1, shared=shared)
    obs = torch.randn(1, 3, dtype=torch.float64)
    g = torch.linspace(-7, 7, 500, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    k = int(torch.nonzero(pol.group_of == group)[0])
    comp = torch.full((len(grid),), k)
    with torch.no_grad():
        lp = pol.log_prob_raw(obs.expand(len(grid), 3), grid, comp)
    assert abs((lp.exp().sum() * (g[1] - g[0])**2).item() - 1) < 1e-3
    u, logp = pol.rsample_raw(obs.expand(64, 3), component=comp[:64])
    assert torch.allclose(logp, pol.log_prob_raw(obs.expand(64, 3), u, comp[:64]))


def grad_norms(pol, held):
    """Gradient norms of each stack from log pi of 256 samples of group 0's lumps."""
    k = torch.nonzero(pol.group_of == 0).ravel()
    comp = k[torch.arange(256) % len(k)]
    obs = torch.randn(256, 3, dtype=torch.float64)
    u, _ = pol.rsample_raw(obs, component=comp)
    pol.log_prob_raw(obs, u.detach(), comp if held else None).mean().backward()
    return [math.sqrt(sum(p.grad.pow(2).sum().item() for p in s.parameters() if p.grad is not None))
            for s in pol.stacks]


def test_held_groups_samples_move_only_its_own_stack():
    """Scored by its group's own density (held components), a sample moves its stack only;
    scored by the marginal, neighbouring groups get a large share of the gradient."""
    own, *others = grad_norms(mixture(scale=0.2), held=True)
    assert own > 0.1 and max(others) == 0.0
    own, *others = grad_norms(mixture(scale=0.2), held=False)
    assert max(others) > 0.2 * own  # neighbouring lumps overlap


def test_components_are_drawn_in_their_groups_and_every_group_is_used():
    pol = mixture()
    obs = torch.randn(4000, 3, dtype=torch.float64)
    comp = pol.base_dist.draw_components(4000)
    u, _ = pol.rsample_raw(obs, component=comp)
    # nearly the identity map: each action stays near its own lump's mean
    near = torch.cdist(u, pol.base_dist.means.detach()).argmin(1)
    assert (pol.group_of[near] == pol.group_of[comp]).float().mean() > 0.8  # 0.25 if mixed up
    assert set(pol.group_of[comp].tolist()) == {0, 1, 2, 3}


def test_group_lumps_keeps_neighbours_together():
    angle = torch.arange(16) * 2 * math.pi / 16
    circle = torch.stack([angle.cos(), angle.sin()], 1)
    groups = group_lumps(circle, 4)
    assert sorted(torch.bincount(groups).tolist()) == [4, 4, 4, 4]
    for g in range(4):  # each group is a run of 4 neighbours (cyclically)
        idx = torch.nonzero(groups == g).ravel().tolist()
        gaps = sorted((b - a) % 16 for a in idx for b in idx if a != b)
        assert min(max((j - i) % 16 for j in idx) for i in idx) == 3, (g, idx, gaps)


@pytest.mark.parametrize("shared", [False, True])
def test_export_push_uses_the_center_lumps_stack(shared):
    from nfpo.export.fused import FusedFlowPush

    pol = mixture(scale=0.3, shared=shared).float()
    obs, z = torch.randn(50, 3), torch.randn(50, 2)
    with torch.no_grad():
        k = pol.base_dist.center_index()
        g = int(pol.group_of[k])
        stack = pol.flow if shared else pol.stacks[g]
        ctx = torch.cat([obs, torch.eye(4)[g].expand(50, 4)], 1) if shared else obs
        want = stack(pol.base_dist.means[k] + pol.base_dist.scale() * z, ctx)[0]
        assert torch.allclose(pol.push(obs, z), want)
        assert torch.allclose(FusedFlowPush(pol)(obs, z), want, atol=1e-5)


def test_a_shared_stack_reads_each_groups_code():
    """--flow-groups-shared: one stack (a quarter of four stacks' weights) whose conditioners
    read [h(s), one_hot(g)]: groups push the same base point differently, a held group's
    samples score by that group's context, and its gradient reaches the shared weights and
    its own code column, never another group's."""
    pol, sep = mixture(scale=0.3, shared=True), mixture(scale=0.3)
    assert len(pol.stacks) == 1 and pol.num_groups == 4 and pol.critic_conditions() == 4
    n_shared = sum(p.numel() for p in pol.flow.parameters())
    n_sep = sum(p.numel() for s in sep.stacks for p in s.parameters())
    assert n_shared < 0.3 * n_sep
    obs, z = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    with torch.no_grad():
        pushed = [pol.flow(z, torch.cat([obs, torch.eye(4, dtype=obs.dtype)[g].expand(8, 4)],
                                        1))[0] for g in range(4)]
    assert min((a - b).abs().max() for i, a in enumerate(pushed) for b in pushed[i + 1:]) > 1e-3
    k = torch.nonzero(pol.group_of == 1).ravel()
    comp = k[torch.arange(64) % len(k)]
    obs = torch.randn(64, 3, dtype=torch.float64)
    u, _ = pol.rsample_raw(obs, component=comp)
    pol.log_prob_raw(obs, u.detach(), comp).mean().backward()
    first = pol.flow.layers[0].net[0].weight.grad  # columns: [h (3), code (4), action (2)]
    assert first[:, :3].abs().max() > 1e-4 and first[:, 4].abs().max() > 1e-4
    assert first[:, [3, 5, 6]].abs().max() == 0.0
    from nfpo.config import PolicyConfig

    with pytest.raises(Exception, match="flow_groups_shared.*flow_groups > 1"):
        PolicyConfig(kind="flow", flow_groups_shared=True).validate()


@pytest.mark.parametrize("kwargs,needle", [
    (dict(base_mixture=0), "mixture base"),
    (dict(base_mixture=4, base_scale=True), "no base scale"),
])
def test_bad_mixtures_are_refused(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        FlowMixturePolicy(3, 2, 2, **kwargs)
    with pytest.raises(ValueError, match="groups=5"):
        FlowMixturePolicy(3, 2, 5, base_mixture=4)
    assert isinstance(FlowPolicy(3, 2, base_mixture=4), FlowPolicy)


def test_a_conditioned_critic_reads_the_group():
    from nfpo.agent import Agent
    from nfpo.config import TrainConfig

    cfg = TrainConfig()
    p = cfg.policy
    p.flow_base_mixture, p.flow_base_mixture_init, p.flow_groups = 8, "sphere", 4
    p.flow_base_mixture_hold = p.flow_base_mixture_condition = True
    agent = Agent(cfg.validate(), 3, 2)
    assert agent.critic_components == 4
    k = torch.arange(8)
    x = agent.critic_input(torch.zeros(8, 3), k)
    assert torch.equal(x[:, 3:].argmax(1), agent.policy.group_of[k])


def test_diagonal_transform_makes_each_flow_a_gaussian_policy():
    """--flow-transform diagonal --flow-layers 1: each group's density is the Gaussian
    N(t(s) + exp(s(s)) mu_g, diag(exp(s(s)) sigma)^2) of its one lump pushed through the
    state-conditioned affine map (the held mixture-of-Gaussians control)."""
    torch.manual_seed(0)
    pol = FlowMixturePolicy(3, 2, 4, hidden=(16, 16), num_layers=1, base_mixture=4,
                            base_mixture_init="sphere", base_mixture_std=0.7,
                            transform="diagonal").double()
    means = pol.base_dist.means.detach().clone()
    randomize(pol, 0.3, 0)
    with torch.no_grad():
        pol.base_dist.means.copy_(means)
    obs = torch.randn(50, 3, dtype=torch.float64)
    u = 2 * torch.randn(50, 2, dtype=torch.float64)
    for g, stack in enumerate(pol.stacks):
        k = int(torch.nonzero(pol.group_of == g)[0])
        layer = stack.layers[0]
        assert layer.mask.sum() == 0 and layer.mask.shape == (2,)
        with torch.no_grad():
            s, t = layer._scale_shift(torch.zeros(50, 2, dtype=torch.float64),
                                      pol.encoder(obs))
            ref = torch.distributions.Normal(t + s.exp() * pol.base_dist.means[k],
                                             0.7 * s.exp()).log_prob(u).sum(-1)
            got = pol.log_prob_raw(obs, u, torch.full((50,), k))
        assert torch.allclose(got, ref, atol=1e-9)
        assert s.abs().max() > 0.01 and t.abs().max() > 0.01  # state-dependent, not identity
    from nfpo.config import PolicyConfig

    with pytest.raises(Exception, match="flow_transform.*'diagonal'"):
        PolicyConfig(kind="flow", flow_transform="gauss").validate()
