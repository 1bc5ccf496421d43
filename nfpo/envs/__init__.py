"""Environment creation. Knows nothing about policies. ``import nfpo`` registers the ``nfpo/``
tasks (``nfpo.registration``)."""

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("MUJOCO_GL", "egl")  # headless offscreen rendering (nfpo.video)

from nfpo.envs.make import (
    EnvSpec,
    env_spec,
    import_env_modules,
    make_env,
    make_vec_env,
    random_action_rate,
    reset_some,
)
from nfpo.envs.multimodal import mode_coverage
from nfpo.envs.perturb import PerturbConfig, parse_perturb
from nfpo.registration import register_envs

register_envs()

__all__ = ["EnvSpec", "PerturbConfig", "env_spec", "import_env_modules", "make_env",
           "make_vec_env", "mode_coverage", "parse_perturb", "random_action_rate", "reset_some"]
