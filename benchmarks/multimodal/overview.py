"""One table of every multimodal study: each (task, method, policy) with the issue's bar.

    python benchmarks/multimodal/overview.py        # -> OVERVIEW.md

Reads the ``results*.json`` that ``summarize.py`` wrote for each grid (500 stochastic
episodes per finished run; the fine-tuning study, finetune.json, asks another question). Columns
as in the RESULTS files: *every mode >= 15%* counts the seeds where each mode gets >= 15% of
the episodes; *... and >= 80% succeed* also asks that the policy lands on a mode (a diffuse
policy passes the first on the bandit).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
# study (results file suffix) -> what it changed, in README order
STUDIES = {
    "": "PPO defaults, entropy bonus 0.01 (grid.toml, fork.toml)",
    "_maxent": "tanh actions, entropy bonus 0.05 (maxent.toml)",
    "_maxent_kl": "... with a per-minibatch KL stop (maxent_kl.toml)",
    "_maxent4": "tanh, entropy bonus 0.05 (maxent4.toml)",
    "_fork_maxent": "tanh, entropy bonus 0.05, no KL stop (fork_maxent.toml)",
    "_mixture4": "entropy 0.15 -> 0.02, mixture-base arms (mixture4.toml)",
    "_outcome4": "mixture base, outcome-entropy bonus (outcome4.toml)",
    "_awr4": "AWR + soft rewards + outcome bonus (awr4.toml)",
    "_awr_multigoal": "AWR + soft rewards + outcome bonus 2 (awr_multigoal.toml)",
    "_hold": "mixture component held per episode, 8 lumps (hold.toml)",
    "_hold_k": "... with 16 lumps, or 8 at radius 0.6 (hold_k.toml)",
    "_sphere4": "entropy 0.15 -> 0.02, mixture lumps spread at the start (sphere4.toml)",
    "_hold_gauss": "the plain Gaussian at the held-lump settings (hold_gauss.toml)",
    "_fork_hold": "mixture component held per episode, 16 lumps (fork_hold.toml)",
    "_hold_anneal": "16 held lumps / plain Gaussian, entropy 0.05 -> 0 (hold_anneal.toml)",
    "_hold_anneal2x": "... the same at twice the budget, 295k steps (hold_anneal2x.toml)",
    "_hold_std": "... and the lumps' std learned (hold_std.toml)",
    "_fork_lumps": "16 held lumps, niching over lumps, --lump-balance 1 (fork_lumps.toml)",
    "_multigoal_groups": "a mixture of 4 flows, held, V(s) or V(s, g), entropy 0.05 -> 0, "
                         "next to hold_anneal's arms (multigoal_groups.toml)",
    "_fork_groups": "a mixture of 4 flows, held, V(s, g), 307k steps (fork_groups.toml)",
    "_multigoal_groups_gauss": "control: a mixture of 4 Gaussian policies, held, V(s, g), "
                               "entropy 0.05 -> 0 (multigoal_groups_gauss.toml)",
    "_fork_groups_anneal": "a mixture of 4 flows, held, V(s, g), entropy 0.05 -> 0, 307k "
                           "steps (fork_groups_anneal.toml)",
    "_fork_groups_gauss": "control: a mixture of 4 Gaussian policies, held, V(s, g), entropy "
                          "0.05 -> 0 (fork_groups_gauss.toml)",
    "_sphere4_gauss": "control: a mixture of 16 Gaussian policies on sphere4's lumps "
                      "(sphere4_gauss.toml)",
    "_fork_groups_weights": "a mixture of 4 flows, held, V(s, g), entropy 0.05 -> 0, group "
                            "weights following returns: from half-way at T 0.25 (-weights), "
                            "from 2/3 at T 0.5 (-late) (fork_groups_weights*.toml)",
    "_multigoal_groups_weights": "a mixture of 4 flows, held, V(s, g), entropy 0.05 -> 0, "
                                 "group weights following returns from 2/3 at T 0.5 "
                                 "(multigoal_groups_weights.toml)",
    "_fork_groups_shared": "a mixture of 4 flows sharing one coupling stack (group one-hot "
                           "in the context), held, V(s, g), entropy 0.05 -> 0; fixed weights "
                           "or weights from 2/3 at T 0.5 (fork_groups_shared.toml)",
    "_fork_groups_encoder": "a mixture of 4 flows with a shared observation encoder (64), "
                            "held, V(s, g), entropy 0.05 -> 0, weights from 2/3 at T 0.5 "
                            "(fork_groups_encoder.toml)",
    "_fork_groups_weights_2x": "a mixture of 4 flows, held, V(s, g), weights from 2/3 at T 0.5, "
                               "and the Gaussian, entropy 0.05 -> 0, at twice the budget, 614k "
                               "steps (fork_groups_weights_2x.toml)",
    "_fork_groups_restart": "a mixture of 4 flows, held, V(s, g), entropy 0.05 -> 0, weights "
                            "from 2/3 at T 0.5, a group 0.75 sigma behind restarts as a copy "
                            "of its nearest good group (fork_groups_restart.toml)",
    "_fork_groups_merge": "... and good groups within 0.6 (mean normalized obs and action) "
                          "merge (fork_groups_merge.toml)",
    "_fork_groups_merge_early": "... the same from 1/3 of training (fork_groups_merge_early"
                                ".toml)",
    "_fork_groups_merge_half": "... the same from 1/2 of training (fork_groups_merge_half"
                               ".toml)",
    "_fork_groups_radius": "... from 1/2, restarts only from a group within 1.0 "
                           "(fork_groups_radius.toml)",
    "_fork_groups_mutual": "restarts + merges from 2/3, restarts only between mutual nearest "
                           "groups (fork_groups_mutual.toml)",
    "_fork_groups_merge_2x": "restarts + merges from 2/3 at twice the budget, 614k "
                             "(fork_groups_merge_2x.toml)",
    "_fork_gauss_half": "the Gaussian, entropy 0.05 -> 0, at half the budget, 154k steps "
                        "(fork_gauss_half.toml)",
    "_fork_groups_cross": "restarts + merges from 2/3, every group also learning from the "
                          "other groups' steps (--group-cross-coef 1, fork_groups_cross.toml)",
    "_fork_flow_anneal": "one plain flow, entropy 0.05 -> 0 (fork_flow_anneal.toml)",
    "_fork_groups_cross_merge": "merges from 2/3 and cross-group learning, no restarts "
                                "(fork_groups_cross_merge.toml, seeds 1-2)",
    "_fork_groups_merge_ratio": "restarts + merges from 2/3, the entropy bonus's ratio estimate "
                                "of the held groups' densities (fork_groups_merge_ratio.toml)",
    "_fork_groups_merge_ratio_half": "the same from 1/2 (fork_groups_merge_ratio_half.toml)",
    "_fork_ratio_half_more": "the same from 1/2 and the annealed Gaussian, seeds 6-10 "
                             "(fork_ratio_half_more.toml)",
    "_preset_bandit4": "--preset multimodal (lumps of std 1.0 then) and a Gaussian with its "
                       "training flags (preset_bandit4.toml)",
    "_preset_bandit4_variants": "the preset with the marginal entropy estimate, or eight groups "
                                "(preset_bandit4_variants.toml)",
    "_preset_bandit4_std": "the preset with lumps of std 0.3 / 0.5 (preset_bandit4_std.toml)",
    "_preset_groups8": "the preset with eight groups on std-0.5 lumps (preset_groups8.toml)",
    "_preset_multigoal": "--preset multimodal at std 1.0 and 0.5, and a Gaussian with its "
                         "training flags (preset_multigoal.toml)",
    "_preset_multigoal8": "the preset with eight groups on std-0.5 lumps (preset_multigoal8.toml)",
    "_fork_preset_std05": "--preset multimodal (std-0.5 lumps), seeds 1-5 (fork_preset_std05.toml)",
    "_fork_preset8": "the preset with eight groups on std-0.5 lumps (fork_preset8.toml)",
    "_fork_preset_std05_more": "--preset multimodal, seeds 6-10 (fork_preset_std05_more.toml)",
    "_preset_bandit4_std07": "the preset with lumps of std 0.7 / 0.85 (preset_bandit4_std07.toml)",
    "_preset_multigoal_std07": "the preset with lumps of std 0.7 (preset_multigoal_std07.toml)",
    "_fork_preset_std07": "the preset with lumps of std 0.7, seeds 1-10 (fork_preset_std07.toml)",
    "_fork_preset_norestart": "the preset without restarts, seeds 1-10 "
                              "(fork_preset_norestart.toml)",
    "_preset_bandit4_norestart": "the preset without restarts (preset_bandit4_norestart.toml)",
    "_preset_multigoal_norestart": "the preset without restarts "
                                   "(preset_multigoal_norestart.toml)",
    "_fork_preset8_norestart": "the preset (no restarts) with eight groups, stopped after 4 "
                               "seeds (fork_preset8_norestart.toml)",
    "_preset_bandit4_wide": "the preset with lumps of std 1.0 at radius 2.0 / 2.4, and a "
                            "learned lump std (preset_bandit4_wide.toml)",
    "_preset_bandit4_ent": "the preset with the entropy bonus from 0.1 / 0.2 "
                           "(preset_bandit4_ent.toml; 0.1 is the preset since Session 25)",
    "_preset_multigoal_ent": "the preset with the entropy bonus from 0.1 / 0.2 "
                             "(preset_multigoal_ent.toml)",
    "_fork_preset_ent": "the preset with the entropy bonus from 0.1 / 0.2, seeds 1-5 "
                        "(fork_preset_ent.toml)",
    "_fork_preset_ent_more": "the preset with the entropy bonus from 0.1, seeds 6-10 "
                             "(fork_preset_ent_more.toml)",
    "_gauss_ent01_bandit4": "a Gaussian with the training flags of the preset at 0.1 "
                            "(gauss_ent01_bandit4.toml)",
    "_gauss_ent01_multigoal": "a Gaussian with the training flags of the preset at 0.1 "
                              "(gauss_ent01_multigoal.toml)",
    "_gauss_ent01": "a Gaussian with the training flags of the preset at 0.1, seeds 1-10 "
                    "(gauss_ent01.toml)",
    "_fork_preset_early": "the preset with weights and merges from 1/3 "
                          "(fork_preset_early.toml)",
    "_preset_multigoal8_norestart": "the preset (bonus 0.1, no restarts) with eight groups "
                                    "(preset_multigoal8_norestart.toml)",
    "_fork_preset8_ent": "the preset (bonus 0.1, no restarts) with eight groups, seeds 1-4 "
                         "(fork_preset8_ent.toml)",
    "_fork_merge_start": "the preset with merges from 1/4 (--flow-groups-merge-start 0.25), "
                         "seeds 1-5 (fork_merge_start.toml)",
    "_fork_learn_std": "the preset with the lumps' std learned, alone and with merges from "
                       "1/4, seeds 1-2 (fork_learn_std.toml, stopped for time)",
    "_fork_flow_lr": "the preset with the flows' learning rate at 0.5x (seeds 1-2) and 0.3x "
                     "(seed 1) (fork_flow_lr.toml, stopped for time)",
    "_fork_lr_const": "a constant learning rate: the preset and the same-flag Gaussian, "
                      "seeds 1-2 (fork_lr_const.toml)",
    "_fork_preset_4x": "four times the budget (1.23M steps): the preset and the same-flag "
                       "Gaussian, seeds 1-4 (fork_preset_4x.toml)",
    "_preset_bandit4_radius": "the preset with its lumps at radius 0.6 / 0.9 (1.2), seeds 1-5 "
                              "(preset_bandit4_radius.toml)",
    "_fork_groups2": "diagnostic: the preset with two groups on two lumps, seeds 1-3 "
                     "(fork_groups2.toml)",
    "_fork_radius": "the preset with its lumps at radius 0.6 / 0.9 (1.2), seeds 1-2 "
                    "(fork_radius.toml, stopped for time)",
    "_preset_multigoal_radius": "the preset with its lumps at radius 0.6 / 0.9 (1.2), seeds "
                                "1-5 (preset_multigoal_radius.toml)",
    "_fork_critic": "the preset without value clipping / with a 256x256 critic, seeds 1-3 "
                    "(fork_critic.toml)",
    "_fork_minibatch": "the preset with 4 / 2 minibatches (8), seeds 1-3 (fork_minibatch.toml)",
    "_fork_minibatch16": "16 minibatches: the preset and the same-flag Gaussian, seeds 1-3 "
                         "(fork_minibatch16.toml)",
    "_fork_scale_bound": "the preset with the coupling log-scale bound at 1.0 / 0.5 (2.0), "
                         "seeds 1-3 (fork_scale_bound.toml)",
    "_fork_preset_gauss": "control: the preset with a Gaussian per group (diagonal, one layer), "
                          "seeds 1-3 (fork_preset_gauss.toml)",
    "_fork_epochs": "20 epochs; a shared observation encoder (64); the same-flag Gaussian at "
                    "20 epochs, seeds 1-3 (fork_epochs.toml)",
}
# studies whose summary re-reads earlier grids for comparison: only their own arms are listed
OWN_ARMS = {"_multigoal_groups_gauss": {"gauss-groups4-cond"},
            "_fork_groups_anneal": {"flow-groups4-anneal", "gaussian-anneal"},
            "_fork_groups_gauss": {"gauss-groups4-anneal"}, "_sphere4_gauss": {"gmm16"},
            "_fork_groups_weights": {"flow-groups4-weights", "flow-groups4-weights-late"},
            "_multigoal_groups_weights": {"flow-groups4-weights"},
            "_fork_groups_shared": {"flow-groups4-shared", "flow-groups4-shared-weights"},
            "_fork_groups_encoder": {"flow-groups4-encoder-weights"},
            "_fork_groups_restart": {"flow-groups4-restart"},
            "_fork_groups_merge": {"flow-groups4-merge"},
            "_fork_groups_merge_early": {"flow-groups4-merge-early"},
            "_fork_groups_merge_half": {"flow-groups4-merge-half"},
            "_fork_groups_radius": {"flow-groups4-radius"},
            "_fork_groups_mutual": {"flow-groups4-mutual"},
            "_fork_groups_merge_2x": {"flow-groups4-merge-2x"},
            "_fork_gauss_half": {"gaussian-anneal-half"},
            "_fork_groups_cross": {"flow-groups4-cross"},
            "_fork_flow_anneal": {"flow-anneal"},
            "_fork_groups_cross_merge": {"flow-groups4-cross-merge"},
            "_fork_groups_merge_ratio": {"flow-groups4-merge-ratio"},
            "_fork_groups_merge_ratio_half": {"flow-groups4-merge-ratio-half"},
            "_fork_ratio_half_more": {"flow-groups4-merge-ratio-half", "gaussian-anneal"},
            "_preset_bandit4_variants": {"reparam", "groups8"},
            "_preset_bandit4_std": {"std03", "std05"}, "_preset_groups8": {"groups8-std05"},
            "_preset_multigoal8": {"groups8-std05"}, "_fork_preset_std05": {"std05"},
            "_fork_preset8": {"groups8-std05"}, "_fork_preset_std05_more": {"std05"}}


def task_name(row: dict) -> str:
    name = row["task"].split("/")[-1].removesuffix("-v0")
    k = len(row["mode_fractions"])
    return f"{name} ({k} peaks)" if name == "BimodalBandit" else name


def rows_of(suffix: str) -> list[dict]:
    rows = json.loads((HERE / f"results{suffix}.json").read_text())
    own = OWN_ARMS.get(suffix)
    return [r for r in rows if own is None or r["policy"] in own]


def table() -> str:
    groups: dict[str, list[tuple[str, str, list[dict]]]] = {}
    for suffix, method in STUDIES.items():
        runs = rows_of(suffix)
        for key in sorted({(task_name(r), r["policy"]) for r in runs}):
            sel = [r for r in runs if (task_name(r), r["policy"]) == key]
            groups.setdefault(key[0], []).append((method, key[1], sel))
    out = ["| task | method (grid) | arm | seeds | return | success | every mode >= 15% | "
           "... and >= 80% succeed | results |", "|---|---|---|---|---|---|---|---|---|"]
    order = ["BimodalBandit (2 peaks)", "BimodalBandit (4 peaks)", "MultiGoal", "ForkReach"]
    for task in sorted(groups, key=order.index):
        for method, arm, sel in groups[task]:
            suffix = next(s for s, m in STUDIES.items() if m == method)
            ret = np.array([r["return"] for r in sel])
            n = len(sel)
            out.append(
                f"| {task} | {method} | {arm} | {n} | {ret.mean():.2f} ± {ret.std():.2f} | "
                f"{np.mean([r['success'] for r in sel]):.2f} | "
                f"{sum(r['all_modes_15pct'] for r in sel)}/{n} | "
                f"{sum(r['multimodal'] for r in sel)}/{n} | "
                f"[RESULTS{suffix}.md](RESULTS{suffix}.md) |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "OVERVIEW.md")
    a = ap.parse_args(argv)
    text = ("# Multimodal studies at a glance\n\nGenerated by `python benchmarks/multimodal/"
            "overview.py` from the results files of each grid (500 stochastic episodes per "
            "finished run; machine and date in each RESULTS file). The issue's bar (#20): "
            "every mode >= 15% in >= 80% of seeds, the Gaussian ~0%. Findings, figures and "
            "single-seed probes are in [README.md](README.md).\n\n" + table() + "\n")
    a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
