"""Named flag bundles for ``nfpo train --preset NAME`` and ``nfpo bench`` arms."""

from __future__ import annotations

from nfpo.errors import ConfigError

# Named flag bundles for ``nfpo train --preset NAME``: expanded in place, so flags after it
# override them, and the run's config.json records the resolved values.
PRESETS: dict[str, str] = {
    # Legged-robot PPO after rsl_rl / Isaac Lab's Go1 config (24-step rollouts per env, 5
    # epochs x 4 minibatches, grad clip 1, ELU 128x128x128 networks) on an EnvPool MuJoCo
    # Playground Go1 with an asymmetric critic, sized for a CPU: 64 envs (~3.7 GB). Two
    # deviations, both measured (benchmarks/legged/README.md): rsl_rl's per-minibatch
    # KL-adaptive LR collapses to its 1e-5 floor on CPU-sized batches (1,536 samples here vs
    # rsl_rl's 98,304) for both policies, so the LR is a constant 3e-4; and rsl_rl's entropy
    # bonus 0.01 blows the flow's entropy up from 17 to 65 nats (the Gaussian's did as well
    # without it), so there is none. A third, for the flow only: its learning rate is 0.3x
    # (--flow-lr-scale). At the full rate the flow's entropy fell to -13 nats by 1.4M steps,
    # one minibatch step then moved its KL past the 0.1 stop, every update ended after that
    # one step, and the episodes shrank from ~590 to ~170 steps; at 0.3x it kept 12 of 20
    # minibatch steps and ~930-step episodes at 2M (seed 1).
    "legged": "--backend envpool --env Go1JoystickFlatTerrain-v1 --critic-obs-key "
              "privileged_state --num-envs 64 --num-steps 24 --num-epochs 5 "
              "--num-minibatches 4 --learning-rate 3e-4 --lr-schedule constant "
              "--ent-coef 0 --max-grad-norm 1.0 --activation elu "
              "--actor-hidden 128 128 128 --critic-hidden 128 128 128 --flow-hidden 128 128 "
              "--flow-lr-scale 0.3",
    # Several good actions per state (docs/multimodal.md, issue #20): a mixture of four flows,
    # each started on its own lump of a sphere-spread base, one group held per episode and
    # judged by its own value V(s, g) and its own density (the ratio entropy estimate); the
    # groups' weights follow their returns from half of training on (T = 0.5), and groups
    # that went the same way merge (within 0.6). tanh actions, entropy bonus annealed 0.1 ->
    # 0 (0.05 until Session 25: MultiGoal 7.27 -> 7.36, ForkReach success 0.986 -> 0.992,
    # bandit 5/5 either way). Lumps of std 0.5 at radius 1.2: std 1.0 let two groups climb
    # one of the 4-peak bandit's peaks in 3/5 seeds (std 0.5: 5/5; std 1.0 at radius 2.0 or
    # 2.4: 1/5, 0/5). No restarts: with them (0.75 sigma) two of ForkReach's ten seeds lost a
    # side, each to a restart that copied the side's only group from the other side (8/10;
    # without: 10/10, same success and return; the bandit 5/5 and MultiGoal 4/5 either way).
    # Fine-tuning to one mode wants them: add --flow-groups-start 0 --flow-groups-restart
    # 0.75 (benchmarks/multimodal/README.md, Sessions 23-25).
    "multimodal": "--policy flow --action-bound tanh --ent-coef 0.1 --ent-coef-final 0 "
                  "--flow-base-mixture 4 --flow-base-mixture-std 0.5 "
                  "--flow-base-mixture-init sphere --flow-base-mixture-hold --flow-groups 4 "
                  "--flow-base-mixture-condition --flow-groups-temperature 0.5 "
                  "--flow-groups-start 0.5 --flow-groups-merge 0.6 "
                  "--entropy-estimate ratio",
}


def expand_presets(argv: list[str]) -> list[str]:
    """Replace each ``--preset NAME`` (or ``--preset=NAME``) in ``argv`` by its flags."""
    import shlex

    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--preset" or a.startswith("--preset="):
            name = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if "=" in a else 2
            if name not in PRESETS:
                raise ConfigError(f"invalid preset={name!r}: expected one of "
                                  f"{', '.join(PRESETS)}")
            out += shlex.split(PRESETS[name])
        else:
            out.append(a)
            i += 1
    return out
