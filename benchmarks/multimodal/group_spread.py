"""Can a restart tell "the same way" from "the other side" by the episode descriptors alone?
For each group of a mixture-of-flows checkpoint, hold the group for ``--episodes`` stochastic
episodes and record each episode's descriptor (the mean normalized observation and clipped
action, as ``nfpo.algo.outcome.EpisodeDescriptors``), its return and its side (ForkReach's
``mode``, used for the answer only). Per pair of groups: the distance between their mean
descriptors, that distance over the larger and the smaller of the two groups' RMS spreads, and
a Mahalanobis distance with the pooled within-group variance per dimension.

    python benchmarks/multimodal/group_spread.py RUN [RUN ...] --checkpoint 204800 \
        --out benchmarks/multimodal/group_spread_cross.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from nfpo.agent import load_run
from nfpo.envs import make_env


def group_episodes(run: Path, checkpoint: int, episodes: int) -> dict[int, dict]:
    """Group -> descriptors ``[E, O + A]``, returns and sides of its held episodes."""
    cfg, agent, _ = load_run(run, checkpoint)
    env = make_env(cfg.env.id, cfg.env.kwargs())
    torch.manual_seed(0)
    group_of = agent.policy.group_of
    out = {}
    for g in sorted(set(group_of.tolist())):
        lumps = (group_of == g).nonzero().ravel().tolist()
        descs, sides, rets = [], [], []
        for ep in range(episodes):
            k = torch.tensor([lumps[ep % len(lumps)]])
            obs, _ = env.reset(seed=1000 + ep)
            total, n, ret, info = 0.0, 0, 0.0, {}
            while n < 200:
                o = torch.as_tensor(obs, dtype=torch.float32)[None]
                a = agent.act(o, False, component=k)[0].numpy()
                total = total + np.concatenate([agent.norm(o)[0].numpy(), np.clip(a, -1, 1)])
                obs, r, term, trunc, info = env.step(a)
                n, ret = n + 1, ret + float(r)
                if term or trunc:
                    break
            descs.append(total / n), sides.append(int(info.get("mode", -1))), rets.append(ret)
        out[g] = {"desc": np.array(descs), "sides": sides, "return": float(np.mean(rets))}
    return out


def pairs(groups: dict[int, dict]) -> list[dict]:
    means = {g: v["desc"].mean(0) for g, v in groups.items()}
    spread = {g: float(np.sqrt(((v["desc"] - means[g]) ** 2).sum(1).mean()))
              for g, v in groups.items()}
    pooled = np.concatenate([v["desc"] - means[g] for g, v in groups.items()]).var(0) + 1e-8
    side = {g: max(set(v["sides"]), key=v["sides"].count) for g, v in groups.items()}
    rows = []
    keys = sorted(groups)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            diff = means[a] - means[b]
            dist = float(np.linalg.norm(diff))
            rows.append({"groups": [a, b], "same_side": side[a] == side[b], "distance": dist,
                         "over_max_spread": dist / max(spread[a], spread[b]),
                         "over_min_spread": dist / min(spread[a], spread[b]),
                         "mahalanobis": float(np.sqrt((diff ** 2 / pooled).sum()))})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--checkpoint", type=int, required=True)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    result = {}
    for run in args.runs:
        groups = group_episodes(run, args.checkpoint, args.episodes)
        result[run.name] = {
            "groups": {str(g): {"return": v["return"], "sides": v["sides"]}
                       for g, v in groups.items()},
            "pairs": pairs(groups)}
        for p in result[run.name]["pairs"]:
            print(run.name, p["groups"], "same" if p["same_side"] else "DIFF",
                  *(f"{k} {p[k]:.2f}" for k in ("distance", "over_max_spread",
                                                "over_min_spread", "mahalanobis")))
    for key in ("distance", "over_max_spread", "over_min_spread", "mahalanobis"):
        same = [p[key] for r in result.values() for p in r["pairs"] if p["same_side"]]
        diff = [p[key] for r in result.values() for p in r["pairs"] if not p["same_side"]]
        print(f"{key}: same side {min(same):.2f}-{max(same):.2f}, "
              f"different sides {min(diff):.2f}-{max(diff):.2f}")
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
