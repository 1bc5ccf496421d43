"""Benchmark grids: spec expansion, local and Ray backends, resume, failure isolation, and the
grid report with its statistics."""

import csv
import json
import math

import numpy as np
import pytest

from nfpo.bench.grid import job_status, prepare, read_index, run_grid, select
from nfpo.bench.spec import GridSpec, check_flags, expand, load_spec
from nfpo.errors import ConfigError
from nfpo.report.grid import collapsed, make_grid_report
from nfpo.report.stats import bootstrap_ci, iqm, prob_improvement, prob_improvement_ci

TINY = ("--num-steps 64 --num-envs 2 --num-minibatches 2 --num-epochs 2 --no-tensorboard "
        "--no-report")
BROKEN = "--policy flow --env-kwargs '{\"bogus\": 1}'"  # fails at env creation, every time


def tiny_spec(arms: dict[str, str], total_steps: int = 512, seeds=(1,)) -> GridSpec:
    return GridSpec(name="tiny", tasks=["nfpo/PointReach-v0"], seeds=list(seeds),
                    total_steps=total_steps, args=TINY, arms=arms, eval_episodes=1)


def test_expand_is_seed_major_with_job_flags():
    spec = GridSpec(tasks=["Hopper-v5", "Walker2d-v5"], seeds=[1, 2], total_steps=1000,
                    args="--learning-rate 1e-3",
                    arms={"flow": "--policy flow", "g": "--policy gaussian"})
    jobs = expand(spec)
    assert len(jobs) == 8
    assert [j.seed for j in jobs] == [1] * 4 + [2] * 4
    assert jobs[0].id == "Hopper-v5__flow__s1"
    assert jobs[0].flags == ("--learning-rate", "1e-3", "--policy", "flow", "--env",
                             "Hopper-v5", "--seed", "1", "--total-steps", "1000",
                             "--eval-episodes", "10")
    assert len({j.id for j in jobs}) == 8
    check_flags(jobs)  # all valid


def test_only_selects_jobs_by_id_glob_and_rejects_a_pattern_matching_none():
    spec = GridSpec(tasks=["Hopper-v5", "Walker2d-v5"], seeds=[1, 2], total_steps=1000,
                    arms={"flow": "--policy flow", "flow-kl": "--policy flow --target-kl 0.05"})
    jobs = expand(spec)
    assert select(jobs, ()) == jobs
    assert [j.id for j in select(jobs, ["*__flow__*"])] == [
        "Hopper-v5__flow__s1", "Walker2d-v5__flow__s1", "Hopper-v5__flow__s2",
        "Walker2d-v5__flow__s2"]
    assert [j.id for j in select(jobs, ["Walker2d-v5__flow-kl__s2", "Hopper-v5__*__s1"])] == [
        "Hopper-v5__flow__s1", "Hopper-v5__flow-kl__s1", "Walker2d-v5__flow-kl__s2"]
    with pytest.raises(ConfigError, match="'Ant-v5__\\*' matches no job id"):
        select(jobs, ["Ant-v5__*"])


def test_index_drops_jobs_of_an_arm_taken_out_of_the_spec(tmp_path):
    prepare(tiny_spec({"a": "--policy flow", "b": "--policy gaussian"}), tmp_path)
    ids = ["nfpo-PointReach-v0__a__s1", "nfpo-PointReach-v0__b__s1"]
    assert sorted(read_index(tmp_path)) == ids
    prepare(tiny_spec({"a": "--policy flow"}), tmp_path)
    index = json.loads((tmp_path / "index.json").read_text())
    assert list(index["jobs"]) == ids[:1]
    assert index["counts"]["pending"] == 1


@pytest.mark.parametrize("data,needle", [
    ({"taks": ["Hopper-v5"]}, "unknown key(s) ['taks']"),
    ({"seeds": [1, 1]}, "duplicates"),
    ({"seeds": []}, "non-empty list"),
    ({"total_steps": 0}, "total_steps=0"),
    ({"arms": {"a": "--policy flow --seed 3"}}, "reserved"),
    ({"arms": {"bad name": "--policy flow"}}, "arm name"),
    ({"policies": ["flow"], "arms": {"a": ""}}, "not both"),
    ({"references": {"Hopper-v5": "high"}}, "must map task ids"),
])
def test_bad_spec_names_the_problem(data, needle):
    with pytest.raises(ConfigError, match=None) as e:
        GridSpec.from_dict(data)
    assert needle in str(e.value)


def test_bad_train_flag_is_caught_before_running(tmp_path):
    jobs = expand(tiny_spec({"flow": "--policy flow --no-such-flag 3"}))
    with pytest.raises(ConfigError, match="no-such-flag"):
        check_flags(jobs)
    jobs = expand(tiny_spec({"flow": "--policy flow --learning-rate -1"}))
    with pytest.raises(ConfigError, match="learning_rate"):
        check_flags(jobs)


def test_load_spec_toml(tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('name = "x"\ntasks = ["Hopper-v5"]\nseeds = [1, 2]\ntotal_steps = 100\n'
                 'policies = ["flow", "gaussian"]\n')
    spec = load_spec(p)
    assert spec.arms == {"flow": "--policy flow", "gaussian": "--policy gaussian"}
    (tmp_path / "bad.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_spec(tmp_path / "bad.toml")


def _launches(grid, job_id):
    return (grid / "logs" / f"{job_id}.log").read_text().count("\n$ ")


def test_local_grid_isolates_failures_skips_done_and_resumes(tmp_path):
    grid = tmp_path / "grid"
    spec = tiny_spec({"flow": "--policy flow", "gaussian": "--policy gaussian",
                      "broken": BROKEN})
    counts = run_grid(spec, grid, workers=2, retries=1, log=lambda s: None)
    assert counts == {"done": 2, "diverged": 0, "failed": 1, "pending": 0}
    index = read_index(grid)
    broken = index["nfpo-PointReach-v0__broken__s1"]
    assert broken["attempts"] == 2 and "bogus" in broken["error"]
    for arm in ("flow", "gaussian"):
        run = grid / "runs" / f"nfpo-PointReach-v0__{arm}__s1"
        assert json.loads((run / "summary.json").read_text())["global_step"] == 512
        assert (run / "eval.json").exists()

    # a dry run (another spec, as `--dry-run` while the grid runs) reports and writes nothing
    recorded = {f: (grid / f).read_bytes() for f in ("grid.json", "index.json")}
    other = tiny_spec({**spec.arms, "new": "--policy flow-naive"})
    states = {j.id.split("__")[1]: job_status(grid, j, read_index(grid))
              for j in prepare(other, grid, write=False)}
    assert states == {"flow": "done", "gaussian": "done", "broken": "failed", "new": "pending"}
    assert {f: (grid / f).read_bytes() for f in recorded} == recorded
    prepare(other, tmp_path / "fresh", write=False)
    assert not (tmp_path / "fresh").exists()

    # same spec again: finished jobs are skipped (no new launch), the failed one is retried
    run_grid(spec, grid, workers=2, retries=0, log=lambda s: None)
    assert _launches(grid, "nfpo-PointReach-v0__flow__s1") == 1
    assert _launches(grid, "nfpo-PointReach-v0__broken__s1") == 3

    # a larger budget: the finished jobs resume from their checkpoints and are extended
    spec.total_steps = 1024
    run_grid(spec, grid, workers=2, retries=0, log=lambda s: None)
    log = (grid / "logs" / "nfpo-PointReach-v0__flow__s1.log").read_text()
    assert log.count("\n$ ") == 2 and "--resume" in log.split("\n$ ")[-1]
    run = grid / "runs" / "nfpo-PointReach-v0__flow__s1"
    assert json.loads((run / "summary.json").read_text())["global_step"] == 1024

    # the same config spelled with other flags (a default made explicit) is accepted
    spec.args = TINY + " --clip-coef 0.2"
    run_grid(spec, grid, workers=2, retries=0, log=lambda s: None)
    assert _launches(grid, "nfpo-PointReach-v0__flow__s1") == 2

    # another setting for an existing job id is refused rather than mixed in
    spec.args = TINY + " --learning-rate 1e-3"
    with pytest.raises(ConfigError, match="other flags"):
        run_grid(spec, grid, log=lambda s: None)

    # the same flags resolving to another config (a changed preset or default) are refused
    spec.args = TINY
    cfg_path = run / "config.json"
    meta = json.loads(cfg_path.read_text())
    meta["config"]["ppo"]["clip_coef"] = 0.3
    cfg_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="ppo.clip_coef: run has 0.3, flags give 0.2"):
        run_grid(spec, grid, log=lambda s: None)


def test_adopt_copies_matching_finished_runs(tmp_path):
    from nfpo.bench.grid import adopt

    spec = tiny_spec({"flow": "--policy flow"})
    run_grid(spec, tmp_path / "a", log=lambda s: None)
    src = tmp_path / "a" / "runs" / "nfpo-PointReach-v0__flow__s1"
    other = tiny_spec({"flow": "--policy flow --learning-rate 1e-3"})
    assert adopt(other, tmp_path / "b", [src], log=lambda s: None) == []  # other config
    assert adopt(spec, tmp_path / "c", [src], log=lambda s: None) == [
        "nfpo-PointReach-v0__flow__s1"]
    assert read_index(tmp_path / "c")["nfpo-PointReach-v0__flow__s1"]["status"] == "done"
    counts = run_grid(spec, tmp_path / "c", log=lambda s: None)
    assert counts["done"] == 1 and not (tmp_path / "c" / "logs").exists()  # nothing trained


def test_a_grid_dir_runs_in_one_process_at_a_time(tmp_path):
    import subprocess
    import sys

    grid = tmp_path / "g"
    grid.mkdir()
    code = (f"import fcntl, time; f = open({str(grid / '.lock')!r}, 'a+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); f.write('pid 4242'); f.flush(); "
            "print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="being run by pid 4242"):
            run_grid(tiny_spec({"flow": "--policy flow"}), grid, log=lambda s: None)
    finally:
        holder.kill()
        holder.wait()


def test_diverged_job_is_recorded_and_not_retried(tmp_path):
    grid = tmp_path / "grid"
    spec = tiny_spec({"div": "--policy flow --guard 'episode/length<0'"})
    counts = run_grid(spec, grid, retries=2, log=lambda s: None)
    assert counts["diverged"] == 1
    rec = read_index(grid)["nfpo-PointReach-v0__div__s1"]
    assert rec["attempts"] == 1 and "episode/length" in rec["error"]


def test_ray_backend_runs_grid_and_retries(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray backend needs the optional extra nfpo[ray]")
    grid = tmp_path / "grid"
    spec = tiny_spec({"flow": "--policy flow", "broken": BROKEN})
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        counts = run_grid(spec, grid, backend="ray", retries=1, log=lambda s: None)
    finally:
        ray.shutdown()
    assert counts == {"done": 1, "diverged": 0, "failed": 1, "pending": 0}
    index = read_index(grid)
    assert index["nfpo-PointReach-v0__broken__s1"]["attempts"] == 2
    assert "bogus" in index["nfpo-PointReach-v0__broken__s1"]["error"]
    assert (grid / "runs" / "nfpo-PointReach-v0__flow__s1" / "summary.json").exists()


def _synthetic_grid(root, finals):
    """A grid dir written by hand: ``finals[(task, arm)]`` = per-seed final returns."""
    tasks = sorted({t for t, _ in finals})
    arms = sorted({a for _, a in finals})
    seeds = [1, 2, 3]
    spec = GridSpec(name="syn", tasks=tasks, seeds=seeds, total_steps=3000,
                    arms={a: f"--policy {a}" for a in arms}, references={"A-v0": 105},
                    reference_name="CleanRL")
    jobs = {}
    for (task, arm), values in finals.items():
        for seed, final in zip(seeds, values, strict=True):
            jid = f"{task}__{arm}__s{seed}"
            run = root / "runs" / jid
            run.mkdir(parents=True)
            with open(run / "metrics.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["global_step", "episode/return_recent", "policy/approx_kl",
                            "policy/log_ratio_min", "policy/entropy"])
                for k in range(1, 4):
                    w.writerow([1000 * k, final * k / 3, 0.01, -30 if arm == "bad" else -2,
                                1.0])
            (run / "summary.json").write_text(json.dumps(
                {"global_step": 3000, "wall_time": 10.0, "steps_per_second": 300.0}))
            jobs[jid] = {"task": task, "arm": arm, "seed": seed, "run_dir": f"runs/{jid}",
                         "status": "done", "command": "nfpo train"}
    (root / "grid.json").write_text(json.dumps({
        "spec": spec.to_dict(), "command": "nfpo bench syn.toml",
        "machine": {"processor": "x86_64", "cpus": 2, "platform": "linux"}}))
    (root / "index.json").write_text(json.dumps({"jobs": jobs}))


def test_grid_report_aggregates_the_tasks_every_arm_has_finished(tmp_path):
    """A grid in progress: B-v0 has no finished "bad" run, so the aggregate covers A-v0 alone
    and says so (it used to vanish until every task had every arm)."""
    finals = {("A-v0", "good"): [100, 110, 120], ("A-v0", "bad"): [10, 20, 30],
              ("B-v0", "good"): [5, 6, 7], ("B-v0", "bad"): [1, 2, 3]}
    _synthetic_grid(tmp_path, finals)
    idx = json.loads((tmp_path / "index.json").read_text())
    for seed in (1, 2, 3):
        idx["jobs"][f"B-v0__bad__s{seed}"]["status"] = "pending"
    (tmp_path / "index.json").write_text(json.dumps(idx))
    agg = make_grid_report(tmp_path).read_text().split("## Aggregate over tasks")[1]
    assert "Over A-v0 only (left out, as some arm has no finished run there: B-v0)" in agg
    assert "| good | 0.91 |" in agg and "| bad > good | 0.00 |" in agg
    for seed in (1, 2, 3):  # no task with every arm: no aggregate
        idx["jobs"][f"A-v0__bad__s{seed}"]["status"] = "pending"
    (tmp_path / "index.json").write_text(json.dumps(idx))
    assert "## Aggregate" not in make_grid_report(tmp_path, tmp_path / "r2").read_text()


def test_grid_report_tables_and_figures(tmp_path):
    finals = {("A-v0", "good"): [100, 110, 120], ("A-v0", "bad"): [10, 20, 30],
              ("B-v0", "good"): [5, 6, 7], ("B-v0", "bad"): [1, 2, 3]}
    _synthetic_grid(tmp_path, finals)
    md = make_grid_report(tmp_path).read_text()
    assert "## A-v0" in md and "## B-v0" in md
    assert "| good | 3/3 | 110 ± 8 |" in md
    assert "| bad | 3/3 | 20 ± 8 |" in md
    # 3 updates with min log-ratio < -20 per "bad" run, 3 runs
    assert "| 0 | 0 | 9 | -30.0 |" in md
    assert "| bad > good | 0.00 | [0.00, 0.00] |" in md
    assert "## Aggregate over tasks" in md and "left out" not in md
    # a pending run without metrics does not hide the others' diagnostics
    idx = json.loads((tmp_path / "index.json").read_text())
    pending = {"task": "A-v0", "arm": "bad", "seed": 0, "status": "pending",
               "run_dir": "runs/none", "command": "nfpo train"}
    idx["jobs"] = {"A-v0__bad__s0": pending, **idx["jobs"]}  # first: min() meets nan first
    (tmp_path / "index.json").write_text(json.dumps(idx))
    md2 = make_grid_report(tmp_path, tmp_path / "r2").read_text()
    assert "| 9 | -30.0 |" in md2.split("## A-v0")[1].split("## B-v0")[0]
    assert "CleanRL: 105." in md
    for task in ("A-v0", "B-v0"):
        assert (tmp_path / "report" / f"curves_{task}.png").stat().st_size > 10_000
    with open(tmp_path / "report" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and {r["arm"] for r in rows} == {"good", "bad"}


def test_collapse_rule():
    up = [float(x) for x in range(100)]
    assert not collapsed(up) and not collapsed([]) and not collapsed([5.0])
    # learned 0 -> 100, then fell back: the last 10% average 30 < midpoint 50
    assert collapsed(up + [30.0] * 12)
    assert not collapsed(up + [60.0] * 12)
    # offset-free: the same shape near or below zero (Ant-like returns)
    assert collapsed([r - 200 for r in up + [30.0] * 12])
    assert not collapsed([-50.0, float("nan"), -10.0, -12.0])


def test_stats():
    assert iqm(np.arange(8.0)) == pytest.approx(3.5)
    assert iqm(np.array([0, 1, 2, 3, 1000.0])) == pytest.approx(2.0)
    assert prob_improvement([np.array([3.0, 4.0])], [np.array([1.0, 2.0])]) == 1.0
    assert prob_improvement([np.array([1.0])], [np.array([1.0])]) == 0.5
    x, y = [np.array([1.0, 3.0, 5.0])], [np.array([2.0, 4.0, 6.0])]
    assert prob_improvement(x, y) == pytest.approx(3 / 9)
    pt, lo, hi = prob_improvement_ci(x, y)
    assert lo <= pt <= hi and lo >= 0 and hi <= 1
    pt, lo, hi = bootstrap_ci(lambda s: float(np.mean(s[0])), [np.arange(10.0)])
    assert pt == 4.5 and lo < 4.5 < hi and not math.isnan(lo)


def test_sigterm_stops_the_grid_jobs_checkpoint_and_resume(tmp_path):
    """SIGTERM to `nfpo bench`: every running job checkpoints and exits, nothing new starts,
    nothing is retried; the same command then resumes and finishes."""
    import signal
    import subprocess
    import sys
    import time

    spec = tmp_path / "g.toml"
    spec.write_text(f'name = "stop"\ntasks = ["nfpo/PointReach-v0"]\nseeds = [1, 2, 3]\n'
                    f'total_steps = 12800\neval_episodes = 1\nargs = "{TINY} --checkpoint-every 5"'
                    '\npolicies = ["flow"]\n')
    grid = tmp_path / "grid"
    cmd = [sys.executable, "-m", "nfpo", "bench", str(spec), "--out", str(grid),
           "--workers", "2", "--retries", "3", "--no-report"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = grid / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("*/checkpoints/latest"))) < 2:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    index = read_index(grid)
    assert sum(r["status"] == "pending" for r in index.values()) >= 2, index
    assert not (runs / "nfpo-PointReach-v0__flow__s3").exists()  # queued: never started
    for r in index.values():
        assert r["attempts"] <= 1  # no retry of a stopped job
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    index = read_index(grid)
    assert all(r["status"] == "done" for r in index.values())
    log = (grid / "logs" / "nfpo-PointReach-v0__flow__s1.log").read_text()
    assert "--resume" in log.split("\n$ ")[-1]


def test_a_stop_during_a_jobs_launch_starts_no_process(tmp_path, monkeypatch):
    """A stop that lands after run_job's first STOP check but before the child exists: the
    job must not start a training process that stop_all never signals."""
    import subprocess

    from nfpo.bench import jobs

    job = prepare(tiny_spec({"a": "--policy flow"}), tmp_path)[0]
    real = jobs.train_command

    def command_then_stop(*a, **k):  # the stop arrives while the job is being prepared
        cmd = real(*a, **k)
        jobs.stop_all()
        return cmd

    def no_popen(*a, **k):
        raise AssertionError("a training process was started after the stop")

    monkeypatch.setattr(jobs, "train_command", command_then_stop)
    monkeypatch.setattr(subprocess, "Popen", no_popen)
    try:
        assert jobs.run_job(tmp_path, job)["status"] == "pending"
    finally:
        jobs.STOP.clear()
