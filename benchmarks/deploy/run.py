"""Per-action latency of exported policies: one observation, one thread.

ONNX Runtime (through ``nfpo.deploy.Policy.act``, i.e. what a robot loop calls, and the bare
``session.run``) and TorchScript (traced module under ``torch.inference_mode``), flow vs
Gaussian, for a Hopper-sized and a Go1-sized policy. Weights are random (latency does not
depend on their values). Blocks of 50 calls cycle through the models (so machine noise hits
all of them alike); median and p99 over all calls.

    python benchmarks/deploy/run.py --calls 3000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from nfpo.agent import Agent
from nfpo.config import TrainConfig
from nfpo.deploy import Policy
from nfpo.export import export_graph
from nfpo.export.graph import PolicyGraph

HERE = Path(__file__).resolve().parent
SIZES = {
    # name: (obs, act, gaussian hidden, flow conditioner hidden)
    "Hopper-sized (obs 11, act 3)": (11, 3, (64, 64), (64, 64)),
    "Go1-sized (obs 48, act 12)": (48, 12, (512, 256, 128), (256, 256)),
}


KINDS = {"gaussian": ("gaussian", 4), "flow": ("flow", 4), "flow (2 layers)": ("flow", 2)}


def build(name: str, obs: int, act: int, g_hidden: tuple, f_hidden: tuple) -> PolicyGraph:
    kind, layers = KINDS[name]
    cfg = TrainConfig()
    cfg.policy.kind, cfg.policy.actor_hidden, cfg.policy.flow_hidden = kind, g_hidden, f_hidden
    cfg.policy.flow_layers = layers
    agent = Agent(cfg, obs, act)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in agent.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return PolicyGraph(agent, [-1.0] * act, [1.0] * act).eval()


def timed(fn, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t) / 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    runners = {}
    params = {}
    for size, (obs, act, gh, fh) in SIZES.items():
        for kind in KINDS:
            graph = build(kind, obs, act, gh, fh)
            params[(size, kind)] = sum(p.numel() for p in graph.policy.parameters())
            meta = {"obs_dim": obs, "act_dim": act, "stochastic": False,
                    "action_low": [-1.0] * act, "action_high": [1.0] * act}
            stem = f"{kind.replace(' ', '_').replace('(', '').replace(')', '')}{obs}"
            onnx_path = export_graph(graph, "onnx", tmp / f"{stem}.onnx", meta)
            ts_path = export_graph(graph, "torchscript", tmp / f"{stem}.pt", meta)
            pol = Policy.load(onnx_path)
            x = np.random.default_rng(0).normal(size=obs).astype(np.float32)
            xb = x.reshape(1, -1)
            ts = torch.jit.load(str(ts_path))
            xt = torch.as_tensor(xb)

            def ts_call(ts=ts, xt=xt):
                with torch.inference_mode():
                    return ts(xt)

            runners[(size, kind, "onnxruntime (Policy.act)")] = lambda pol=pol, x=x: pol.act(x)
            runners[(size, kind, "onnxruntime (session.run)")] = \
                lambda s=pol.session, xb=xb: s.run(None, {"obs": xb})
            runners[(size, kind, "torchscript")] = ts_call
    samples: dict[tuple, list[float]] = {k: [] for k in runners}
    for fn in runners.values():  # warm-up
        timed(fn, 200)
    # blocks of 50 calls cycle through all models, so machine noise hits them alike
    for _ in range(args.rounds * args.calls // 50):
        for k, fn in runners.items():
            samples[k] += timed(fn, 50)
    rows = []
    for (size, kind, rt), lat in samples.items():
        rows.append({"size": size, "policy": kind, "runtime": rt, "params": params[(size, kind)],
                     "median_us": float(np.median(lat)), "p99_us": float(np.percentile(lat, 99))})
    out = {"machine": platform.platform(), "cpus": os.cpu_count(), "date": time.strftime(
        "%Y-%m-%d"), "onnxruntime": ort.__version__, "torch": torch.__version__,
           "calls_per_round": args.calls, "rounds": args.rounds, "rows": rows}
    (HERE / "results.json").write_text(json.dumps(out, indent=2))
    lines = ["| size | runtime | gaussian median / p99 (us) | flow median / p99 (us) | "
             "flow / gaussian | flow (2 layers) median / p99 (us) |", "|---|---|---|---|---|---|"]
    for size in SIZES:
        for rt in ("onnxruntime (Policy.act)", "onnxruntime (session.run)", "torchscript"):
            g, f, f2 = (next(r for r in rows if r["size"] == size and r["runtime"] == rt
                             and r["policy"] == k) for k in KINDS)
            lines.append(f"| {size} | {rt} | {g['median_us']:.0f} / {g['p99_us']:.0f} | "
                         f"{f['median_us']:.0f} / {f['p99_us']:.0f} | "
                         f"{f['median_us'] / g['median_us']:.2f} | "
                         f"{f2['median_us']:.0f} / {f2['p99_us']:.0f} |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
