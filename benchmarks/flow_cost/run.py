"""Compute cost of flow policies vs a Gaussian MLP policy (ratios measured side by side).

Two operations, as PPO uses them:
  update: log-prob of a stored batch + backward, batch 4096 (a large minibatch)
  rollout: sample + log-prob, batch 64, no grad (one vectorized env step)
Models: nfpo's hand-written coupling flow, zuko NICE (additive coupling), zuko NSF
(spline coupling, passes=2), each with 4 transforms; Gaussian = MLP mean + state-independent
log-std. Two sizes: the research-notes probe (obs 17, act 6, 2x256) and nfpo's Hopper default
(obs 11, act 3, 2x64). Interleaved rounds, median per model; 1 torch thread.

    python benchmarks/flow_cost/run.py
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import torch
import zuko

from nfpo.policies import FlowPolicy, GaussianPolicy

HERE = Path(__file__).resolve().parent


def models(obs: int, act: int, hidden: tuple[int, ...]) -> dict[str, tuple]:
    g = GaussianPolicy(obs, act, hidden)
    f = FlowPolicy(obs, act, num_layers=4, hidden=hidden)
    nice = zuko.flows.NICE(act, obs, transforms=4, hidden_features=hidden)
    nsf = zuko.flows.NSF(act, obs, transforms=4, passes=2, hidden_features=hidden)

    def nfpo_ops(p):
        return (lambda o, a: p.log_prob(o, a), lambda o: p.sample(o))

    def zuko_ops(m):
        def sample(o):
            d = m(o)
            return d.rsample_and_log_prob()
        return (lambda o, a: m(o).log_prob(a), sample)

    return {"gaussian": (g, *nfpo_ops(g)), "nfpo coupling": (f, *nfpo_ops(f)),
            "zuko NICE": (nice, *zuko_ops(nice)), "zuko NSF passes=2": (nsf, *zuko_ops(nsf))}


def time_it(fn, reps: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def bench(obs: int, act: int, hidden: tuple[int, ...], rounds: int = 5) -> dict:
    ms = models(obs, act, hidden)
    o_big, a_big = torch.randn(4096, obs), torch.randn(4096, act)
    o_small = torch.randn(64, obs)
    res: dict[str, dict[str, list[float]]] = {k: {"update": [], "rollout": []} for k in ms}
    for _ in range(rounds):
        for name, (mod, log_prob, sample) in ms.items():
            def upd(mod=mod, log_prob=log_prob):
                mod.zero_grad()
                log_prob(o_big, a_big).mean().backward()

            def roll(sample=sample):
                with torch.no_grad():
                    sample(o_small)

            res[name]["update"].append(time_it(upd, 5))
            res[name]["rollout"].append(time_it(roll, 50))
    out = {}
    for name in ms:
        out[name] = {op: statistics.median(v) for op, v in res[name].items()}
    for name in ms:
        for op in ("update", "rollout"):
            out[name][f"{op}_ratio"] = out[name][op] / out["gaussian"][op]
    return out


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results = {"machine": platform.platform(), "torch": torch.__version__,
               "zuko": zuko.__version__, "date": time.strftime("%Y-%m-%d"), "sizes": {}}
    lines = []
    for label, (obs, act, hidden) in {"probe obs17 act6 2x256": (17, 6, (256, 256)),
                                      "nfpo Hopper obs11 act3 2x64": (11, 3, (64, 64))}.items():
        r = bench(obs, act, hidden)
        results["sizes"][label] = r
        lines += [f"### {label}", "", "| model | log-prob+backward @4096 | ratio | "
                  "sample+log-prob @64 | ratio |", "|---|---|---|---|---|"]
        for name, v in r.items():
            lines.append(f"| {name} | {v['update'] * 1e3:.2f} ms | {v['update_ratio']:.1f}x | "
                         f"{v['rollout'] * 1e6:.0f} us | {v['rollout_ratio']:.1f}x |")
        lines.append("")
    (HERE / "results.json").write_text(json.dumps(results, indent=2))
    (HERE / "table.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
