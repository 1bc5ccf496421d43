"""Runs a user can trust: run-dir safety, custom envs, checkpoint selection, config files,
logging sinks, and one clear line (exit 2) for every user-facing failure; nothing saved is lost.
"""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nfpo.checkpoint as ckpt_mod
from nfpo import cli
from nfpo.agent import load_run
from nfpo.checkpoint import list_checkpoints, load_checkpoint
from nfpo.config import TrainConfig
from nfpo.config_file import load_config_file
from nfpo.errors import CheckpointError, ConfigError, DivergenceError, NfpoError
from nfpo.logger import read_metrics
from nfpo.run_dir import RunDir
from nfpo.runner import Trainer

NFPO = [sys.executable, "-m", "nfpo"]
TINY = ["--env", "nfpo/PointReach-v0", "--num-envs", "2", "--num-steps", "64",
        "--num-minibatches", "2", "--num-epochs", "1", "--no-progress", "--no-tensorboard",
        "--eval-episodes", "0", "--no-report"]


def run(*args, check=True, env=None, cwd=None):
    p = subprocess.run([*NFPO, *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})}, cwd=cwd)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_here(capsys, *args, check: bool = False) -> Result:
    """``nfpo ARGS`` in this process (no interpreter start-up, ~3 s less per call)."""
    capsys.readouterr()
    try:
        cli.main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    if check:
        assert code == 0, out.err[-3000:]
    return Result(code, out.out, out.err)


def one_line_error(p, *needles):
    """Exit 2, no traceback, and every needle in the (whitespace-folded) stderr."""
    err = " ".join(p.stderr.split())
    assert p.returncode == 2, p.stderr[-3000:]
    assert "Traceback" not in p.stderr, p.stderr[-3000:]
    for n in needles:
        assert n in err, (n, p.stderr[-3000:])


def tiny_cfg(run_dir, total=256, **run):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = total, str(run_dir)
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 0
    cfg.run.report = False
    for k, v in run.items():
        setattr(cfg.run, k, v)
    return cfg


def digest(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def three_ckpts(tmp_path_factory):
    """A run with checkpoints at steps 128, 256 and 384 (and a best one)."""
    d = tmp_path_factory.mktemp("three") / "run"
    Trainer(tiny_cfg(d, 384, checkpoint_every=1, eval_every=1, eval_every_episodes=2)).train()
    return d


# --- run-dir safety -----------------------------------------------------------------------
def test_reused_run_dir_is_refused_and_left_untouched(tmp_path, capsys):
    rd = tmp_path / "run"
    run_here(capsys, "train", *TINY, "--total-steps", "128", "--run-dir", rd, check=True)
    before = digest(rd)
    p = run_here(capsys, "train", *TINY, "--policy", "gaussian", "--total-steps", "128",
                 "--run-dir", rd)
    one_line_error(p, f"run dir {rd} already holds a run", "nfpo/PointReach-v0, policy flow",
                   f"nfpo train --resume {rd}", "--overwrite")
    assert digest(rd) == before  # nothing written, nothing lost
    run_here(capsys, "train", *TINY, "--policy", "gaussian", "--total-steps", "128",
             "--run-dir", rd, "--overwrite", check=True)
    cfg, _ = RunDir(rd).read_config()
    assert cfg.policy.kind == "gaussian"
    assert len(read_metrics(rd)["global_step"]) == 1  # the old run's rows are gone


def test_default_run_dirs_are_unique_and_readable(tmp_path):
    dirs = [RunDir.create_default(tmp_path, "nfpo/MultiGoal-v0", "flow", 1) for _ in range(50)]
    assert len({d.path for d in dirs}) == 50
    assert all(d.path.parent == tmp_path for d in dirs)  # "/" of the id does not nest dirs
    assert dirs[0].path.name.startswith("nfpo-MultiGoal-v0__flow__s1__")


def test_parallel_launches_get_their_own_dirs(tmp_path):
    procs = [subprocess.Popen([*NFPO, "train", *TINY, "--total-steps", "128", "--seed", "1"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 3
    for d in runs:
        assert len(read_metrics(d)["global_step"]) == 1


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_bad_run_dir_paths(tmp_path, kind, capsys):
    path = tmp_path / "afile" if kind == "file" else Path("/sys/nfpo_run_dir_test")
    if kind == "file":
        path.write_text("not a dir")
    p = run_here(capsys, "train", *TINY, "--total-steps", "128", "--run-dir", path)
    one_line_error(p, str(path), "is a file" if kind == "file" else "cannot write to run dir")


def test_read_only_run_dir_is_one_clear_error(tmp_path, monkeypatch):
    def read_only(self, data):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(ConfigError, match="Read-only file system.*EROFS"):
        Trainer(tiny_cfg(tmp_path / "ro"))


# --- custom envs --------------------------------------------------------------------------
# a user's env module: a 1-D task that can also return NaN rewards (from the overall step
# ``nan_from`` on, or once at step ``nan_once``)
USER_ENVS = textwrap.dedent('''
    import gymnasium as gym
    import numpy as np

    class Line(gym.Env):
        observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

        def __init__(self, length=10, nan_from=10**9, nan_once=-1):
            self.length, self.nan_from, self.nan_once, self.steps = length, nan_from, nan_once, 0

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, a):
            self.t += 1
            self.steps += 1
            bad = self.steps > self.nan_from or self.steps == self.nan_once
            r = np.nan if bad else -float(a[0] - 0.5) ** 2
            return np.zeros(1, np.float32), r, False, self.t >= self.length, {}

    gym.register("UserLine-v0", entry_point=Line)
''')


@pytest.mark.parametrize("form", ["module:id", "env-import"])
def test_custom_env_trains_and_evaluates(tmp_path, form, monkeypatch, capsys):
    (tmp_path / f"user_envs_{form[:3]}.py").write_text(USER_ENVS)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = f"user_envs_{form[:3]}"
    flags = ([f"--env={mod}:UserLine-v0"] if form == "module:id" else
             ["--env-import", mod, "--env", "UserLine-v0"])
    rd = tmp_path / "run"
    run_here(capsys, "train", *TINY, *flags, "--total-steps", "128", "--run-dir", rd,
             check=True)
    res = json.loads(run_here(capsys, "eval", rd, "--episodes", "2", "--json",
                              check=True).stdout)
    assert res["mean_length"] == 10
    assert RunDir(rd).read_config()[0].env.env_import == (() if form == "module:id"
                                                           else (mod,))


def test_bad_custom_env_module_is_named(capsys):
    p = run_here(capsys, "train", *TINY, "--env", "no_such_pkg.envs:Foo-v0")
    one_line_error(p, "cannot import env module 'no_such_pkg.envs'", "ModuleNotFoundError")


def test_import_nfpo_registers_its_tasks():
    code = ("import gymnasium as gym, nfpo; gym.register_envs(nfpo); "
            "print(gym.make('nfpo/BimodalBandit-v0').reset(seed=0)[0])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[1.]"


# --- clear errors -------------------------------------------------------------------------
@pytest.mark.parametrize("args,needles", [
    (["--seed", "-5"], ["seed=-5", "[0, 2**31)"]),
    (["--learning-rate", "inf"], ["learning_rate=inf", "finite"]),
    (["--env", "Hopper-v5", "--env-kwargs", '{"ctrl_cost_weight": "a"}'],
     ["Hopper-v5 failed on its first reset/step", "ctrl_cost_weight"]),
    (["--env", "Hopper-v2"], ["Hopper-v2 cannot be built here", "use Hopper-v5"]),
    (["--env", "Hoper-v5"], ["Did you mean: Hopper-v5"]),
    (["--device", "tpu"], ["device='tpu'", "cpu, cuda, cuda:N or auto"]),
    (["--config", "/nonexistent.toml"], ["cannot read --config /nonexistent.toml"]),
])
def test_bad_train_input_is_one_line(tmp_path, args, needles, capsys):
    p = run_here(capsys, "train", *TINY, "--run-dir", tmp_path / "r", *args)
    one_line_error(p, *needles)
    assert not RunDir(tmp_path / "r").holds_run()


def test_suggestions_are_buildable_versions(capsys):
    p = run_here(capsys, "train", "--env", "Hopper-v9")
    one_line_error(p, "Did you mean: Hopper-v5")
    assert "Hopper-v2" not in p.stderr and "Hopper-v3" not in p.stderr


def test_cuda_device_when_absent_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA (test_cuda_device_trains covers it)")
    with pytest.raises(ConfigError, match="sees no CUDA device"):
        Trainer(tiny_cfg(None, device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_trains_and_resumes(tmp_path):
    rd = tmp_path / "gpu"
    t = Trainer(tiny_cfg(rd, 256, device="cuda", checkpoint_every=1))
    assert next(t.agent.parameters()).is_cuda and t.storage.obs.is_cuda
    t.train()
    Trainer.resume(rd, 384).train()
    assert load_run(rd)[2]["global_step"] == 384  # checkpoints load on the CPU


def test_auto_device_trains_here(tmp_path):
    t = Trainer(tiny_cfg(tmp_path / "auto", device="auto"))
    assert t.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    t.train()


def test_eval_validates_the_saved_config(tmp_path, three_ckpts, capsys):
    import shutil

    for field, value, needle in [("kind", "banana", "policy='banana'"),
                                 ("flow_layers", "4", "flow_layers='4'")]:
        rd = tmp_path / field
        shutil.copytree(three_ckpts, rd)
        meta = json.loads((rd / "config.json").read_text())
        meta["config"]["policy"][field] = value
        (rd / "config.json").write_text(json.dumps(meta))
        one_line_error(run_here(capsys, "eval", rd, "--episodes", "1"),
                       f"bad config in {rd / 'config.json'}", needle)


def test_video_path_is_checked_before_episodes(tmp_path, three_ckpts, capsys):
    (tmp_path / "file").write_text("x")
    p = run_here(capsys, "eval", three_ckpts, "--episodes", "1", "--video",
                 tmp_path / "file" / "v.mp4")
    one_line_error(p, "cannot write video", str(tmp_path / "file"))


def test_total_steps_rounding_is_announced(tmp_path, capsys):
    p = run_here(capsys, "train", *TINY, "--total-steps", "200", "--run-dir", tmp_path / "r",
                 check=True)
    assert ("total_steps=200 is not a multiple of the batch (num_steps x num_envs = 64 x 2 = "
            "128): training runs 1 update(s) = 128 steps") in " ".join(p.stderr.split())


# --- disk full and interrupts: nothing saved is lost ---------------------------------------
def test_disk_full_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    rd = tmp_path / "run"
    t = Trainer(tiny_cfg(rd, 256, checkpoint_every=1))
    t.train()
    good = list_checkpoints(rd)
    before = digest(rd / "checkpoints")

    def full(tensors, path, *a, **k):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(ckpt_mod, "save_file", full)
    with pytest.raises(CheckpointError, match=r"No space left on device \[ENOSPC\]"):
        t.global_step += 128
        t.save()
    assert list_checkpoints(rd) == good
    assert not list((rd / "checkpoints").glob(".tmp_*"))  # no half-written dir left
    assert digest(rd / "checkpoints") == before


def test_interrupt_at_start_up_and_final_eval_exit_130_without_traceback(tmp_path, monkeypatch,
                                                                       capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "__init__", interrupted)
    with pytest.raises(SystemExit) as e:
        cli.main(["train", *TINY])
    assert e.value.code == 130
    monkeypatch.undo()

    import nfpo.evaluate

    monkeypatch.setattr(nfpo.evaluate, "evaluate", interrupted)
    rd = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        cli.main(["train", *TINY, "--eval-episodes", "2", "--total-steps", "128",
                  "--run-dir", str(rd)])
    assert e.value.code == 130
    err = " ".join(capsys.readouterr().err.split())
    assert f"training finished and is saved in {rd}" in err
    assert load_run(rd)[2]["global_step"] == 128


def test_second_interrupt_still_saves_third_aborts(tmp_path):
    t = Trainer(tiny_cfg(tmp_path / "r"))
    t.stop.handler(signal.SIGINT, None)
    t.stop.handler(signal.SIGINT, None)  # repeated: still stops cleanly after the update
    assert t.stop.signum == signal.SIGINT
    with pytest.raises(KeyboardInterrupt):
        t.stop.handler(signal.SIGINT, None)


def test_two_quick_interrupts_checkpoint_and_exit_130(tmp_path):
    rd = tmp_path / "run"
    p = subprocess.Popen([*NFPO, "train", *TINY, "--total-steps", "100000000",
                          "--checkpoint-every", "1000000", "--run-dir", str(rd)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_metrics(rd).get("global_step", [])) < 2:
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    time.sleep(0.02)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert load_run(rd)[2]["global_step"] >= 256


# --- checkpoints: corrupted newest, selection --------------------------------------------
def test_corrupt_newest_checkpoint_falls_back(tmp_path, three_ckpts, capsys):
    import shutil

    rd = tmp_path / "run"
    shutil.copytree(three_ckpts, rd, symlinks=True)
    newest = list_checkpoints(rd)[-1]
    (newest / "model.safetensors").write_bytes(b"\x00" * 10)
    _, state = load_checkpoint(rd)
    assert state["global_step"] == 256
    assert "skipped 1 corrupted newer checkpoint" in capsys.readouterr().err
    res = json.loads(run("eval", str(rd), "--episodes", "1", "--json").stdout)
    assert res["checkpoint_step"] == 256
    assert Trainer.resume(rd).global_step == 256  # resume too, the broken one is not used


def test_checkpoint_selector(three_ckpts, capsys):
    assert load_checkpoint(three_ckpts, 128)[1]["global_step"] == 128
    assert load_checkpoint(three_ckpts, "256")[1]["global_step"] == 256
    best = load_checkpoint(three_ckpts, "best")[1]
    assert best["eval_return"] == max(read_metrics(three_ckpts)["eval/return"])
    res = json.loads(run("eval", str(three_ckpts), "--episodes", "1", "--json",
                         "--checkpoint", "128").stdout)
    assert res["checkpoint_step"] == 128
    one_line_error(run_here(capsys, "eval", three_ckpts, "--checkpoint", "999"),
                   "no checkpoint 999", "steps available: 128, 256, 384")
    one_line_error(run_here(capsys, "export", three_ckpts, "--checkpoint", "soon"),
                   "invalid checkpoint='soon'", "latest, best or a step")


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=8))
def test_any_selector_string_is_handled(three_ckpts, sel):
    try:
        load_checkpoint(three_ckpts, sel)
    except CheckpointError as e:
        assert str(e)


# --- non-finite values -------------------------------------------------------------------
@pytest.fixture
def nan_env(tmp_path, monkeypatch):
    (tmp_path / "user_nan_mod.py").write_text(USER_ENVS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_nan_mod:UserLine-v0"


def test_nan_before_first_checkpoint_says_so(tmp_path, nan_env):
    cfg = tiny_cfg(tmp_path / "r", 1024)
    cfg.env.id, cfg.env.env_kwargs = nan_env, '{"length": 5, "nan_from": 200}'
    with pytest.raises(DivergenceError, match="no checkpoint was written yet"):
        Trainer(cfg).train()


def test_one_nan_episode_is_dropped_and_the_run_goes_on(tmp_path, nan_env, capsys):
    cfg = tiny_cfg(tmp_path / "r", 128 * 4)
    cfg.env.id, cfg.env.nonfinite = nan_env, "drop-episode"
    cfg.env.env_kwargs = '{"length": 5, "nan_once": 3}'
    Trainer(cfg).train()
    m = read_metrics(tmp_path / "r")
    assert len(m["global_step"]) == 4 and m["episode/dropped"][-1] == 2  # one in each env
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["dropped_episodes"] == 2
    assert capsys.readouterr().err.count("dropped episodes") == 1


def test_persistent_nan_with_drop_episode_stops(tmp_path, nan_env, capsys):
    cfg = tiny_cfg(tmp_path / "r", 128 * 50)
    cfg.env.id, cfg.env.nonfinite = nan_env, "drop-episode"
    cfg.env.env_kwargs = '{"length": 5, "nan_from": 0}'
    with pytest.raises(DivergenceError, match="every episode of the last 3 updates"):
        Trainer(cfg).train()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "dropped" in line]
    assert len(warnings) == 3  # one line per update, not one per step


# --- config files, logging sinks ----------------------------------------------------------
def test_config_file_flat_sectioned_and_replay(tmp_path, capsys):
    flat = tmp_path / "flat.toml"
    flat.write_text('env = "Walker2d-v5"\npolicy = "gaussian"\nlearning-rate = 1e-3\n'
                    'flow_hidden = [32, 32]\n')
    cfg = load_config_file(flat)
    assert (cfg.env.id, cfg.policy.kind, cfg.ppo.learning_rate, cfg.policy.flow_hidden) == (
        "Walker2d-v5", "gaussian", 1e-3, (32, 32))
    sect = tmp_path / "s.json"
    sect.write_text(json.dumps({"ppo": {"num_epochs": 3}, "run": {"seed": 7}}))
    cfg = load_config_file(sect)
    assert (cfg.ppo.num_epochs, cfg.run.seed) == (3, 7)
    bad = tmp_path / "bad.toml"
    bad.write_text("lerning_rate = 1\n")
    with pytest.raises(ConfigError, match="unknown field 'lerning_rate'.*learning_rate"):
        load_config_file(bad)

    # a run's config.json replays it; flags given after it override it
    rd = tmp_path / "a"
    run_here(capsys, "train", *TINY, "--total-steps", "128", "--seed", "5", "--learning-rate",
             "1e-3", "--run-dir", rd, check=True)
    run_here(capsys, "train", "--config", rd / "config.json", "--run-dir", tmp_path / "b",
             check=True)
    run_here(capsys, "train", "--config", rd / "config.json", "--seed", "6",
             "--run-dir", tmp_path / "c", check=True)
    a, b, c = (RunDir(tmp_path / x).read_config()[0].to_dict() for x in "abc")
    for d in (a, b, c):
        d["run"].pop("run_dir")
    assert a == b
    assert c["run"]["seed"] == 6 and {**c["run"], "seed": 5} == a["run"]
    assert read_metrics(tmp_path / "a")["loss/value"] == read_metrics(tmp_path / "b")[
        "loss/value"]  # the replay is the same run


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["env", "policy", "ppo", "run", "seed", "learning-rate",
                                        "config", "x", "flow_hidden"]),
                       st.one_of(st.integers(-3, 3), st.text(max_size=4), st.floats(),
                                 st.lists(st.integers(-1, 3), max_size=2),
                                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)),
                       max_size=4))
def test_any_config_file_gives_config_or_clear_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cf") / "c.json"
    path.write_text(json.dumps(data))
    try:
        load_config_file(path).validate()
    except NfpoError as e:
        assert str(e)


def test_tensorboard_gets_config_text_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rd = tmp_path / "run"
    Trainer(tiny_cfg(rd, 128, tensorboard=True)).train()
    acc = EventAccumulator(str(rd / "tb"))
    acc.Reload()
    assert "config/text_summary" in acc.Tags()["tensors"]
    assert acc.PluginTagToContent("hparams")  # the HPARAMS dashboard's data
    assert "episode/return_recent" in acc.Tags()["scalars"]


def test_wandb_offline(tmp_path):
    pytest.importorskip("wandb", reason="wandb is in the dev extras")
    rd = tmp_path / "run"
    run("train", *TINY, "--total-steps", "256", "--run-dir", str(rd), "--track",
        "--wandb-project", "nfpo-test", env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    runs = list((rd / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))


# --- periodic evaluation ------------------------------------------------------------------
def test_periodic_eval_changes_nothing_in_training(tmp_path, three_ckpts):
    ref = tmp_path / "ref"
    Trainer(tiny_cfg(ref, 384, checkpoint_every=1)).train()
    a, b = read_metrics(ref), read_metrics(three_ckpts)
    assert a["loss/policy"] == b["loss/policy"] and a["episode/return"] == b["episode/return"]
    assert len(b["eval/return"]) == 3 and np.all(np.isfinite(b["eval/return"]))
    summary = json.loads((three_ckpts / "summary.json").read_text())
    assert summary["best_eval_return"] == max(b["eval/return"])
    res = json.loads(run("eval", str(three_ckpts), "--checkpoint", "best", "--episodes", "1",
                         "--json").stdout)
    assert res["checkpoint_step"] == load_checkpoint(three_ckpts, "best")[1]["global_step"]


def test_init_from_starts_from_a_runs_weights_with_fresh_counters(tmp_path):
    src = Trainer(tiny_cfg(tmp_path / "src"))
    src.train()
    weights = src.agent.tensors()
    ft = Trainer(tiny_cfg(tmp_path / "ft", init_from=str(tmp_path / "src")))
    for k, v in weights.items():
        assert torch.equal(ft.agent.tensors()[k], v), k
    assert ft.global_step == 0 and ft.update_idx == 0
    ft.train()
    assert load_run(tmp_path / "ft")[2]["global_step"] == 256
    fresh = Trainer(tiny_cfg(tmp_path / "fresh"))
    assert not torch.equal(fresh.agent.tensors()["policy.flow.layers.0.net.0.weight"],
                           weights["policy.flow.layers.0.net.0.weight"])


def test_init_from_names_a_missing_run_and_an_architecture_mismatch(tmp_path):
    with pytest.raises(ConfigError, match="invalid init_from=.*nowhere.*no checkpoint"):
        Trainer(tiny_cfg(tmp_path / "a", init_from=str(tmp_path / "nowhere")))
    Trainer(tiny_cfg(tmp_path / "src")).train()
    cfg = tiny_cfg(tmp_path / "b", init_from=str(tmp_path / "src"))
    cfg.policy.kind = "gaussian"
    with pytest.raises(ConfigError, match="invalid init_from=.*does not match the policy"):
        Trainer(cfg)


def test_init_from_fixed_mixture_weights_into_learned_ones(tmp_path):
    """A mixture base pretrained with fixed (uniform) weights fine-tunes with learned weights:
    the logits start at 0 (the same distribution); the means come from the run."""
    src_cfg = tiny_cfg(tmp_path / "src")
    src_cfg.policy.flow_base_mixture = 4
    src = Trainer(src_cfg)
    src.train()
    cfg = tiny_cfg(tmp_path / "ft", init_from=str(tmp_path / "src"))
    cfg.policy.flow_base_mixture, cfg.policy.flow_base_mixture_weights = 4, True
    ft = Trainer(cfg)
    t = ft.agent.tensors()
    assert torch.equal(t["policy.base_dist.means"], src.agent.tensors()["policy.base_dist.means"])
    assert torch.equal(t["policy.base_dist.logits"], torch.zeros(4))


def test_init_from_a_run_with_a_merged_group_keeps_it_dead(tmp_path):
    """A mixture of held flows whose group 1 was merged into group 0 (its lumps now group
    0's) fine-tunes with group 1 dead: the group weights, restarts and merges run over the
    three live groups. Before, the dead group counted as live, never got an episode, and its
    missing return held the weights where pretraining left them (MultiGoal seed 4 of
    finetune_multigoal.py's preset arm: success 0.30 after 24k steps)."""
    def cfg(run_dir, **run):
        c = tiny_cfg(run_dir, **run)
        p = c.policy
        p.kind, p.flow_base_mixture, p.flow_base_mixture_hold = "flow", 4, True
        p.flow_base_mixture_init, p.flow_groups, p.flow_groups_temperature = "sphere", 4, 0.5
        return c
    src = Trainer(cfg(tmp_path / "src"))
    assert src.collector.group_weights.alive.all()
    src.agent.policy.merge_group(1, 0)
    src.save()
    ft = Trainer(cfg(tmp_path / "ft", init_from=str(tmp_path / "src")))
    assert ft.collector.group_weights.alive.tolist() == [True, False, True, True]
    ft.train()
    assert ft.collector.group_weights.weights(1.0) is not None  # every live group has a return


def test_freeze_holds_named_parameters_and_names_a_bad_prefix(tmp_path):
    cfg = tiny_cfg(tmp_path / "f", freeze=("policy.flow.layers.0", "critic"))
    t = Trainer(cfg)
    before = {k: v.clone() for k, v in t.agent.tensors().items()}
    t.train()
    after = t.agent.tensors()
    for k, v in before.items():
        frozen = k.startswith(("policy.flow.layers.0.", "critic."))
        if k.startswith(("policy.", "critic.")):
            assert torch.equal(after[k], v) == frozen or "mask" in k, k
    with pytest.raises(ConfigError, match="invalid freeze prefix 'policy.nope'.*policy.flow"):
        Trainer(tiny_cfg(tmp_path / "g", freeze=("policy.nope",)))
