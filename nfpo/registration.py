"""nfpo's own gymnasium tasks, registered as ``nfpo/<Name>`` when ``nfpo`` is imported.

Entry points are strings, so registering imports only gymnasium (and nothing when it is not
installed, e.g. on a robot that runs ``nfpo.deploy``); each task's module is imported when the
task is made. ``gym.register_envs(nfpo)`` (the gymnasium 1.x idiom) works as well.
"""

from __future__ import annotations

# id, entry point, max_episode_steps
TASKS: tuple[tuple[str, str, int], ...] = (
    ("nfpo/PointReach-v0", "nfpo.envs.toy:PointReach", 30),
    ("nfpo/BimodalBandit-v0", "nfpo.envs.multimodal:BimodalBandit", 1),
    ("nfpo/MultiGoal-v0", "nfpo.envs.multimodal:MultiGoal", 30),
    ("nfpo/ForkReach-v0", "nfpo.envs.fork_reach:ForkReach", 100),
)


def register_envs() -> None:
    """Register every ``nfpo/`` task with gymnasium (idempotent; a no-op without gymnasium)."""
    try:
        import gymnasium as gym
    except ImportError:  # pragma: no cover - deploy-only installs
        return
    for env_id, entry_point, steps in TASKS:
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point, max_episode_steps=steps)
