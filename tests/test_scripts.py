"""Every benchmark and example script imports (its own folder on the path, as when run with
``python benchmarks/.../x.py``) and has a ``main``: a moved or renamed nfpo name breaks this
test, not a benchmark rerun months later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.relative_to(ROOT).as_posix()
                 for folder in ("benchmarks", "examples") for p in (ROOT / folder).rglob("*.py"))

CHECK = """
import importlib.util, pathlib, sys
path = sys.argv[1]
sys.path.insert(0, str(pathlib.Path(path).parent))
spec = importlib.util.spec_from_file_location("script_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(getattr(module, "main", None)), f"{path} has no main()"
"""


def test_scripts_are_found():
    assert "benchmarks/throughput/backends.py" in SCRIPTS and len(SCRIPTS) >= 10


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_imports_and_has_main(script):
    out = subprocess.run([sys.executable, "-c", CHECK, str(ROOT / script)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_bench_runs_store_and_fetch_round_trip(tmp_path):
    """benchmarks/runs.py: a study's run files go to the bench-runs branch (without
    checkpoints and logs) and come back byte for byte; a clone fetches them from origin."""
    repo = tmp_path / "repo"
    runs = repo / "benchmarks" / "study" / "runs"
    (runs / "job1" / "checkpoints").mkdir(parents=True)
    (runs / "job1" / "metrics.csv").write_text("global_step,x\n1,2\n")
    (runs / "job1" / "eval.json").write_text('{"mean_return": 1.5}')
    (runs / "job1" / "checkpoints" / "big.bin").write_bytes(b"0" * 100)
    (runs / "job1" / "train.log").write_text("log")
    (repo / "README.md").parent.mkdir(exist_ok=True)
    (repo / "README.md").write_text("x")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "README.md")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    script = ROOT / "benchmarks" / "runs.py"

    ident = {k: "t" for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                              "GIT_COMMITTER_EMAIL")}

    def run(cwd, *args):
        return subprocess.run([sys.executable, str(script), *args], cwd=cwd,
                              capture_output=True, text=True, env={**os.environ, **ident})

    none = run(repo, "list")  # a checkout without the branch says so instead of listing nothing
    assert none.returncode != 0 and "no branch bench-runs" in none.stderr, none.stderr
    env_ok = run(repo, "store", "benchmarks/study")
    assert env_ok.returncode == 0, env_ok.stderr
    assert run(repo, "list").stdout.split() == ["benchmarks/study"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    out = run(clone, "fetch", "benchmarks/study")
    assert out.returncode == 0 and "restored 2 files" in out.stdout, out.stderr
    got = clone / "benchmarks" / "study" / "runs" / "job1"
    assert sorted(p.name for p in got.iterdir()) == ["eval.json", "metrics.csv"]
    assert (got / "metrics.csv").read_text() == "global_step,x\n1,2\n"
    bad = run(clone, "fetch", "benchmarks/other")
    assert bad.returncode != 0 and "not on bench-runs" in bad.stderr
    assert "stored studies: ['benchmarks/study']" in bad.stderr


def test_multimodal_summary_refuses_runs_without_checkpoints(tmp_path):
    """A grid whose finished runs came back without checkpoints (the bench-runs branch keeps
    none) is named before any evaluation starts, and no results file is written."""
    grid = tmp_path / "grid"
    (grid / "runs" / "job1").mkdir(parents=True)
    (grid / "index.json").write_text('{"counts": {}, "jobs": {"job1": {"status": "done", '
                                     '"run_dir": "runs/job1", "task": "t", "arm": "a", '
                                     '"seed": 1}}}')
    name = "test_no_checkpoints"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks/multimodal/summarize.py"),
                          "--grids", str(grid), "--name", name], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode != 0 and "no checkpoints for 1 finished run" in out.stderr, out.stderr
    assert str(grid / "runs" / "job1") in out.stderr
    assert not (ROOT / "benchmarks" / "multimodal" / f"results_{name}.json").exists()


def test_legged_status_keeps_committed_rows_without_local_metrics(tmp_path, monkeypatch):
    """benchmarks/legged/status.py in a clone (no metrics.csv): a run whose committed row is
    at the history's last step keeps it (it came from the full metrics); a run with a local
    metrics.csv gets a row from its last updates."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "legged_status", ROOT / "benchmarks" / "legged" / "status.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "LONG", tmp_path)
    cfg = '{"config": {"run": {"total_steps": 2000000}}}'
    keys = "global_step,episode/length,episode/lin_vel_error,episode/ang_vel_error," \
           "episode/return_recent,policy/approx_kl,policy/log_ratio_min\n"
    for name in ("old", "new"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(cfg)
        (tmp_path / name / "history.csv").write_text(keys + "1000000,9,9,9,9,9,-9\n")
    (tmp_path / "new" / "metrics.csv").write_text(keys + "1500000,20,0.5,0.25,3,0.01,-2\n")
    kept = "| old | 1.00M / 2M | 100 | 0.30 | 0.20 | 1.00 | 0.010 | -1.0 |"
    (tmp_path / "status.md").write_text("| run |\n|---|\n" + kept + "\n"
                                        "| new | 1.00M / 2M | 1 | 1 | 1 | 1 | 1 | 1 |\n")
    table = mod.status(window=100, thin=20).splitlines()
    assert table[2] == "| new | 1.50M / 2M | 20 | 0.50 | 0.25 | 3.00 | 0.010 | -2.0 |"
    assert table[3] == kept


def test_multimodal_curves_average_seeds_at_fractions(tmp_path):
    """benchmarks/multimodal/curves.py: a column is the mean over the 10 updates before each
    eighth of a run, then over the seeds; unfinished jobs are left out."""
    jobs = {}
    for seed, offset in ((1, 0.0), (2, 10.0), (3, 1000.0)):
        job = f"nfpo-ForkReach-v0__arm__s{seed}"
        run = tmp_path / "grid" / "runs" / job
        run.mkdir(parents=True)
        rows = "\n".join(f"{i},{i + offset}" for i in range(80))
        (run / "metrics.csv").write_text(f"global_step,episode/return_recent\n{rows}\n")
        jobs[job] = {"task": "nfpo/ForkReach-v0", "arm": "arm", "seed": seed,
                     "run_dir": f"runs/{job}",
                     "status": "pending" if seed == 3 else "done"}  # seed 3 is unfinished
    (tmp_path / "grid" / "index.json").write_text(json.dumps({"jobs": jobs}))
    out = tmp_path / "curves.json"
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks/multimodal/curves.py"),
                          str(tmp_path / "grid"), "--metrics", "episode/return_recent",
                          "--out", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    arm = json.loads(out.read_text())["arms"][0]
    assert arm["seeds"] == ["1", "2"]
    # updates 0-9 -> 4.5, 70-79 -> 74.5; seed 2 adds 10, so the mean adds 5
    assert arm["episode/return_recent"][0] == pytest.approx(9.5)
    assert arm["episode/return_recent"][-1] == pytest.approx(79.5)
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks/multimodal/curves.py"),
                          str(tmp_path / "grid"), "--metrics", "return"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "invalid --metrics entry 'return'" in bad.stderr
    assert "episode/return_recent" in bad.stderr
