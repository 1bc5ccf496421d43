"""The trained artefact: observation normalizer + actor + critic, built from a config, saved to
and loaded from checkpoints. Shared by the runner, evaluation and (later) export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from nfpo.checkpoint import load_checkpoint, load_module
from nfpo.config import TrainConfig
from nfpo.envs import import_env_modules
from nfpo.errors import CheckpointError, ConfigError
from nfpo.normalization import RunningNorm
from nfpo.policies import make_critic, make_policy
from nfpo.run_dir import RunDir


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda[:N]`` or ``auto`` (cuda when available) -> a usable torch device."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"invalid device={name!r}: torch {torch.__version__} sees no CUDA "
                          "device here; use --device cpu (or auto)")
    return torch.device(name)


class Agent(nn.Module):
    """``obs_norm`` (identity statistics if disabled), ``policy``, ``critic``; with an
    asymmetric critic (``critic_obs_dim`` > 0: it reads its own, e.g. privileged, observation)
    also ``critic_norm``. With ``flow_base_mixture_condition`` the critic also reads the one-hot
    of the held mixture component, or of its group for a mixture of flows (``critic_input``;
    ``critic_components`` = M or G, else 0). Only
    ``obs_norm`` and ``policy`` are exported to the robot."""

    def __init__(self, cfg: TrainConfig, obs_dim: int, act_dim: int,
                 critic_obs_dim: int = 0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.critic_obs_dim = obs_dim, act_dim, critic_obs_dim
        self.normalize_obs = cfg.env.normalize_obs
        self.obs_norm = RunningNorm(obs_dim, clip=cfg.env.clip_obs)
        self.policy = make_policy(cfg.policy, obs_dim, act_dim)
        if cfg.policy.policy_float64:
            self.policy.double()
        self.critic_components = self.policy.critic_conditions() \
            if getattr(self.policy, "condition_on_component", False) else 0
        self.critic = make_critic(cfg.policy, (critic_obs_dim or obs_dim) + self.critic_components)
        self.parts = ("obs_norm", "policy", "critic")
        if critic_obs_dim:
            self.critic_norm = RunningNorm(critic_obs_dim, clip=cfg.env.clip_obs)
            self.parts += ("critic_norm",)

    def norm(self, obs: Tensor) -> Tensor:
        """Normalized observation the networks see (raw if normalization is disabled)."""
        return self.obs_norm(obs) if self.normalize_obs else obs

    def norm_critic(self, critic_obs: Tensor, x: Tensor) -> Tensor:
        """What the critic reads: its own normalized observation if asymmetric, else ``x``
        (the actor's normalized observation)."""
        if not self.critic_obs_dim:
            return x
        return self.critic_norm(critic_obs) if self.normalize_obs else critic_obs

    @property
    def stored_critic_dim(self) -> int:
        """Width of the critic input a rollout stores: 0 when the critic reads the actor's
        input as is (``RolloutStorage``'s ``critic_obs_dim``)."""
        if not (self.critic_obs_dim or self.critic_components):
            return 0
        return (self.critic_obs_dim or self.obs_dim) + self.critic_components

    def critic_input(self, xc: Tensor, component: Tensor | None) -> Tensor:
        """What the critic reads: ``xc`` ``[B, C]``, with the one-hot ``[B, M]`` of the held
        ``component`` ``[B]`` appended when the critic conditions on it."""
        if not self.critic_components:
            return xc
        index = self.policy.critic_condition(component.to(xc.device))
        onehot = nn.functional.one_hot(index, self.critic_components)
        return torch.cat([xc, onehot.to(xc.dtype)], 1)

    def held_value(self, value_obs: Tensor, component: Tensor) -> Tensor:
        """V(s, component's group) ``[B]`` for stored critic inputs ``value_obs``
        ``[B, C + G]`` (a critic that reads the held group): their one-hot columns replaced
        through ``critic_input`` by those of the held ``component`` ``[B]``."""
        return self.critic(self.critic_input(value_obs[:, :-self.critic_components], component))

    def group_parts(self, dst: int, src: int) -> list[tuple[Tensor, Any, Tensor, Any]]:
        """The policy's ``group_parts`` (a mixture of flows: what makes group ``dst`` a copy
        of ``src``) and, when the critic reads the group, its first layer's input column of
        group src into dst's: V(s, dst) = V(s, src) after the copy."""
        parts = self.policy.group_parts(dst, src)
        if self.critic_components:
            w = self.critic.net[0].weight  # [H, C + G]: the one-hot columns last
            c = w.shape[1] - self.critic_components
            parts.append((w, (slice(None), c + dst), w, (slice(None), c + src)))
        return parts

    def norm_numpy(self, obs: np.ndarray, critic_obs: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """``norm`` and ``norm_critic`` of float32 numpy observations, in numpy (the trainer's
        per-step path on the CPU; bit-identical to the torch modules)."""
        x = self.obs_norm.normalize_numpy(obs) if self.normalize_obs else obs
        if not self.critic_obs_dim:
            return x, x
        return x, (self.critic_norm.normalize_numpy(critic_obs) if self.normalize_obs
                   else critic_obs)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False, z: Tensor | None = None,
            component: Tensor | None = None) -> Tensor:
        """Env-facing action in [-1, 1]^D for raw observations ``[B, O]`` (``z``: the
        standard-normal base noise of a stochastic action, default fresh draws; ``component``:
        the mixture components to draw from, ``nfpo.policies.noise``)."""
        x = self.norm(obs)
        if deterministic:
            return self.policy.deterministic(x)
        u, _ = self.policy.sample(x, z, component)
        return self.policy.to_action(u)

    def tensors(self) -> dict[str, Tensor]:
        out = {}
        for prefix in self.parts:
            for k, v in getattr(self, prefix).state_dict().items():
                out[f"{prefix}.{k}"] = v
        return out

    def load_tensors(self, tensors: dict[str, Tensor]) -> None:
        for prefix in self.parts:
            load_module(getattr(self, prefix), tensors, prefix)

    def freeze(self, prefixes: tuple[str, ...]) -> None:
        """Hold the parameters whose names (``policy.flow.layers.0.net.0.weight``, ...) start
        with any of ``prefixes`` fixed (``requires_grad`` off: no gradient, no Adam step)."""
        names = [n for n, _ in self.named_parameters()]
        for prefix in prefixes:
            if not any(n.startswith(prefix) for n in names):
                groups = sorted({".".join(n.split(".")[:2]) for n in names})
                raise ConfigError(f"invalid freeze prefix {prefix!r}: it names no parameter; "
                                  f"parameter groups: {', '.join(groups)}")
        for n, p in self.named_parameters():
            if any(n.startswith(prefix) for prefix in prefixes):
                p.requires_grad_(False)

    def init_from(self, path: Path | str) -> None:
        """Load the weights of a run dir's newest checkpoint (or of a checkpoint dir) into this
        agent: the ``--init-from`` of fine-tuning. A ConfigError names the path and the
        problem (no checkpoint, another architecture). A mixture base pretrained with fixed
        (uniform) weights may be fine-tuned with learned ones: the missing logits start at 0,
        the same uniform weights."""
        try:
            tensors, _ = load_checkpoint(Path(path))
            key = "policy.base_dist.logits"
            own = dict(self.policy.named_parameters(prefix="policy"))
            if key in own and key not in tensors and "policy.base_dist.means" in tensors:
                tensors = {**tensors, key: own[key].detach().clone()}
            self.load_tensors(tensors)
        except CheckpointError as e:
            raise ConfigError(f"invalid init_from={str(path)!r}: {e}") from e


def load_run(run_dir: Path | str, checkpoint: int | str | None = None
             ) -> tuple[TrainConfig, Agent, dict[str, Any]]:
    """Rebuild the agent of a run dir from its validated ``config.json`` and a checkpoint
    (``checkpoint``: None/``latest`` = the newest intact one, ``best``, or a step; see
    ``nfpo.checkpoint.load_checkpoint``).

    Returns (config, agent, checkpoint state incl. ``tensors``)."""
    cfg, spec = RunDir(run_dir).read_config()
    import_env_modules(cfg.env.env_import)  # custom envs the run was trained on
    tensors, state = load_checkpoint(Path(run_dir), checkpoint)
    agent = Agent(cfg, spec["obs_dim"], spec["act_dim"], spec["critic_obs_dim"])
    agent.load_tensors(tensors)
    agent.eval()
    return cfg, agent, {"tensors": tensors, **state}
