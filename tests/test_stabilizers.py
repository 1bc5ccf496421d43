"""Stabilizer switches: each keeps the exact log-prob and does what its docstring says."""

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from nfpo.algo.ppo import clipped_surrogate
from nfpo.config import PolicyConfig
from nfpo.export.fused import FusedFlowPush
from nfpo.flows import standard_normal_log_prob
from nfpo.policies import FlowPolicy, make_policy
from tests.conftest import randomize


@pytest.mark.parametrize("layernorm,base_scale", [(True, False), (False, True), (True, True)])
def test_log_prob_exact_with_stabilizers(layernorm, base_scale):
    pol = randomize(FlowPolicy(5, 3, hidden=(16, 16), layernorm=layernorm,
                               base_scale=base_scale), 0.25).double()
    obs = torch.randn(4, 5, dtype=torch.float64)
    torch.manual_seed(3)
    u, logp = pol.sample(obs)
    torch.manual_seed(3)
    z = torch.randn(4, 3, dtype=torch.float64)
    for i in range(4):
        J = jacobian(lambda zi, i=i: pol.push(obs[i:i + 1], zi.unsqueeze(0))[0], z[i])
        expected = standard_normal_log_prob(z[i:i + 1])[0] - torch.linalg.slogdet(J)[1]
        assert torch.allclose(logp[i], expected, atol=1e-9)
    assert torch.allclose(pol.log_prob(obs, u), logp, atol=1e-9)
    with torch.no_grad():
        assert torch.allclose(FusedFlowPush(pol)(obs, z), pol.push(obs, z), atol=1e-10)


def test_base_scale_starts_as_identity_and_shrinks_entropy():
    pol = FlowPolicy(4, 2, base_scale=True)
    assert torch.equal(pol.base_log_std, torch.zeros(2))
    h0 = pol.entropy(torch.randn(4000, 4)).mean().item()
    with torch.no_grad():
        pol.base_log_std.fill_(-1.0)
    h1 = pol.entropy(torch.randn(4000, 4)).mean().item()
    assert h1 == pytest.approx(h0 - 2.0, abs=0.1)  # H shifts by sum(log sigma) = -2


def test_identity_init_switch_off_gives_a_random_exact_flow():
    torch.manual_seed(0)
    pol = make_policy(PolicyConfig(kind="flow", flow_identity_init=False), 4, 2).double()
    obs, u = torch.randn(64, 4, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    logp = pol.log_prob_raw(obs, u)
    # no longer N(0, I): per-state modes and log-dets, still bounded by 4 layers x b = 2
    assert (logp - standard_normal_log_prob(u)).abs().max() > 0.1
    assert pol.mode_raw(obs).abs().max() > 0.1
    z, ld = pol.flow.inverse(u, pol.encoder(obs))
    assert ld.abs().max() <= 4 * 2.0 + 1e-9  # 4 layers x 1 active dim x bound b = 2
    assert torch.allclose(pol.push(obs, z), u, atol=1e-10)


def test_layernorm_is_in_the_conditioners():
    pol = make_policy(PolicyConfig(kind="flow", flow_layernorm=True), 3, 2)
    assert any(isinstance(m, torch.nn.LayerNorm) for m in pol.modules())
    naive = make_policy(PolicyConfig(kind="flow-naive", flow_layernorm=True,
                                     flow_base_scale=True), 3, 2)
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in naive.modules())
    assert naive.base_log_std is None  # the ablation baseline never gets stabilizers


def test_log_ratio_clamp_bounds_loss_and_gradient():
    adv = torch.tensor([-1.0, 1.0])
    lr = torch.tensor([8.0, 0.0], requires_grad=True)  # ratio e^8 with a negative advantage
    loss = clipped_surrogate(adv, lr, 0.2)
    assert loss.item() > 1000
    lr2 = lr.detach().clone().requires_grad_()
    loss2 = clipped_surrogate(adv, lr2, 0.2, log_ratio_clamp=1.0)
    assert loss2.item() < 2.0
    loss2.backward()
    assert lr2.grad[0] == 0.0  # clamped sample no longer pulls
    same = clipped_surrogate(adv, torch.tensor([0.1, -0.1]), 0.2, log_ratio_clamp=1.0)
    assert same == clipped_surrogate(adv, torch.tensor([0.1, -0.1]), 0.2)


def test_flow_lr_scale_and_grad_clip(tmp_path):
    from nfpo.config import TrainConfig
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.ppo.flow_lr_scale, cfg.ppo.flow_max_grad_norm = 0.1, 1e-3
    cfg.ppo.lr_schedule = "constant"
    cfg.run.run_dir = str(tmp_path)
    tr = Trainer(cfg)
    lrs = sorted(g["lr"] for g in tr.ppo.optimizer.param_groups)
    assert lrs == pytest.approx([3e-5, 3e-4])
    flow_ids = {id(p) for p in tr.agent.policy.flow.parameters()}
    assert {id(p) for p in tr.ppo.flow_params} == flow_ids
    before = [p.detach().clone() for p in tr.ppo.flow_params]
    tr.collector.start(0, None, False)
    tr.rollout()
    tr.ppo.update(tr.storage)
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.ppo.flow_params, strict=True))
    tr.envs.close()


def test_target_entropy_controller_moves_the_right_way(tmp_path):

    from nfpo.config import TrainConfig
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.ppo.target_entropy = 10.0  # far above the initial ~2.8 nats: alpha must grow
    cfg.run.run_dir = str(tmp_path)
    tr = Trainer(cfg)
    a0 = tr.ppo.ent_coef
    tr.collector.start(0, None, False)
    for _ in range(3):
        tr.rollout()
        m = tr.ppo.update(tr.storage)
        tr.storage.clear()
    assert m["policy/ent_coef"] > a0
    tr.ppo.update_entropy_coef(entropy=100.0)  # far above target: alpha shrinks
    assert tr.ppo.ent_coef < m["policy/ent_coef"]
    tr.ppo.log_alpha = 5.0
    tr.ppo.update_entropy_coef(entropy=-1e9)
    assert tr.ppo.ent_coef <= 1.0  # clamped
    tr.envs.close()


@pytest.mark.parametrize("kind", ["flow", "gaussian"])
def test_policy_float64(tmp_path, kind):
    import numpy as np

    from nfpo.config import TrainConfig
    from nfpo.export import export_run
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.policy.kind, cfg.policy.policy_float64 = kind, True
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 2
    cfg.run.total_steps, cfg.run.run_dir = 512, str(tmp_path)
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 2
    tr = Trainer(cfg)
    assert tr.agent.policy.compute_dtype == torch.float64
    obs = torch.randn(8, 4)
    u, logp = tr.agent.policy.sample(obs)
    assert u.dtype == logp.dtype == torch.float32
    tr.train()
    from nfpo.logger import read_metrics

    assert max(read_metrics(tmp_path)["policy/ratio_error_at_start"]) < 1e-4
    assert export_run(tmp_path, "onnx")["max_abs_diff"] < 1e-5
    assert np.isfinite(read_metrics(tmp_path)["loss/policy"]).all()


def test_stress_regression_naive_flow_blows_up_kl_stop_holds(tmp_path):
    """The stability finding of benchmarks/stability (stress regime: no global grad clip) in
    10 updates of Walker2d-v5, fixed seed, at lr 2e-3: the naive flow's KL and min log-ratio
    blow up, while the NFPO default (bound, identity init, per-minibatch KL stop at
    NFPO_TARGET_KL = 0.1) stays near its target. Measured (seeds 1/2/3): naive max KL 125 /
    21439 / 20, min log-ratio -32607 / -2966341 / -13883; default 0.057 / 0.046 / 0.050 and
    -4.2 / -2.8 / -3.3. At the grid's lr 1e-3 the 10-update window is too short for a margin
    (seed 1: naive 0.23, -24), so the test uses 2e-3."""
    from nfpo.config import TrainConfig
    from nfpo.logger import read_metrics
    from nfpo.runner import Trainer

    stats = {}
    for name, kind, target_kl in (("naive", "flow-naive", None), ("kl", "flow", "auto")):
        cfg = TrainConfig()
        cfg.env.id, cfg.policy.kind, cfg.ppo.target_kl = "Walker2d-v5", kind, target_kl
        cfg.ppo.learning_rate, cfg.ppo.max_grad_norm = 2e-3, 1e6
        cfg.ppo.lr_schedule = "constant"  # as at the start of the 300k-step grid runs
        cfg.run.total_steps, cfg.run.seed, cfg.run.run_dir = 20480, 1, str(tmp_path / name)
        cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
        cfg.run.eval_episodes = 0
        m = read_metrics(Trainer(cfg).train())
        stats[name] = (max(m["policy/approx_kl"]), min(m["policy/log_ratio_min"]))
    assert stats["naive"][0] > 1.0 and stats["naive"][1] < -100, stats
    assert stats["kl"][0] < 0.15 and stats["kl"][1] > -60, stats


def test_entropy_reward_adds_minus_alpha_log_pi_to_stored_rewards_only(tmp_path):
    from nfpo.config import TrainConfig
    from nfpo.errors import ConfigError
    from nfpo.runner import Trainer

    def first_rollout(alpha: float):
        cfg = TrainConfig()
        cfg.env.id, cfg.env.num_envs, cfg.env.scale_reward = "nfpo/MultiGoal-v0", 2, False
        cfg.policy.action_bound, cfg.ppo.ent_reward_coef = "tanh", alpha
        cfg.ppo.num_steps, cfg.ppo.num_minibatches = 64, 2
        cfg.run.run_dir = str(tmp_path / f"a{alpha}")
        tr = Trainer(cfg)
        tr.collector.start(0, None, False)
        tr.rollout()
        ret = tr.collector.running[1]
        tr.envs.close()
        m = tr.stats.metrics()
        return tr.storage, (m["episode/count"], m["episode/return"]), ret

    s0, eps0, ret0 = first_rollout(0.0)
    s1, eps1, ret1 = first_rollout(0.5)
    assert torch.equal(s0.log_probs, s1.log_probs)  # same seed: the same actions
    assert torch.allclose(s1.rewards, s0.rewards - 0.5 * s0.log_probs, atol=1e-5)
    assert not torch.allclose(s1.rewards, s0.rewards)
    assert eps0 == eps1 and np.array_equal(ret0, ret1)  # episode returns stay the env's
    cfg = TrainConfig()
    cfg.ppo.ent_reward_coef = 0.1  # with the default clip bound: refused, naming the fix
    with pytest.raises(ConfigError, match="ent_reward_coef.*action-bound tanh"):
        cfg.validate()


def test_mixture_base_log_prob_is_exact_and_push_uses_the_densest_component():
    import math

    from nfpo.export.fused import FusedFlowPush

    torch.manual_seed(0)
    pol = randomize(FlowPolicy(3, 2, hidden=(16, 16), base_mixture=5, base_mixture_std=0.4),
                    0.25).double()
    mu, s = pol.base_dist.means.detach(), 0.4
    obs = torch.randn(6, 3, dtype=torch.float64)
    u, logp = pol.sample(obs)
    zs, logdet = pol.flow.inverse(u, pol.encoder(obs))
    # the base density by hand: the mean of the 5 component densities
    dens = torch.stack([torch.exp(-((zs - m) ** 2).sum(-1) / (2 * s**2)) / (2 * math.pi * s**2)
                        for m in mu]).mean(0)
    assert torch.allclose(logp, dens.log() + logdet, atol=1e-9)
    assert torch.allclose(pol.log_prob(obs, u), logp, atol=1e-9)
    # a sample's base point lies near one of the means (mixture of lumps, std 0.4)
    assert torch.cdist(zs, mu).min(1).values.max() < 5 * s
    # push(obs, 0) = f(mu_k*): k* maximizes the mixture density at the means
    k = int(torch.stack([torch.exp(-((mu - m) ** 2).sum(-1) / (2 * s**2)) for m in mu]
                        ).sum(0).argmax())
    det = pol.push(obs, torch.zeros(6, 2, dtype=torch.float64))
    assert torch.allclose(det, pol.flow(mu[k].expand(6, 2), pol.encoder(obs))[0])
    z = torch.randn(6, 2, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(FusedFlowPush(pol)(obs, z), pol.push(obs, z), atol=1e-10)
    # reparameterized: the entropy's gradient reaches the means
    pol.entropy(obs).mean().backward()
    assert pol.base_dist.means.grad is not None and pol.base_dist.means.grad.abs().sum() > 0


def test_learned_mixture_weights_log_prob_sampling_and_gradient():
    import math

    from nfpo.export.fused import FusedFlowPush

    torch.manual_seed(0)
    pol = randomize(FlowPolicy(3, 2, hidden=(16, 16), base_mixture=4, base_mixture_std=0.3,
                               base_mixture_weights=True), 0.25).double()
    with torch.no_grad():
        pol.base_dist.logits.copy_(torch.tensor([2.0, 0.0, -1.0, 0.5]))
        pol.base_dist.means.copy_(torch.tensor([[3.0, 0], [0, 3.0], [-3.0, 0], [0, -3.0]]))
    w = torch.softmax(pol.base_dist.logits.detach(), 0)
    mu, s = pol.base_dist.means.detach(), 0.3
    obs = torch.randn(6, 3, dtype=torch.float64)
    u, logp = pol.sample(obs)
    zs, logdet = pol.flow.inverse(u, pol.encoder(obs))
    dens = sum(wk * torch.exp(-((zs - m) ** 2).sum(-1) / (2 * s**2)) / (2 * math.pi * s**2)
               for wk, m in zip(w, mu, strict=True))
    assert torch.allclose(logp, dens.log() + logdet, atol=1e-9)
    assert torch.allclose(pol.log_prob(obs, u), logp, atol=1e-9)
    # components are drawn with their weights
    z = pol.base_dist.sample(20000, obs)
    share = torch.bincount(torch.cdist(z, mu).argmin(1), minlength=4).double() / 20000
    assert torch.allclose(share, w, atol=0.02)
    # the deterministic action starts from the weighted-densest mean (here the heaviest one)
    det = pol.push(obs, torch.zeros(6, 2, dtype=torch.float64))
    assert torch.allclose(det, pol.flow(mu[0].expand(6, 2), pol.encoder(obs))[0])
    with torch.no_grad():
        assert torch.allclose(FusedFlowPush(pol)(obs, z[:6]), pol.push(obs, z[:6]), atol=1e-10)
    # the surrogate's log-prob moves the weights
    pol.log_prob(obs, u).sum().backward()
    assert pol.base_dist.logits.grad.abs().sum() > 0


def test_mixture_base_loads_checkpoints_of_the_earlier_layout_and_keeps_parameter_order():
    """Before nfpo.flows.distributions the mixture's tensors were policy.base_means /
    policy.base_logits, registered right after base_log_std: such checkpoints load, and the
    parameter order (which the optimizer state in a checkpoint is indexed by) is unchanged."""
    from nfpo.checkpoint import load_module

    torch.manual_seed(0)
    pol = FlowPolicy(3, 2, hidden=(8,), base_mixture=4, base_mixture_weights=True,
                     base_scale=True)
    names = [n for n, _ in pol.named_parameters()]
    assert names[:3] == ["base_log_std", "base_dist.means", "base_dist.logits"]
    assert names[3].startswith("flow.")
    old = {("policy." + k).replace("base_dist.", "base_"): v.clone() + 1.0
           for k, v in pol.state_dict().items()}
    assert "policy.base_means" in old and "policy.base_logits" in old
    load_module(pol, old, "policy")
    assert torch.equal(pol.base_dist.means, old["policy.base_means"])
    assert torch.equal(pol.base_dist.logits, old["policy.base_logits"])


def test_mixture_base_exports_deterministic_and_refuses_stochastic(tmp_path):
    from nfpo.config import TrainConfig
    from nfpo.errors import ConfigError, ExportError
    from nfpo.export import export_run
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.policy.flow_base_mixture = 4
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 2
    cfg.ppo.ent_coef, cfg.ppo.ent_coef_final = 0.2, 0.0
    cfg.run.total_steps, cfg.run.run_dir = 512, str(tmp_path)
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 2
    tr = Trainer(cfg)
    assert tr.ppo.ent_coef == 0.2
    tr.train()
    assert tr.ppo.ent_coef == pytest.approx(0.0)  # annealed linearly to ent_coef_final
    from nfpo.logger import read_metrics

    coefs = read_metrics(tmp_path)["policy/ent_coef"]
    assert coefs[0] > coefs[-1] and (np.diff(coefs) < 0).all()
    assert export_run(tmp_path, "onnx")["max_abs_diff"] < 1e-5
    with pytest.raises(ExportError, match="mixture base"):
        export_run(tmp_path, "onnx", stochastic=True)
    bad = TrainConfig()
    bad.policy.flow_base_mixture = 1
    with pytest.raises(ConfigError, match="flow_base_mixture"):
        bad.validate()
    bad = TrainConfig()
    bad.ppo.ent_coef_final, bad.ppo.target_entropy = 0.0, 1.0
    with pytest.raises(ConfigError, match="ent_coef_final"):
        bad.validate()
