"""End-to-end CLI: train a few thousand steps on Hopper-v5, eval --json, report, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

NFPO = [sys.executable, "-m", "nfpo"]


def run(*args, check=True):
    p = subprocess.run([*NFPO, *args], capture_output=True, text=True, timeout=600)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


@pytest.mark.parametrize("policy", ["flow", "gaussian"])
def test_train_eval_report(tmp_path, policy):
    rd = tmp_path / "run"
    run("train", "--env", "Hopper-v5", "--policy", policy, "--total-steps", "2048",
        "--num-envs", "2", "--num-steps", "512", "--seed", "3", "--run-dir", str(rd),
        "--eval-episodes", "2", "--checkpoint-every", "1")
    for f in ("config.json", "metrics.csv", "summary.json", "eval.json", "report/report.md",
              "report/curves.png", "checkpoints/latest/model.safetensors"):
        assert (rd / f).exists(), f
    assert list((rd / "tb").glob("events.out.tfevents.*"))
    header = (rd / "metrics.csv").read_text().splitlines()[0].split(",")
    for col in ("episode/return", "loss/policy", "loss/value", "policy/entropy",
                "policy/approx_kl", "policy/clip_fraction", "value/explained_variance",
                "train/learning_rate", "time/steps_per_second"):
        assert col in header, col
    assert ("flow/logdet_mean" if policy == "flow" else "policy/log_std_mean") in header
    assert len((rd / "metrics.csv").read_text().splitlines()) == 3  # header + 2 updates

    out = run("eval", str(rd), "--episodes", "3", "--json").stdout
    res = json.loads(out)
    assert res["episodes"] == 3 and len(res["returns"]) == 3 and res["mode"] == "deterministic"
    assert {"mean_return", "std_return", "info/x_velocity"} <= set(res)
    sto = json.loads(run("eval", str(rd), "--episodes", "2", "--stochastic", "--json").stdout)
    assert sto["mode"] == "stochastic"
    pert = json.loads(run("eval", str(rd), "--episodes", "3", "--json", "--perturb",
                          "mass=0.3:0.3,delay=2").stdout)
    assert pert["perturb"] == "mass=0.3:0.3,delay=2" and pert["returns"] != res["returns"]

    md = run("report", str(rd), "--out", str(tmp_path / "rep")).stdout.strip()
    text = Path(md).read_text()
    assert "Hopper-v5" in text and policy in text and (tmp_path / "rep/curves.png").exists()


def test_help_lists_commands():
    out = run("--help").stdout
    for cmd in ("train", "eval", "report"):
        assert cmd in out


@pytest.mark.parametrize("args,needle", [
    (["train", "--env", "Hoper-v5"], "Did you mean: Hopper-v5"),
    (["train", "--env", "CartPole-v1"], "Box action space"),
    (["train", "--num-envs", "0"], "num_envs=0"),
    (["train", "--env-kwargs", "{bad"], "env_kwargs"),
    (["eval", "/nonexistent/run"], "not an nfpo run dir"),
])
def test_bad_input_gives_clear_error(args, needle):
    p = run(*args, check=False)
    assert p.returncode == 2, p.stderr
    assert needle in " ".join(p.stderr.split()), p.stderr


def test_bad_choice_lists_accepted_values():
    p = run("train", "--policy", "banana", check=False)
    assert p.returncode != 0
    assert "gaussian" in p.stderr and "flow" in p.stderr
