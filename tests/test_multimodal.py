"""Multimodal tasks: gymnasium API conformance, seeding, mode reporting, exact resume state,
and a fixed-seed bandit run that separates the flow from the Gaussian."""

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import nfpo.envs  # noqa: F401  (registers the nfpo/ tasks)
from nfpo.envs import mode_coverage
from nfpo.envs.state import get_env_state, set_env_state

TASKS = ["nfpo/BimodalBandit-v0", "nfpo/MultiGoal-v0", "nfpo/ForkReach-v0"]


@pytest.mark.parametrize("env_id", TASKS)
def test_check_env_and_seeded_reset(env_id):
    env = gym.make(env_id)
    # the "human" render mode needs a display; ForkReach's rgb_array rendering is tested below
    check_env(env.unwrapped, skip_render_check=True)
    o1, _ = env.reset(seed=3)
    o2, _ = env.reset(seed=3)
    np.testing.assert_array_equal(o1, o2)
    env.close()


@pytest.mark.parametrize("env_id", TASKS)
def test_final_info_reports_mode(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    done, info = False, {}
    while not done:
        _, _, term, trunc, info = env.step(env.action_space.sample())
        done = term or trunc
    assert {"mode", "num_modes", "success"} <= set(info)
    assert -1 <= info["mode"] < info["num_modes"]


def test_bandit_modes_and_rewards():
    env = gym.make("nfpo/BimodalBandit-v0").unwrapped
    env.reset(seed=0)
    for k, peak in enumerate(env.peaks):
        _, r, term, _, info = env.step(peak)
        assert r == pytest.approx(1.0) and term and info["mode"] == k
    _, r, _, _, info = env.step(np.zeros(2))  # the average of the two modes
    assert r < 1e-3 and info["mode"] == -1 and info["success"] == 0.0
    four = gym.make("nfpo/BimodalBandit-v0", num_modes=4).unwrapped
    assert len(four.peaks) == 4
    with pytest.raises(ValueError, match="num_modes=3"):
        gym.make("nfpo/BimodalBandit-v0", num_modes=3)


def test_bandit_target_pays_only_its_peak():
    env = gym.make("nfpo/BimodalBandit-v0", num_modes=4, target=2).unwrapped
    env.reset(seed=0)
    for k, peak in enumerate(env.peaks):
        _, r, _, _, info = env.step(peak)
        assert info["mode"] == k and info["success"] == float(k == 2)
        assert r == (pytest.approx(1.0) if k == 2 else pytest.approx(0.0, abs=1e-6))
    with pytest.raises(ValueError, match="target=4"):
        gym.make("nfpo/BimodalBandit-v0", num_modes=4, target=4)


def _drive(env, target_side: int) -> dict:
    """A scripted controller that goes around the wall on one side."""
    obs, _ = env.reset(seed=0)
    info = {}
    for _ in range(100):
        x, y, vx, vy = obs
        wy = 0.45 * target_side if x < 0.6 else 0.0
        wx = 0.3 if abs(y - wy) > 0.1 and x < 0.6 else 1.0
        a = np.clip([4 * (wx - x) - 2 * vx, 4 * (wy - y) - 2 * vy], -1, 1)
        obs, _, term, trunc, info = env.step(a)
        if term or trunc:
            break
    return info


def test_multigoal_target_pays_only_its_goal():
    env = gym.make("nfpo/MultiGoal-v0", target=1).unwrapped
    env.reset(seed=0)
    env.set_state({"pos": [4.6, 0.0]})  # next to goal 0 = (5, 0): not the target
    _, r, term, _, info = env.step(np.array([0.2, 0.0]))
    assert not term and r < 0 and info["mode"] == -1 and info["success"] == 0.0
    env.set_state({"pos": [0.0, 4.6]})  # next to goal 1 = (0, 5): the target
    _, r, term, _, info = env.step(np.array([0.0, 0.2]))
    assert term and r > 9 and info["mode"] == 1 and info["success"] == 1.0
    with pytest.raises(ValueError, match="target=4"):
        gym.make("nfpo/MultiGoal-v0", target=4)


def test_fork_reach_both_ways_around_and_blocked_straight():
    env = gym.make("nfpo/ForkReach-v0")
    left, right = _drive(env, +1), _drive(env, -1)
    assert left["success"] == 1.0 and left["mode"] == 0
    assert right["success"] == 1.0 and right["mode"] == 1
    env.reset(seed=0)
    for _ in range(100):
        _, _, term, trunc, info = env.step(np.array([1.0, 0.0]))
    assert info["mode"] == -1 and info["success"] == 0.0  # the wall blocks the straight line


def test_fork_reach_state_roundtrip_is_exact():
    env = gym.make("nfpo/ForkReach-v0")
    env.reset(seed=1)
    for _ in range(30):
        env.step(np.array([0.2, 1.0]))
    state = json.loads(json.dumps(get_env_state(env)))
    ref = [env.step(np.array([1.0, -0.5]))[0] for _ in range(20)]
    set_env_state(env, state)
    again = [env.step(np.array([1.0, -0.5]))[0] for _ in range(20)]
    np.testing.assert_array_equal(np.stack(ref), np.stack(again))


def test_fork_reach_renders_offscreen():
    env = gym.make("nfpo/ForkReach-v0", render_mode="rgb_array", width=96, height=96)
    env.reset(seed=0)
    img = env.render()
    assert img.shape == (96, 96, 3) and img.std() > 5
    env.close()


def test_mode_coverage():
    assert mode_coverage(np.array([0, 1, 0, 1]), 2) == 1.0
    assert mode_coverage(np.array([0] * 19 + [1]), 2) == 0.5  # 5% < 10%
    assert mode_coverage(np.array([0] * 9 + [1]), 2) == 1.0   # 10% counts
    assert mode_coverage(np.array([-1, -1, 0, 3]), 4) == 0.5
    assert np.isnan(mode_coverage(np.array([], dtype=int), 2))


def _train_eval(cfg, run, steps: int) -> dict:
    """Train ``cfg`` with seed 1 for ``steps`` into ``run`` (no progress, TensorBoard, report
    or eval), then evaluate 400 stochastic episodes."""
    from nfpo.evaluate import evaluate
    from nfpo.runner import Trainer

    cfg.run.total_steps, cfg.run.seed, cfg.run.run_dir = steps, 1, str(run)
    cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
    cfg.run.eval_episodes = 0
    Trainer(cfg).train()
    return evaluate(run, episodes=400, deterministic=False)


def _bandit(tmp_path, kind: str, bound: str, ent_coef: float, steps: int = 16384,
            **changes) -> dict:
    """Train on the bandit with seed 1 and evaluate 400 stochastic episodes; ``changes``:
    ``section__field=value`` config overrides."""
    from nfpo.config import TrainConfig

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.policy.kind = "nfpo/BimodalBandit-v0", 4, kind
    cfg.policy.action_bound = bound
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.ent_coef = 64, 4, ent_coef
    cfg.ppo.target_kl = None  # the multimodal recipe: the KL stop costs the second mode
    for key, value in changes.items():
        section, field = key.split("__")
        setattr(getattr(cfg, section), field, value)
    return _train_eval(cfg, tmp_path / f"{kind}-{bound}", steps)


def test_bandit_flow_covers_both_modes_gaussian_does_not(tmp_path):
    """Fixed seed, tanh-squashed actions and an entropy bonus of 0.05: the entropy of the
    executed action lives on a bounded box, and the flow spreads its samples over both reward
    peaks (>= 20% each). The Gaussian cannot: a unimodal density has no way to put 20% on each
    peak and little between them. With clipped actions (the entropy of the unbounded
    pre-clip action) the flow commits to one peak instead (benchmarks/multimodal). The recipe
    turns the NFPO default's KL stop off: with it the flow kept one peak in 5/5 seeds."""
    flow = _bandit(tmp_path, "flow", "tanh", 0.05)
    gauss = _bandit(tmp_path, "gaussian", "tanh", 0.05)
    assert min(flow["mode_fractions"]) >= 0.2, flow["mode_fractions"]
    assert flow["mean_return"] > 0.6, flow["mean_return"]
    assert not (min(gauss["mode_fractions"]) >= 0.2 and gauss["mean_return"] > 0.6), (
        gauss["mode_fractions"], gauss["mean_return"])
    clipped = _bandit(tmp_path, "flow", "clip", 0.01)
    assert max(clipped["mode_fractions"]) > 0.9 and clipped["mean_return"] > 0.9


def test_four_peak_bandit_awr_keeps_every_peak_gaussian_does_not(tmp_path):
    """benchmarks/multimodal/awr4.toml's flow-awr recipe at seed 1, cut to 16k steps so it fits
    the default suite: advantage-weighted maximum likelihood (mass-covering), soft rewards and
    the outcome-entropy bonus. The flow already holds >= 10% on every one of the 4 peaks with
    most episodes on a peak; the Gaussian under the same method is diffuse (no peak >= 10%).
    At the grid's 49k steps the flow holds every peak >= 15% in 4/5 seeds."""
    common = dict(env__env_kwargs='{"num_modes": 4}', ppo__policy_loss="awr",
                  ppo__target_kl=0.05, ppo__kl_stop="minibatch", ppo__ent_reward_coef=0.1,
                  ppo__outcome_bonus=0.2, ppo__outcome_bandwidth=0.2)
    flow = _bandit(tmp_path, "flow", "tanh", 0.0, **common)
    gauss = _bandit(tmp_path, "gaussian", "tanh", 0.0, steps=8192, **common)
    assert min(flow["mode_fractions"]) >= 0.10, flow["mode_fractions"]
    assert sum(flow["mode_fractions"]) >= 0.6, flow["mode_fractions"]
    assert max(gauss["mode_fractions"]) < 0.10, gauss["mode_fractions"]


def test_four_peak_bandit_spread_lumps_keep_every_peak_gaussian_does_not(tmp_path):
    """benchmarks/multimodal/sphere4.toml's flow-sphere16 at seed 1, cut to 16k steps: a
    16-lump mixture base spread evenly at the start (fixed weights) under an annealed entropy
    bonus keeps every one of the 4 peaks with most episodes on a peak; the Gaussian under the
    same recipe is diffuse. At the grid's 49k steps: every peak >= 15% in 5/5 seeds."""
    common = dict(env__env_kwargs='{"num_modes": 4}', ppo__ent_coef_final=0.02,
                  ppo__kl_stop="epoch")
    flow = _bandit(tmp_path, "flow", "tanh", 0.15, policy__flow_base_mixture=16,
                   policy__flow_base_mixture_init="sphere", **common)
    gauss = _bandit(tmp_path, "gaussian", "tanh", 0.15, steps=8192, **common)
    assert min(flow["mode_fractions"]) >= 0.15, flow["mode_fractions"]
    assert sum(flow["mode_fractions"]) >= 0.8, flow["mode_fractions"]
    assert max(gauss["mode_fractions"]) < 0.15, gauss["mode_fractions"]


@pytest.mark.slow
def test_four_peak_bandit_outcome_bonus_keeps_every_peak_gaussian_does_not(tmp_path):
    """benchmarks/multimodal/outcome4.toml's recipe at seed 1 (3 min per run, so slow): tanh,
    entropy bonus 0.15 -> 0.02, no KL stop, a 16-lump mixture base with learned weights and the
    outcome-entropy bonus. The flow keeps every one of the 4 peaks (>= 15% each, >= 80% of
    episodes on a peak); the Gaussian under the same method is diffuse (~8% per peak). Over 5
    seeds the recipe holds every peak in 2 (benchmarks/multimodal/README.md)."""
    common = dict(steps=49152, env__env_kwargs='{"num_modes": 4}', ppo__ent_coef_final=0.02,
                  ppo__kl_stop="epoch", ppo__outcome_bonus=0.2, ppo__outcome_bandwidth=0.2)
    flow = _bandit(tmp_path, "flow", "tanh", 0.15, policy__flow_base_mixture=16,
                   policy__flow_base_mixture_weights=True, **common)
    gauss = _bandit(tmp_path, "gaussian", "tanh", 0.15, **common)
    assert min(flow["mode_fractions"]) >= 0.15, flow["mode_fractions"]
    assert sum(flow["mode_fractions"]) >= 0.8, flow["mode_fractions"]
    assert max(gauss["mode_fractions"]) < 0.15, gauss["mode_fractions"]


def _multigoal(tmp_path, kind: str, ent_coef_final: float | None = None, **changes) -> dict:
    """benchmarks/multimodal/hold_k.toml's settings at seed 1 (147k steps; with
    ``ent_coef_final``, the bonus annealed to it as in hold_anneal.toml), 400 stochastic
    episodes."""
    from nfpo.config import TrainConfig

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.policy.kind = "nfpo/MultiGoal-v0", 16, kind
    cfg.policy.action_bound, cfg.ppo.ent_coef = "tanh", 0.05
    cfg.ppo.num_steps, cfg.ppo.num_minibatches = 64, 4
    cfg.ppo.ent_coef_final = ent_coef_final
    for key, value in changes.items():
        setattr(cfg.policy, key, value)
    return _train_eval(cfg, tmp_path / f"{kind}-{len(list(tmp_path.iterdir()))}", 147456)


@pytest.mark.slow
def test_multigoal_held_mixture_keeps_every_goal_gaussian_does_not(tmp_path):
    """A 16-lump mixture-base flow whose component is held for each episode keeps all four
    MultiGoal goals (>= 15% each; 5/5 seeds in hold_k.toml); the Gaussian with its held latent
    keeps at most two (~1 min per run, so slow)."""
    flow = _multigoal(tmp_path, "flow", flow_base_mixture=16, flow_base_mixture_init="sphere",
                      flow_base_mixture_hold=True)
    gauss = _multigoal(tmp_path, "gaussian", noise_correlation=1.0)
    assert min(flow["mode_fractions"]) >= 0.15, flow["mode_fractions"]
    assert flow["info/success"] >= 0.9, flow["info/success"]
    assert sum(f >= 0.15 for f in gauss["mode_fractions"]) <= 2, gauss["mode_fractions"]


@pytest.mark.slow
def test_multigoal_mixture_of_flows_keeps_every_goal_at_the_gaussians_return(tmp_path):
    """Four held lumps, each pushed by its own flow and judged by its own group's value
    (multigoal_groups.toml's flow-groups4-cond arm, seed 1) keep all four goals and return
    at least 98% of the one-goal Gaussian's, both with the bonus annealed to 0 (~3 min)."""
    flow = _multigoal(tmp_path, "flow", 0.0, flow_base_mixture=4, flow_base_mixture_std=1.0,
                      flow_base_mixture_init="sphere", flow_base_mixture_hold=True,
                      flow_groups=4, flow_base_mixture_condition=True)
    gauss = _multigoal(tmp_path, "gaussian", 0.0)
    assert min(flow["mode_fractions"]) >= 0.15, flow["mode_fractions"]
    assert flow["info/success"] >= 0.95, flow["info/success"]
    assert max(gauss["mode_fractions"]) >= 0.9, gauss["mode_fractions"]
    assert flow["mean_return"] >= 0.98 * gauss["mean_return"], (flow["mean_return"],
                                                                 gauss["mean_return"])


def _flagged(tmp_path, name: str, env_id: str, steps: int, *flags: str) -> dict:
    """Train seed 1 with CLI ``flags`` (presets expanded, as ``nfpo train`` does) and
    evaluate 400 stochastic episodes."""
    from nfpo.bench.spec import Job, job_config
    from nfpo.config import TrainConfig

    cfg = TrainConfig.from_dict(job_config(Job(env_id, name, 1, steps,
                                                (*flags, "--env", env_id))))
    return _train_eval(cfg, tmp_path / name, steps)


def test_multimodal_preset_keeps_every_bandit_peak_gaussian_does_not(tmp_path):
    """``--preset multimodal`` (held mixture of four flows, V(s, g), ratio entropy estimate,
    weights and merges from 1/2) on the 4-peak bandit at seed 1, cut to 16k steps: every
    peak keeps >= 15% of the episodes and >= 90% land on a peak; a Gaussian with the preset's
    training flags is diffuse (no peak reaches 15%). preset_bandit4_std.toml: 5/5 seeds at
    49k steps with the preset's std-0.5 lumps, 2/5 with std 1.0. Then 2k steps of
    fine-tuning to one of the peaks put >= 90% of the episodes on it, through the group
    weights (held weights: < 50%)."""
    rollout = ("--num-envs", "4", "--num-steps", "64", "--num-minibatches", "4",
               "--env-kwargs", '{"num_modes": 4}')
    flow = _flagged(tmp_path, "preset", "nfpo/BimodalBandit-v0", 16384, *rollout,
                    "--preset", "multimodal")
    gauss = _flagged(tmp_path, "gaussian", "nfpo/BimodalBandit-v0", 8192, *rollout,
                     "--policy", "gaussian", "--action-bound", "tanh", "--ent-coef", "0.1",
                     "--ent-coef-final", "0")
    assert min(flow["mode_fractions"]) >= 0.15, flow["mode_fractions"]
    assert sum(flow["mode_fractions"]) >= 0.9, flow["mode_fractions"]
    assert max(gauss["mode_fractions"]) < 0.15, gauss["mode_fractions"]
    # Fine-tuning to one peak picked after training (only peak 2 pays), with the preset, its
    # group weights following the returns from the first update and restarts: the weights
    # move to the group on peak 2, restarts copy it, merges pool the copies (MultiGoal:
    # finetune_multigoal.py's arm preset). With the weights held (start 1: never within the
    # run) PPO alone moves little in the same 2k steps: peak 2 kept 0.28 (seed 1).
    target = ("--num-envs", "4", "--num-steps", "64", "--num-minibatches", "4",
              "--env-kwargs", '{"num_modes": 4, "target": 2}', "--preset", "multimodal",
              "--flow-groups-restart", "0.75", "--init-from", str(tmp_path / "preset"))
    tuned = _flagged(tmp_path, "tuned", "nfpo/BimodalBandit-v0", 2048, *target,
                     "--flow-groups-start", "0")
    held = _flagged(tmp_path, "held", "nfpo/BimodalBandit-v0", 2048, *target,
                    "--flow-groups-start", "1")
    assert tuned["mode_fractions"][2] >= 0.9, tuned["mode_fractions"]
    assert held["mode_fractions"][2] < 0.5, held["mode_fractions"]


def _tiny_run(tmp_path, env_id, kind):
    from nfpo.config import TrainConfig
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.policy.kind = env_id, 2, kind
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 32, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = 64, str(tmp_path / f"{env_id[5:]}-{kind}")
    cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
    cfg.run.eval_episodes = 0
    return Trainer(cfg).train()


@pytest.mark.parametrize("env_id", ["nfpo/BimodalBandit-v0", "nfpo/MultiGoal-v0"])
def test_plot_policy_writes_png(tmp_path, env_id):
    from nfpo.cli import main

    runs = [str(_tiny_run(tmp_path, env_id, k)) for k in ("flow", "gaussian")]
    out = tmp_path / "policy.png"
    states = "1" if "Bandit" in env_id else "0,0;2.5,0"
    traj = "0" if "Bandit" in env_id else "3"
    main(["plot-policy", *runs, "--states", states, "--out", str(out), "--trajectories", traj])
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    rows = 1 if "Bandit" in env_id else 2 + 1  # states + the trajectory row
    assert img.shape[0] > 300 * rows and img.shape[1] > 800 and img.std() > 0.05
    with pytest.raises(SystemExit):
        main(["plot-policy", runs[0], "--states", "1,2,3,4", "--out", str(out)])


def test_outcome_bonus_is_minus_coef_log_share_between_separated_clusters():
    from nfpo.algo.outcome import OutcomeBonus

    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    shares = np.array([0.6, 0.3, 0.1])
    ob = OutcomeBonus(coef=2.0, bandwidth=0.3, buffer=2000)
    ob.bonus(centers[rng.choice(3, 2000, p=shares)] + 0.05 * rng.standard_normal((2000, 2)))
    b = ob.bonus(centers)  # one new episode per cluster
    # b_k - b_j = coef * (log p_j - log p_k): rarer outcomes earn more, by the log of the share
    np.testing.assert_allclose(b[1] - b[0], 2.0 * np.log(0.6 / 0.3), atol=0.15)
    np.testing.assert_allclose(b[2] - b[0], 2.0 * np.log(0.6 / 0.1), atol=0.15)
    assert len(ob.buffer) == 2000  # the newest episodes replace the oldest
    restored = OutcomeBonus(2.0, 0.3, 2000)
    restored.load_state_dict(json.loads(json.dumps(ob.state_dict())))
    np.testing.assert_array_equal(restored.bonus(centers), ob.bonus(centers))


def test_kernel_novelty_ring_buffer_keeps_the_newest_points_in_order():
    from nfpo.algo.outcome import StateNovelty

    pts = np.arange(50, dtype=float).reshape(25, 2)
    sn = StateNovelty(coef=1.0, bandwidth=0.5, buffer=8)
    for chunk in np.array_split(pts, 7):
        sn.bonus(chunk)
    np.testing.assert_array_equal(sn.buffer, pts[-8:])  # oldest first, as saved
    # a point far from every stored one earns more than a stored one
    far, near = sn.bonus(np.array([[100.0, 100.0], [48.0, 49.0]]))
    assert far > near + 10


def test_state_bonus_and_annealed_soft_returns_reach_the_rewards(tmp_path):
    """--state-bonus adds the novelty of each step's observation to its reward, and
    --ent-reward-coef-final anneals alpha linearly (logged as policy/ent_reward_coef)."""
    from nfpo.config import TrainConfig
    from nfpo.logger import read_metrics
    from nfpo.runner import Trainer

    def run(name, **ppo):
        cfg = TrainConfig()
        cfg.env.id, cfg.env.num_envs, cfg.policy.action_bound = "nfpo/MultiGoal-v0", 2, "tanh"
        cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 2
        for k, v in ppo.items():
            setattr(cfg.ppo, k, v)
        cfg.run.total_steps, cfg.run.run_dir = 4 * 128, str(tmp_path / name)
        cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
        cfg.run.eval_episodes = 0
        tr = Trainer(cfg)
        tr.train()
        return tr, read_metrics(tmp_path / name)

    tr, m = run("anneal", ent_reward_coef=0.2, ent_reward_coef_final=0.0)
    assert tr.ppo.ent_reward_coef == pytest.approx(0.0)
    np.testing.assert_allclose(m["policy/ent_reward_coef"], [0.2, 0.15, 0.1, 0.05], atol=1e-9)
    plain, _ = run("plain")
    novel, _ = run("novel", state_bonus=1.0)
    assert len(novel.collector.state_novelty.buffer) == 4 * 64 * 2  # every step of every env
    r_plain, r_novel = plain.storage.rewards, novel.storage.rewards
    assert not np.allclose(r_plain, r_novel)
