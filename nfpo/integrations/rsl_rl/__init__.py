"""nfpo flow policies inside rsl_rl (rsl-rl-lib >= 5.0.1: Isaac Lab, mjlab).

- ``FlowDistribution``: the actor's output distribution, selected by config alone
  (``"distribution_cfg": {"class_name": "nfpo.integrations.rsl_rl:FlowDistribution", ...}``).
- ``NFPOPPO``: rsl_rl's PPO with nfpo's KL stop (``"algorithm": {"class_name":
  "nfpo.integrations.rsl_rl:NFPOPPO", ...}``).
- ``NfpoVecEnv``: nfpo's gymnasium / EnvPool tasks as an rsl_rl ``VecEnv``.
- ``train_cfg``: a complete ``OnPolicyRunner`` config using both.
"""

from __future__ import annotations

from nfpo.integrations._versions import require

RSL_RL_VERSION = require("rsl-rl-lib", "5.0.1", "nfpo.integrations.rsl_rl")

from nfpo.integrations.rsl_rl.config import train_cfg  # noqa: E402
from nfpo.integrations.rsl_rl.distribution import FlowDistribution  # noqa: E402
from nfpo.integrations.rsl_rl.env import NfpoVecEnv  # noqa: E402
from nfpo.integrations.rsl_rl.ppo import NFPOPPO  # noqa: E402

__all__ = ["FlowDistribution", "NFPOPPO", "NfpoVecEnv", "RSL_RL_VERSION", "train_cfg"]
