"""Running statistics for observation normalization and reward scaling.

Observation normalization is a torch module so that it is saved in checkpoints and exported
with the actor. Reward scaling (CleanRL / gymnasium ``NormalizeReward``) divides rewards by the
running standard deviation of the discounted return; it lives only in the trainer.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def merge_moments(mean, var, count, b_mean, b_var, b_count):  # noqa: ANN001, ANN201
    """Merge running (mean, var, count) with a batch's (Chan et al. parallel formula). Works
    on floats and tensors alike; returns the new (mean, var, count)."""
    delta = b_mean - mean
    total = count + b_count
    m2 = var * count + b_var * b_count + delta * delta * count * b_count / total
    return mean + delta * b_count / total, m2 / total, total


class RunningNorm(nn.Module):
    """y = clip((x - mean) / sqrt(var + eps), -clip, clip) with running mean/var over a batch axis.

    Statistics are merged with the parallel (Chan et al.) formula in float64. ``x: [B, D]``.
    """

    def __init__(self, dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def update(self, x: Tensor | np.ndarray) -> None:
        """Merge a batch ``[B, D]`` into the statistics (float64). A numpy batch (the trainer's
        per-step path on the CPU) is reduced in numpy and written into the buffers through
        numpy views (no torch call per step); the merged statistics agree with the torch path
        to float64 round-off."""
        if not (isinstance(x, np.ndarray) and self.mean.device.type == "cpu"):
            self._update_torch(torch.as_tensor(x))
            return
        x = x.astype(np.float64).reshape(-1, self.mean.numel())
        n = x.shape[0]
        if n == 1:  # the reductions below, done exactly: a sum over one row is that row
            b_mean = x[0]
            d = x[0] - b_mean
            b_var = d * d
        else:
            b_mean = np.add.reduce(x, 0) / n  # np.mean / np.var's own arithmetic, without
            d = x - b_mean                    # their Python-level argument handling
            b_var = np.add.reduce(d * d, 0) / n
        mean, var, count = self.mean.numpy(), self.var.numpy(), self.count.numpy()  # views
        new_mean, new_var, total = merge_moments(mean, var, float(count), b_mean, b_var, n)
        mean[:], var[:], count[()] = new_mean, new_var, total

    @torch.no_grad()
    def _update_torch(self, x: Tensor) -> None:
        x = x.to(self.mean.device, torch.float64).reshape(-1, self.mean.numel())
        b_mean, b_var, b_count = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        mean, var, count = merge_moments(self.mean, self.var, self.count, b_mean, b_var, b_count)
        self.mean.copy_(mean)
        self.var.copy_(var)
        self.count.copy_(count)

    def normalize_numpy(self, x: np.ndarray) -> np.ndarray:
        """``forward`` in numpy float32 for a float32 batch: the same IEEE operations in the
        same order (subtract, divide by sqrt(var + eps), clip), hence bit-identical."""
        mean = self.mean.cpu().numpy().astype(np.float32)
        std = np.sqrt(self.var.cpu().numpy().astype(np.float32) + np.float32(self.eps))
        # min(max(.)): np.clip's result (NaN included) without its Python-level wrapper
        return np.minimum(np.maximum((x - mean) / std, np.float32(-self.clip)),
                          np.float32(self.clip))

    def forward(self, x: Tensor) -> Tensor:
        mean = self.mean.to(x.dtype)
        std = torch.sqrt(self.var.to(x.dtype) + self.eps)
        return torch.clamp((x - mean) / std, -self.clip, self.clip)


class RewardScaler:
    """r / sqrt(Var[G] + eps), clipped; G_t = gamma * G_{t-1} + r_t per env, reset on done."""

    def __init__(self, num_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.gamma, self.clip, self.eps = gamma, clip, eps
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + reward
        self._update(self.returns)
        self.returns[done] = 0.0
        return np.minimum(np.maximum(reward / np.sqrt(self.var + self.eps), -self.clip),
                          self.clip)  # np.clip's result without its Python-level wrapper

    def _update(self, x: np.ndarray) -> None:
        n = x.size  # x.mean() and x.var()'s own arithmetic, without their Python overhead
        m = np.add.reduce(x) / n
        d = x - m
        b_mean, b_var, b_count = float(m), float(np.add.reduce(d * d) / n), n
        self.mean, self.var, self.count = merge_moments(self.mean, self.var, self.count,
                                                        b_mean, b_var, b_count)

    def state_dict(self) -> dict:
        return {"returns": self.returns.tolist(), "mean": self.mean, "var": self.var,
                "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.returns = np.asarray(state["returns"], dtype=np.float64)
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]
