"""Bit-identity check for speed work: train three short runs (Hopper Gaussian 1 env, Hopper
flow 2 envs, HalfCheetah Gaussian 3 envs; fixed seed) and print, per run, a hash of the final
checkpoint's tensors (weights and optimizer state) and of the last metrics row (timings left
out). Run it before and after a change that must not change what is computed:

    OMP_NUM_THREADS=1 python benchmarks/throughput/golden.py > before.txt   # then after; diff
"""

import csv
import hashlib
import tempfile
from pathlib import Path

import torch

from nfpo.config import TrainConfig
from nfpo.runner import Trainer


def main() -> None:
    torch.set_num_threads(1)
    for kind, envs, env in (("gaussian", 1, "Hopper-v5"), ("flow", 2, "Hopper-v5"),
                            ("gaussian", 3, "HalfCheetah-v5")):
        cfg = TrainConfig()
        cfg.env.id, cfg.env.num_envs, cfg.policy.kind = env, envs, kind
        cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 256, 4, 3
        cfg.run.total_steps, cfg.run.seed = 3 * 256 * envs, 7
        cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
        cfg.run.eval_episodes = 0
        d = tempfile.mkdtemp()
        run = Trainer(cfg.validate(), Path(d) / "run").train()
        h = hashlib.sha256()
        ck = sorted((run / "checkpoints").glob("*"))[-1]
        for f in sorted(ck.rglob("*")):
            if f.is_file() and f.suffix in (".safetensors", ".pt"):
                h.update(f.read_bytes())
        with open(run / "metrics.csv") as f:
            rows = list(csv.DictReader(f))
        keep = {k: v for k, v in rows[-1].items()
                if not k.startswith("time/") and "per_second" not in k and "wall" not in k}
        h2 = hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:16]
        print(kind, envs, env, h.hexdigest()[:16], h2, keep.get("episode/return"))


if __name__ == "__main__":
    main()
