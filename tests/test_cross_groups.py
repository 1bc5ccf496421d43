"""Intra-group learning (``--group-cross-coef``, ``nfpo.algo.cross_groups``): which (step,
group) pairs are weighted and by how much, the one-step advantage under the learning group's
own value, the loss and where its gradient goes, the setting's errors, and a short run."""

import csv
import math

import pytest
import torch

from nfpo.agent import Agent
from nfpo.algo.cross_groups import CrossGroupTargets
from nfpo.config import TrainConfig
from nfpo.errors import ConfigError
from nfpo.storage import RolloutStorage

T, N, G = 6, 3, 4


def filled():
    """A 4-group mixture agent (critic reads the group) and a storage of T x N steps sampled
    from it, with one episode end at step 2 of env 0 and none at the last step of env 1."""
    cfg = TrainConfig()
    p = cfg.policy
    p.kind, p.flow_hidden, p.flow_base_mixture, p.flow_base_mixture_hold = "flow", (16, 16), 8, True
    p.flow_base_mixture_init, p.flow_groups, p.flow_base_mixture_condition = "sphere", G, True
    torch.manual_seed(0)
    ag = Agent(cfg, 3, 2)
    st = RolloutStorage(T, N, 3, 2, critic_obs_dim=ag.stored_critic_dim, components=True)
    comp = torch.tensor([0, 3, 6])  # groups differ per env
    with torch.no_grad():
        for t in range(T):
            obs = torch.randn(N, 3)
            u, logp = ag.policy.sample(obs, None, comp)
            xc = ag.critic_input(obs, comp)
            done = torch.tensor([float(t == 2), 0.0, float(t == T - 1)])
            st.add(obs, u, logp, ag.critic(xc), torch.randn(N), done, xc, comp)
    return ag, st


def build(ag, st, min_weight=0.0):
    return CrossGroupTargets.build(st, ag.policy.log_prob, ag.held_value, ag.policy.group_of,
                                   0.9, min_weight)


def test_weights_are_truncated_ratios_to_the_other_groups_only():
    ag, st = filled()
    x = build(ag, st)
    full, group_of = st.flat(), ag.policy.group_of
    own = group_of[full.components]
    live = group_of.unique()
    assert len(x.components) == len(live) and torch.equal(group_of[x.components], live)
    for j, h in enumerate(live.tolist()):
        with torch.no_grad():
            logp_h = ag.policy.log_prob(full.obs, full.actions, x.components[j].expand(T * N))
        want = (logp_h - full.log_probs).exp().clamp(max=1.0)
        for i in range(T * N):
            t, n = divmod(i, N)
            no_next = t == T - 1 and st.dones[t, n] == 0
            if own[i] == h or no_next:
                assert x.weight[i, j] == 0
            else:
                assert x.weight[i, j] == pytest.approx(float(want[i]), rel=1e-5)
    assert (x.weight[:, :] > 0).any()
    # env 2 ended at its last step: it keeps its cross terms; env 1 did not
    last = (T - 1) * N
    assert (x.weight[last + 1] == 0).all() and (x.weight[last + 2] > 0).any()


def test_the_advantage_is_one_step_under_the_learning_groups_own_value():
    ag, st = filled()
    x = build(ag, st)

    def value(h):  # V(s, h): the stored critic input with group h's one-hot, by hand
        inp = st.critic_obs.flatten(0, 1).clone()
        inp[:, -G:] = 0.0
        inp[:, inp.shape[1] - G + h] = 1.0
        return ag.critic(inp).view(T, N)

    with torch.no_grad():
        v = {h: value(h) for h in range(G)}
    raw = torch.zeros(T * N, len(x.components))
    for j, h in enumerate(ag.policy.group_of[x.components].tolist()):
        for t in range(T):
            for n in range(N):
                nxt = 0.0 if st.dones[t, n] or t == T - 1 else float(v[h][t + 1, n])
                raw[t * N + n, j] = st.rewards[t, n] + 0.9 * nxt - v[h][t, n]
    used = x.weight > 0
    want = (raw - raw[used].mean()) / raw[used].std()
    assert torch.allclose(x.advantage[used], want[used], atol=1e-5)
    # not the behaviour group's value: V(s, h) differs between groups
    assert not torch.allclose(v[0], v[1])


def test_the_loss_at_the_old_policy_and_where_its_gradient_goes():
    ag, st = filled()
    x = build(ag, st)
    mb = next(st.minibatches(1))
    loss = x.loss(mb, ag.policy.log_prob, 0.2)  # r = 1: -sum w A / B
    w, a = x.weight[mb.index], x.advantage[mb.index]
    assert loss.item() == pytest.approx(float(-(w * a).sum() / len(mb.obs)), rel=1e-4, abs=1e-6)
    loss.backward()
    stacks = ag.policy.stacks
    moved = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in s.parameters())
             for s in stacks]
    live = set(ag.policy.group_of[x.components].tolist())
    weighted = {int(ag.policy.group_of[x.components[j]]) for j in range(len(x.components))
                if (x.weight[:, j] > 0).any()}
    assert moved == [g in weighted for g in range(G)] and weighted <= live
    # with every weight dropped there is nothing to learn from the other groups
    none = build(ag, st, min_weight=2.0)
    assert (none.weight == 0).all() and none.loss(mb, ag.policy.log_prob, 0.2).item() == 0.0
    assert none.mean_weight() == 0.0 and 0 < x.mean_weight() <= 1


def test_the_setting_needs_held_groups_with_a_group_critic():
    cfg = TrainConfig()
    cfg.ppo.group_cross_coef = 1.0
    with pytest.raises(ConfigError, match="group_cross_coef"):
        cfg.validate()
    cfg.ppo.group_cross_coef = -1.0
    with pytest.raises(ConfigError, match="group_cross_coef"):
        cfg.validate()


def test_a_short_run_learns_from_the_other_groups(tmp_path):
    from nfpo.runner import Trainer
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.ppo.num_steps = "nfpo/MultiGoal-v0", 2, 64
    cfg.ppo.num_minibatches, cfg.run.total_steps, cfg.run.seed = 2, 256, 3
    p = cfg.policy
    p.kind, p.flow_base_mixture, p.flow_base_mixture_hold = "flow", 4, True
    p.flow_base_mixture_init, p.flow_groups, p.flow_base_mixture_condition = "sphere", 4, True
    cfg.ppo.group_cross_coef = 1.0
    run = Trainer(cfg.validate(), tmp_path / "run").train()
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for r in rows:
        assert 0 < float(r["groups/cross_weight"]) <= 1
        assert math.isfinite(float(r["loss/cross_group"]))
