"""numpy rollout inference (``nfpo.policies.numpy_rollout``): the same samples, log-probs and
values as the torch modules (float32 rounding apart), live views of the weights, and the torch
path for what it does not cover."""

import numpy as np
import pytest
import torch

from nfpo.config import PolicyConfig, TrainConfig
from nfpo.policies import make_critic, make_policy
from nfpo.policies.numpy_rollout import NumpyRollout
from nfpo.runner import Trainer

COVERED = [
    dict(kind="gaussian"),
    dict(kind="gaussian", action_bound="tanh", activation="elu"),
    dict(kind="flow"),
    dict(kind="flow", action_bound="tanh", flow_identity_init=False),
    dict(kind="flow", activation="relu", flow_encoder=(32,), flow_base_scale=True,
         flow_identity_init=False),
    dict(kind="flow-naive", flow_identity_init=False),
    dict(kind="flow", activation="elu", flow_hidden=(128, 128), flow_layers=6,
         flow_identity_init=False),
    dict(kind="flow", flow_transform="diagonal", flow_layers=2, flow_identity_init=False),
]


def _perturb(module):
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))


@pytest.mark.parametrize("kw", COVERED, ids=lambda kw: "-".join(f"{v}" for v in kw.values()))
def test_numpy_sample_and_value_match_torch(kw):
    torch.manual_seed(0)
    cfg = PolicyConfig(**kw)
    policy, critic = make_policy(cfg, 11, 3), make_critic(cfg, 11)
    fast = NumpyRollout.build(policy, critic)
    assert fast is not None
    for _ in range(2):  # before and after an in-place update of every weight
        x, z = torch.randn(64, 11), torch.randn(64, 3)
        with torch.no_grad():
            u_t, logp_t = policy.sample(x, z)
            v_t = critic(x)
        u, logp = fast.sample(x.numpy(), z.numpy())
        assert u.dtype == np.float32 and logp.dtype == np.float32
        np.testing.assert_allclose(u, u_t.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(logp, logp_t.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(fast.value(x.numpy()), v_t.numpy(), rtol=1e-5, atol=1e-5)
        _perturb(policy)
        _perturb(critic)
        policy.load_state_dict({k: v.clone() for k, v in policy.state_dict().items()})


@pytest.mark.parametrize("kw", [dict(kind="flow", flow_transform="spline"),
                                dict(kind="flow", flow_base_mixture=4),
                                dict(kind="flow", flow_layernorm=True),
                                dict(kind="gaussian", policy_float64=True)])
def test_uncovered_architectures_keep_the_torch_path(kw):
    cfg = PolicyConfig(**kw)
    policy, critic = make_policy(cfg, 5, 2), make_critic(cfg, 5)
    if cfg.policy_float64:
        policy.double()
    assert NumpyRollout.build(policy, critic) is None


GROUPS = dict(kind="flow", flow_base_mixture=8, flow_base_mixture_std=1.0,
              flow_base_mixture_init="sphere", flow_base_mixture_hold=True, flow_groups=4,
              flow_base_mixture_condition=True, flow_groups_temperature=0.5)


def test_held_groups_sample_matches_torch():
    """A mixture of held flows: each row's group density and push, with learned group weights
    (a prior), after a merge (the lumps' group map is a view), before and after an update."""
    torch.manual_seed(0)
    cfg = PolicyConfig(**GROUPS)
    policy, critic = make_policy(cfg, 11, 3), make_critic(cfg, 11)
    assert NumpyRollout.build(policy, critic) is None  # not held: the marginal, in torch
    fast = NumpyRollout.build(policy, critic, held=True)
    assert fast is not None
    policy.set_group_weights(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    for step in range(3):
        x, k = torch.randn(64, 11), torch.arange(64) % 8
        torch.manual_seed(step)
        with torch.no_grad():
            u_t, logp_t = policy.sample(x, None, k)
        torch.manual_seed(step)  # the base noise: the same draw as base.sample's
        u, logp = fast.sample(x.numpy(), torch.randn(64, 3).numpy(), k.numpy())
        np.testing.assert_allclose(u, u_t.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(logp, logp_t.numpy(), rtol=1e-4, atol=1e-4)
        _perturb(policy)
        if step == 0:
            policy.merge_group(1, 2)
    assert set(policy.group_of.tolist()) == {0, 2, 3}


def _first_rollout(tmp_path, numpy_rollout, kind):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.policy.kind = "nfpo/MultiGoal-v0", 2, kind
    if kind == "groups":
        for key, value in GROUPS.items():
            setattr(cfg.policy, key, value)
    cfg.policy.action_bound = "tanh"
    cfg.ppo.num_steps, cfg.run.numpy_rollout = 64, numpy_rollout
    cfg.run.run_dir = str(tmp_path / f"{kind}-{numpy_rollout}")
    tr = Trainer(cfg)
    assert (tr.collector.fast is not None) == numpy_rollout
    tr.collector.start(0, None, False)
    tr.rollout()
    tr.envs.close()
    return tr.storage


@pytest.mark.parametrize("kind", ["gaussian", "flow", "groups"])
def test_a_rollout_matches_the_torch_path(tmp_path, kind):
    """Same random draws: the numpy rollout stores the torch rollout's actions, log-probs,
    values and rewards to float32 rounding (held groups: the same components and the
    critic's group one-hot too)."""
    a, b = _first_rollout(tmp_path, True, kind), _first_rollout(tmp_path, False, kind)
    names = ["obs", "actions", "log_probs", "values", "rewards", "dones"]
    if kind == "groups":
        assert torch.equal(a.components, b.components)
        names.append("critic_obs")
    for name in names:
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-4, atol=1e-4,
                                   msg=name)


def test_old_configs_replay_through_torch():
    """config.json files written before the field existed replay as they ran (torch)."""
    d = TrainConfig().to_dict()
    del d["run"]["numpy_rollout"]
    assert TrainConfig.from_dict(d).run.numpy_rollout is False
    assert TrainConfig().run.numpy_rollout is True
