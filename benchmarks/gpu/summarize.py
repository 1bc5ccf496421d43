"""Markdown tables from benchmarks/gpu/results_*.json (written by run.py on the GPU machine).

    python benchmarks/gpu/summarize.py > benchmarks/gpu/table.md
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    eager = json.loads((HERE / "results_eager.json").read_text())
    comp = json.loads((HERE / "results_compiled.json").read_text())
    print(f"{eager['device']}, torch {eager['torch']}, {eager['date']}; medians of 20 "
          "CUDA-synchronized calls. Eager and compiled rows come from one call on one machine.\n")
    print("| task | minibatch | mode | Gaussian sample (4096 envs) ms | flow sample ms | "
          "flow / Gaussian | Gaussian update ms | flow update ms | flow / Gaussian |")
    print("|---|---|---|---|---|---|---|---|---|")
    for res, mode in ((eager, "eager"), (comp, "torch.compile")):
        for r in res["cost"]:
            print(f"| {r['task']} | {r['minibatch']} | {mode} | {1e3 * r['gaussian_sample_s']:.2f} "
                  f"| {1e3 * r['flow_sample_s']:.2f} | {r['flow_over_gaussian_sample']:.1f} | "
                  f"{1e3 * r['gaussian_update_s']:.2f} | {1e3 * r['flow_update_s']:.2f} | "
                  f"{r['flow_over_gaussian_update']:.1f} |")
    print("\nMax |log-ratio| when just-sampled actions are re-scored at identical parameters "
          "(98,304 samples, float32):\n")
    print("| task | policy | weight noise | TF32 off (default) | TF32 on |")
    print("|---|---|---|---|---|")
    rows = {}
    for r in eager["ratio_error"]:
        rows.setdefault((r["task"], r["policy"], r["weight_noise"]), {})[r["tf32"]] = \
            r["max_abs_log_ratio"]
    for (task, pol, noise), v in rows.items():
        print(f"| {task} | {pol} | {noise} | {v[False]:.3g} | {v[True]:.3g} |")


if __name__ == "__main__":
    main()
