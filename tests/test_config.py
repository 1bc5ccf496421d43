"""Config validation messages and serialization."""

import pytest

from nfpo.config import TrainConfig
from nfpo.errors import ConfigError


@pytest.mark.parametrize("section,field,value,needle", [
    ("env", "num_envs", 0, "num_envs=0"),
    ("env", "env_kwargs", "[1]", "JSON object"),
    ("policy", "kind", "banana", "gaussian, flow, flow-naive"),
    ("policy", "action_bound", "sigmoid", "clip, tanh"),
    ("policy", "flow_layers", 0, "flow_layers=0"),
    ("policy", "log_scale_bound", -1.0, "log_scale_bound=-1.0"),
    ("policy", "flow_groups", 3, "flow_groups=3"),  # no mixture base to split
    ("ppo", "num_minibatches", 10_000, "num_minibatches=10000"),
    ("ppo", "gamma", 1.5, "gamma=1.5"),
    ("ppo", "lr_schedule", "cosine", "linear, constant, adaptive"),
    ("run", "total_steps", 0, "total_steps=0"),
])
def test_validation_names_value_and_choices(section, field, value, needle):
    cfg = TrainConfig()
    setattr(getattr(cfg, section), field, value)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[")):
        cfg.validate()


def test_round_trip():
    cfg = TrainConfig()
    cfg.policy.flow_hidden = (32, 16)
    cfg.ppo.target_kl = 0.02
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_unknown_keys_rejected():
    d = TrainConfig().to_dict()
    d["ppo"]["lr"] = 1.0
    with pytest.raises(ConfigError, match="lr"):
        TrainConfig.from_dict(d)


def test_presets_expand_in_place_and_later_flags_override():
    from nfpo.presets import PRESETS, expand_presets

    argv = expand_presets(["train", "--preset", "legged", "--num-envs", "8"])
    assert argv[0] == "train" and "--preset" not in argv
    assert argv[1:-2] == PRESETS["legged"].split()
    from nfpo.bench.spec import Job, job_config

    cfg = job_config(Job("Go1JoystickFlatTerrain-v1", "a", 1, 100,
                         ("--preset=legged", "--num-envs", "8", "--policy", "gaussian")))
    assert cfg["env"]["num_envs"] == 8 and cfg["env"]["backend"] == "envpool"
    assert cfg["env"]["critic_obs_key"] == "privileged_state" and cfg["ppo"]["num_epochs"] == 5
    with pytest.raises(ConfigError, match="invalid preset='fast': expected one of legged"):
        expand_presets(["--preset", "fast"])


def test_multimodal_preset_resolves_to_the_held_mixture_of_flows():
    from nfpo.bench.spec import Job, job_config

    cfg = job_config(Job("nfpo/MultiGoal-v0", "a", 1, 100, ("--preset", "multimodal")))
    pol = cfg["policy"]
    assert pol["kind"] == "flow" and pol["flow_groups"] == 4
    assert pol["flow_base_mixture"] == 4 and pol["flow_base_mixture_hold"]
    assert cfg["ppo"]["entropy_estimate"] == "ratio"
    # bonus 0.1 -> 0: MultiGoal 7.36 and ForkReach success 0.992 (0.05: 7.27, 0.986; Session 25)
    assert cfg["ppo"]["ent_coef"] == 0.1 and cfg["ppo"]["ent_coef_final"] == 0.0
    # merges, no restarts: restarts cost ForkReach a side in 2/10 seeds (Session 24)
    assert pol["flow_groups_merge"] == 0.6 and pol["flow_groups_restart"] == 0.0
