"""PPO update, truncation bootstrap, schedules."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from nfpo.algo import adaptive_lr, k3_kl, linear_lr
from nfpo.config import TrainConfig
from nfpo.runner import Trainer


def small_cfg(tmp_path, env="Hopper-v5", kind="flow", **ppo):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = env, 2
    cfg.policy.kind = kind
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 4, 2
    for k, v in ppo.items():
        setattr(cfg.ppo, k, v)
    cfg.run.total_steps, cfg.run.run_dir = 10_000, str(tmp_path / "run")
    cfg.run.progress, cfg.run.tensorboard = False, False
    return cfg


@pytest.mark.parametrize("kind", ["gaussian", "flow", "flow-naive"])
@pytest.mark.parametrize("bound", ["clip", "tanh"])
def test_first_epoch_ratio_is_one(tmp_path, kind, bound):
    cfg = small_cfg(tmp_path, kind=kind)
    cfg.policy.action_bound = bound
    tr = Trainer(cfg)
    tr.collector.start(0, None, False)
    for _ in range(3):  # a few updates, so the policy is no longer at its initialisation
        tr.rollout()
        m = tr.ppo.update(tr.storage)
        tr.storage.clear()
        assert m["policy/ratio_error_at_start"] < 1e-4, m
        assert m["policy/approx_kl"] > 0
    tr.envs.close()


class _Const(gym.Env):
    """obs = [1, t]; reward 1 each step; terminates at step ``term_at`` (if given)."""

    def __init__(self, term_at=None):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.term_at, self.t = term_at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([1.0, 0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        term = self.term_at is not None and self.t >= self.term_at
        return np.array([1.0, self.t], np.float32), 1.0, term, False, {}


gym.register("nfpo-test/Trunc-v0", entry_point=_Const, max_episode_steps=5)
gym.register("nfpo-test/Term-v0", entry_point=_Const, kwargs={"term_at": 5},
             max_episode_steps=100)


@pytest.mark.parametrize("env,bootstrap", [("nfpo-test/Trunc-v0", True),
                                           ("nfpo-test/Term-v0", False)])
def test_truncation_bootstraps_termination_does_not(tmp_path, env, bootstrap):
    cfg = small_cfg(tmp_path, env=env, kind="gaussian", num_steps=12)
    cfg.env.normalize_obs, cfg.env.scale_reward = False, False
    tr = Trainer(cfg)
    tr.collector.start(0, None, False)
    tr.rollout()
    with torch.no_grad():
        v_final = tr.agent.critic(torch.tensor([[1.0, 5.0]])).item()
    st = tr.storage
    ends = st.dones[:, 0].nonzero().flatten().tolist()
    assert ends == [4, 9]
    expected_end = 1.0 + (cfg.ppo.gamma * v_final if bootstrap else 0.0)
    assert st.rewards[4, 0].item() == pytest.approx(expected_end, abs=1e-5)
    assert st.rewards[3, 0].item() == 1.0
    assert v_final != 0.0
    tr.envs.close()


def test_k3_kl_is_nonnegative_and_zero_at_equality():
    lr = torch.linspace(-3, 3, 101)
    assert (k3_kl(lr) >= 0).all() and k3_kl(torch.zeros(3)).abs().max() == 0


def test_schedules():
    assert linear_lr(1e-3, 0, 10) == 1e-3 and linear_lr(1e-3, 5, 10) == pytest.approx(5e-4)
    assert adaptive_lr(1e-3, 0.05, 0.01, 1e-5, 1e-2) == pytest.approx(1e-3 / 1.5)
    assert adaptive_lr(1e-3, 0.001, 0.01, 1e-5, 1e-2) == pytest.approx(1.5e-3)
    assert adaptive_lr(1e-3, 0.01, 0.01, 1e-5, 1e-2) == 1e-3
    assert adaptive_lr(1e-5, 1.0, 0.01, 1e-5, 1e-2) == 1e-5


def test_adaptive_schedule_and_target_kl_run(tmp_path):
    cfg = small_cfg(tmp_path, lr_schedule="adaptive", target_kl=1e-6, learning_rate=1e-3,
                    kl_stop="epoch")
    tr = Trainer(cfg)
    tr.collector.start(0, None, False)
    tr.rollout()
    m = tr.ppo.update(tr.storage)
    assert m["train/early_stop"] == 1.0  # stopped after the first epoch
    assert m["train/minibatch_steps"] == cfg.ppo.num_minibatches
    assert m["train/learning_rate"] != 1e-3
    tr.envs.close()


def test_minibatch_kl_stop_ends_the_update_inside_an_epoch(tmp_path):
    from nfpo.errors import ConfigError

    steps = {}
    for scope in ("epoch", "minibatch"):
        cfg = small_cfg(tmp_path / scope, target_kl=1e-6, learning_rate=1e-3)
        cfg.ppo.kl_stop = scope
        tr = Trainer(cfg)
        tr.collector.start(0, None, False)
        tr.rollout()
        m = tr.ppo.update(tr.storage)
        steps[scope] = m["train/minibatch_steps"]
        assert m["train/early_stop"] == 1.0
        if scope == "minibatch":  # the stopping minibatch's KL is logged, not stepped on
            assert m["train/kl_at_stop"] > 1e-6 and "policy/log_ratio_min" in m
        tr.envs.close()
    assert steps["minibatch"] < steps["epoch"] == cfg.ppo.num_minibatches
    cfg.ppo.kl_stop = "sometimes"
    with pytest.raises(ConfigError, match="kl_stop"):
        cfg.validate()


@pytest.mark.slow
def test_compiled_update_matches_eager(tmp_path):
    """--compile (torch.compile of the update's log-prob and of the rollout's sample) gives
    the same numbers as eager: the compiled sample's log-probs match the update's re-scoring."""
    cfg = small_cfg(tmp_path, kind="flow")
    cfg.run.compile = True
    cfg.run.numpy_rollout = False  # the rollout's sample through torch, so compiled
    tr = Trainer(cfg)
    tr.collector.start(0, None, False)
    tr.rollout()
    assert tr.collector._sample is not tr.agent.policy.sample  # the compiled one collected
    m = tr.ppo.update(tr.storage)
    assert m["policy/ratio_error_at_start"] < 1e-4
    batch = tr.storage.flat()
    eager = tr.agent.policy.log_prob(batch.obs[:64], batch.actions[:64])
    compiled = tr.ppo.log_prob(batch.obs[:64], batch.actions[:64])
    assert torch.allclose(eager, compiled, atol=1e-4)
    tr.envs.close()


def _ratio_entropy_grads(policy, obs, n):
    """Gradient of -(ratio * log pi).mean() at theta = theta_old over n stored samples."""
    with torch.no_grad():
        u, old = policy.sample(obs.expand(n, -1))
    policy.zero_grad()
    new = policy.log_prob(obs.expand(n, -1), u)
    (-(torch.exp(new - old) * new).mean()).backward()
    return {k: p.grad.clone() for k, p in policy.named_parameters() if p.grad is not None}


def test_ratio_entropy_estimate_has_the_entropy_gradient():
    """The 'ratio' entropy estimate's gradient equals grad H in expectation: for a Gaussian,
    dH/dlog_std = 1 per dimension and dH/d(mean net) = 0; for a flow with perturbed weights it
    agrees with the reparameterized Monte-Carlo gradient."""
    from nfpo.config import PolicyConfig
    from nfpo.policies import make_policy

    torch.manual_seed(0)
    gauss = make_policy(PolicyConfig(kind="gaussian"), 3, 2)
    assert gauss.closed_form_entropy
    g = _ratio_entropy_grads(gauss, torch.zeros(1, 3), 400_000)
    assert torch.allclose(g["log_std"], torch.ones(2), atol=0.03), g["log_std"]
    assert max(v.abs().max().item() for k, v in g.items() if k != "log_std") < 0.03

    flow = make_policy(PolicyConfig(kind="flow"), 3, 2)
    assert not flow.closed_form_entropy
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(1, 3)
    g_ratio = _ratio_entropy_grads(flow, obs, 400_000)
    flow.zero_grad()
    flow.entropy(obs.expand(400_000, -1)).mean().backward()
    g_rep = {k: p.grad.clone() for k, p in flow.named_parameters() if p.grad is not None}
    a = torch.cat([g_ratio[k].flatten() for k in g_rep])
    b = torch.cat([g_rep[k].flatten() for k in g_rep])
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    assert cos > 0.95 and 0.8 < a.norm() / b.norm() < 1.25, (cos, a.norm(), b.norm())


def test_ratio_entropy_estimate_skips_the_sampling_pass(tmp_path, monkeypatch):
    calls = {"n": 0}
    cfg = small_cfg(tmp_path, kind="flow", ent_coef=0.01, entropy_estimate="ratio")
    tr = Trainer(cfg)
    real = tr.agent.policy.entropy

    def counting(obs):
        calls["n"] += 1
        return real(obs)

    monkeypatch.setattr(tr.agent.policy, "entropy", counting)
    tr.collector.start(0, None, False)
    tr.rollout()
    m = tr.ppo.update(tr.storage)
    assert calls["n"] == 1 and m["train/minibatch_steps"] == 8  # the logged entropy only
    tr.envs.close()


def test_nfpo_default_kl_stop_is_resolved_per_policy():
    """``--policy flow`` means the NFPO default set (per-minibatch KL stop at 0.05); the
    Gaussian and the naive flow keep standard PPO (no stop), unless set explicitly."""
    from nfpo.algo import PPO
    from nfpo.config import NFPO_TARGET_KL, PPOConfig
    from nfpo.errors import ConfigError
    from nfpo.policies import Critic, FlowPolicy

    got = {}
    for kind in ("flow", "flow-naive", "gaussian"):
        cfg = TrainConfig()
        cfg.policy.kind = kind
        v = cfg.validate()
        got[kind] = (v.ppo.target_kl, v.ppo.kl_stop)
        assert (cfg.ppo.target_kl, cfg.ppo.kl_stop) == ("auto", "auto")  # self is not changed
    assert got == {"flow": (NFPO_TARGET_KL, "minibatch"), "flow-naive": (None, "epoch"),
                   "gaussian": (None, "epoch")}
    cfg = TrainConfig()
    cfg.ppo.target_kl, cfg.ppo.kl_stop = None, "epoch"  # explicit choices are kept
    v = cfg.validate()
    assert (v.ppo.target_kl, v.ppo.kl_stop) == (None, "epoch")
    with pytest.raises(ConfigError, match="unresolved 'auto'"):
        PPO(FlowPolicy(3, 2), Critic(3), PPOConfig(), num_updates=1)


def test_saved_config_from_before_kl_stop_keeps_the_epoch_stop():
    """A config.json written before ``kl_stop`` existed behaves as the code did then (the KL
    was checked per epoch), not as the new ``auto`` default would."""
    d = TrainConfig().validate().to_dict()
    d["ppo"].pop("kl_stop")
    d["ppo"]["target_kl"] = 0.05
    assert TrainConfig.from_dict(d).validate().ppo.kl_stop == "epoch"


def test_weighted_mle_minimizer_is_old_policy_times_exp_advantage():
    """policy_loss=awr: with each of K actions drawn once from a uniform pi_old, the loss's
    minimizer over a categorical pi is softmax(A / eta) (the forward-KL target), capped
    weights included."""
    from nfpo.algo.ppo import weighted_mle

    adv = torch.tensor([0.0, 1.0, -1.0, 2.0])
    for eta, cap in ((1.0, 1e9), (0.5, 1e9), (0.5, 20.0)):
        theta = torch.zeros(4, requires_grad=True)
        opt = torch.optim.Adam([theta], lr=0.05)
        for _ in range(3000):
            opt.zero_grad()
            weighted_mle(adv, torch.log_softmax(theta, 0), eta, cap).backward()
            opt.step()
        w = (adv / eta).exp().clamp(max=cap)
        torch.testing.assert_close(torch.softmax(theta, 0), w / w.sum(), atol=2e-3, rtol=0)
    # the weights carry no gradient, and a positive advantage raises the action's log-prob
    logp = torch.zeros(4, requires_grad=True)
    weighted_mle(adv, logp, 1.0, 20.0).backward()
    assert (logp.grad < 0).all()  # every sampled action is pushed up, the best ones most
    assert logp.grad.argmin() == 3


def test_awr_policy_loss_trains_and_is_validated(tmp_path):
    from nfpo.errors import ConfigError

    cfg = small_cfg(tmp_path, policy_loss="awr", awr_temperature=0.5)
    tr = Trainer(cfg)
    tr.collector.start(0, None, False)
    tr.rollout()
    before = [p.detach().clone() for p in tr.agent.policy.parameters()]
    m = tr.ppo.update(tr.storage)
    assert np.isfinite(m["loss/policy"]) and m["train/minibatch_steps"] > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, tr.agent.policy.parameters(),
                                                           strict=True))
    tr.envs.close()
    for field, bad in (("policy_loss", "vmpo"), ("awr_temperature", 0.0),
                       ("awr_max_weight", 1.0)):
        cfg = small_cfg(tmp_path, **{field: bad})
        with pytest.raises(ConfigError, match=field):
            cfg.validate()


def test_grad_norms_clip_is_bit_identical_to_clip_grad_norm():
    from nfpo.algo.diagnostics import GradNorms
    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2))
            for _ in range(2)]
    frozen = torch.nn.Linear(2, 2)  # no gradient: skipped by both
    x = torch.randn(9, 5)
    for scale, clipped in ((10.0, True), (1e-3, False)):
        for net in nets:
            net.zero_grad(set_to_none=True)
            (scale * net(x).square().sum()).backward()
        a, b = (list(n.parameters()) + list(frozen.parameters()) for n in nets)
        nets[1].load_state_dict(nets[0].state_dict())
        for pa, pb in zip(a, b, strict=True):
            if pa.grad is not None:
                pb.grad = pa.grad.clone()
        norms = GradNorms(a)
        named = norms.named({"first": a[:2], "rest": a[2:-2], "frozen": a[-2:]})
        assert named["frozen"] == 0.0  # a group without gradients
        total = torch.nn.utils.clip_grad_norm_(b, 0.5)
        norms.clip_(0.5)
        assert named["total"] == pytest.approx(float(total), rel=1e-6)
        assert (float(total) > 0.5) == clipped
        for pa, pb in zip(a, b, strict=True):
            assert (pa.grad is None) == (pb.grad is None)
            if pa.grad is not None:
                assert torch.equal(pa.grad, pb.grad)


def test_grad_norms_of_a_float64_policy_beside_a_float32_critic():
    from nfpo.algo.diagnostics import GradNorms
    torch.manual_seed(0)
    pol, critic = torch.nn.Linear(4, 2).double(), torch.nn.Linear(4, 1)
    x = torch.randn(5, 4)
    (100 * pol(x.double()).square().sum() + 100 * critic(x).square().sum()).backward()
    params = list(pol.parameters()) + list(critic.parameters())
    want = [p.grad.clone() for p in params]
    norms = GradNorms(params)
    named = norms.named({"policy": list(pol.parameters()), "critic": list(critic.parameters())})
    total = float(torch.cat([g.double().ravel() for g in want]).norm())
    assert named["total"] == pytest.approx(total, rel=1e-6)
    norms.clip_(0.5)
    clipped = float(torch.cat([p.grad.double().ravel() for p in params]).norm())
    assert clipped == pytest.approx(0.5, rel=1e-5)
