"""EnvPool backend: the same semantics as the gymnasium path (trajectories, SAME_STEP
autoreset, truncation), dict observations routed to an asymmetric critic, legged-robot
(MuJoCo Playground Go1) training, evaluation and export, and clear errors."""

import csv
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("envpool", reason="EnvPool is not installed: pip install 'nfpo[envpool]'")

from nfpo.cli import main  # noqa: E402
from nfpo.config import TrainConfig  # noqa: E402
from nfpo.envs import env_spec, make_vec_env  # noqa: E402
from nfpo.envs.envpool_env import EnvPoolVecEnv, tracking_errors  # noqa: E402
from nfpo.errors import EnvError  # noqa: E402

GO1 = "Go1JoystickFlatTerrain-v1"


@pytest.mark.parametrize("task", ["Hopper-v5", "HalfCheetah-v5", "Walker2d-v5"])
def test_envpool_matches_gymnasium_across_episode_ends(task):
    """Reset noise 0, the same actions, 3 envs, a 40-step time limit so that episodes end
    (time-outs, and terminations for Hopper/Walker2d under large random actions) inside the
    120 steps: every step's observation, reward, termination, truncation and final
    observation match the gymnasium SyncVectorEnv (SAME_STEP autoreset)."""
    kw = {"reset_noise_scale": 0.0, "max_episode_steps": 40}
    ref = make_vec_env(task, 3, kw)
    pool = make_vec_env(task, 3, kw, backend="envpool")
    o_ref, _ = ref.reset(seed=0)
    o_pool, _ = pool.reset(seed=0)
    np.testing.assert_allclose(o_pool, o_ref, atol=1e-6)
    rng = np.random.default_rng(0)
    ends = 0
    for t in range(120):
        a = rng.uniform(-1, 1, (3, ref.single_action_space.shape[0]))
        o_ref, r_ref, te_ref, tr_ref, i_ref = ref.step(a)
        o_pool, r_pool, te_pool, tr_pool, i_pool = pool.step(a)
        np.testing.assert_array_equal(te_pool, te_ref, err_msg=f"step {t}")
        np.testing.assert_array_equal(tr_pool, tr_ref, err_msg=f"step {t}")
        np.testing.assert_allclose(r_pool, r_ref, atol=1e-6, err_msg=f"step {t}")
        np.testing.assert_allclose(o_pool, o_ref, atol=1e-6, err_msg=f"step {t}")
        for i in np.flatnonzero(te_ref | tr_ref):
            ends += 1
            np.testing.assert_allclose(i_pool["final_obs"][i], i_ref["final_obs"][i], atol=1e-6)
    assert ends >= 3  # the comparison crossed episode boundaries
    ref.close()
    pool.close()


def test_no_fake_transition_after_an_episode_ends():
    """EnvPool alone returns reward 0 and ignores the action on the step after an episode
    ends; the adapter resets at once, so the next step is a real one (elapsed step 1)."""
    pool = EnvPoolVecEnv("Hopper-v5", 2, {"max_episode_steps": 5}, seed=0)
    pool.reset()
    for _ in range(5):
        _, r, term, trunc, info = pool.step(np.zeros((2, 3)))
    assert trunc.all() and not term.any() and "final_obs" in info
    _, r, term, trunc, info = pool.step(np.zeros((2, 3)))
    assert (info["elapsed_step"] == 1).all()
    assert (r > 0.5).all()  # Hopper's healthy reward, not EnvPool's fake 0
    pool.close()


def test_dict_observations_route_state_to_actor_and_privileged_to_critic():
    pool = EnvPoolVecEnv(GO1, 2, critic_obs_key="privileged_state", num_threads=1, seed=0)
    spec = env_spec(pool, GO1)
    assert (spec.obs_dim, spec.critic_obs_dim, spec.act_dim) == (48, 123, 12)
    raw, _ = pool.pool.reset()
    pool.pool.close()
    pool.pool = pool._make(0)
    obs, _ = pool.reset()
    np.testing.assert_array_equal(obs, np.concatenate([raw["state"], raw["privileged_state"]], 1))
    actor, critic = spec.split(obs)
    np.testing.assert_array_equal(actor, raw["state"])
    np.testing.assert_array_equal(critic, raw["privileged_state"])
    # symmetric by default: the critic reads the actor's observation
    sym = EnvPoolVecEnv(GO1, 1, num_threads=1)
    assert env_spec(sym, GO1).critic_obs_dim == 0 and sym.obs_dim == 48
    pool.close()
    sym.close()


def test_tracking_errors_match_the_privileged_velocities():
    """The velocity errors recovered from Go1's tracking rewards equal the ones computed from
    the true base velocity in privileged_state (local linear velocity at 57:60, gyro at
    48:51 in MuJoCo Playground's Go1 layout)."""
    pool = EnvPoolVecEnv(GO1, 3, critic_obs_key="privileged_state", num_threads=1, seed=1)
    pool.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, _, _, _, info = pool.step(rng.uniform(-0.3, 0.3, (3, 12)))
        priv = obs[:, 48:]
        cmd = info["command"]
        lin = np.linalg.norm(cmd[:, :2] - priv[:, 57:59], axis=1)
        ang = np.abs(cmd[:, 2] - priv[:, 50])
        done = info.get("_final_obs", np.zeros(3, bool))
        np.testing.assert_allclose(info["lin_vel_error"][~done], lin[~done], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(info["ang_vel_error"][~done], ang[~done], rtol=1e-6, atol=1e-6)
    assert tracking_errors({"reward_forward": np.zeros(2)}, pool.config) is None
    pool.close()


@pytest.mark.parametrize("task,dims", [("Go1JoystickRoughTerrain-v1", (48, 123, 12)),
                                       ("G1JoystickFlatTerrain-v1", (103, 216, 29))])
def test_rough_terrain_and_g1_route_observations_and_report_tracking_errors(task, dims):
    """The other legged tasks of the issue go through the same adapter: the actor's and the
    critic's observation widths, finite rewards, and velocity-tracking errors in info."""
    pool = EnvPoolVecEnv(task, 2, critic_obs_key="privileged_state", num_threads=1, seed=0)
    spec = env_spec(pool, task)
    assert (spec.obs_dim, spec.critic_obs_dim, spec.act_dim) == dims
    obs, _ = pool.reset()
    assert obs.shape == (2, dims[0] + dims[1])
    for _ in range(5):
        obs, r, *_, info = pool.step(np.zeros((2, dims[2])))
    assert np.isfinite(r).all() and np.isfinite(obs).all()
    assert (info["lin_vel_error"] >= 0).all() and (info["ang_vel_error"] >= 0).all()
    pool.close()


def test_go1_asymmetric_training_logs_terms_evaluates_and_exports(tmp_path):
    run = tmp_path / "go1"
    main(["train", "--backend", "envpool", "--env", GO1, "--critic-obs-key",
          "privileged_state", "--num-envs", "2", "--num-steps", "32", "--total-steps", "128",
          "--num-minibatches", "2", "--num-epochs", "1", "--eval-episodes", "1",
          "--no-tensorboard", "--no-report", "--run-dir", str(run), "--seed", "3"])
    meta = json.loads((run / "config.json").read_text())
    assert meta["env_spec"]["obs_dim"] == 48 and meta["env_spec"]["critic_obs_dim"] == 123
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    from nfpo.agent import load_run

    _, agent, _ = load_run(run)
    first = [m for m in agent.critic.modules() if isinstance(m, torch.nn.Linear)][0]
    assert first.in_features == 123 and agent.critic_norm.mean.abs().sum() > 0
    ev = json.loads((run / "eval.json").read_text())
    assert 0 <= ev["info/lin_vel_error"] < 10 and 0 <= ev["info/ang_vel_error"] < 10
    main(["export", str(run)])  # the robot side needs only the actor's 48 inputs
    from nfpo.deploy import Policy

    pol = Policy.load(run / "export" / "policy_deterministic.onnx")
    assert pol.act(np.zeros(48, np.float32)).shape == (12,)


def test_reward_terms_are_logged_per_episode(tmp_path):
    """Gymnasium MuJoCo reports reward terms in info (the final step's in final_info): the
    episode sums are logged as episode/reward_*; forward + ctrl + survive = the return."""
    run = tmp_path / "hop"
    main(["train", "--env", "Hopper-v5", "--env-kwargs", '{"max_episode_steps": 30}',
          "--num-envs", "2", "--num-steps", "64", "--total-steps", "128", "--num-epochs", "1",
          "--num-minibatches", "2", "--eval-episodes", "0", "--no-tensorboard", "--no-report",
          "--run-dir", str(run)])
    with open(run / "metrics.csv") as f:
        row = list(csv.DictReader(f))[-1]
    terms = sum(float(row[f"episode/reward_{k}"]) for k in ("forward", "ctrl", "survive"))
    assert terms == pytest.approx(float(row["episode/return"]), rel=1e-6)


def test_bad_envpool_task_and_keys_name_the_choices():
    with pytest.raises(EnvError, match="Did you mean: Go1JoystickFlatTerrain-v1"):
        make_vec_env("Go1JoystickFlat-v1", 1, backend="envpool")
    with pytest.raises(EnvError, match="keys \\['state', 'privileged_state'\\]"):
        make_vec_env(GO1, 1, backend="envpool", critic_obs_key="priv")
    with pytest.raises(EnvError, match="bogus"):
        make_vec_env("Hopper-v5", 1, {"bogus": 1}, backend="envpool")
    with pytest.raises(Exception, match="backend"):
        TrainConfig.from_dict({"env": {"backend": "isaac"}}).validate()
    assert "Go1JoystickFlatTerrain-v1" not in gym.registry  # an EnvPool-only task
