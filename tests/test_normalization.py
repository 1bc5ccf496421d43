import numpy as np
import torch

from nfpo.normalization import RewardScaler, RunningNorm


def test_running_norm_matches_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    norm = RunningNorm(4)
    for chunk in np.split(data, 10):
        norm.update(torch.tensor(chunk))
    assert np.allclose(norm.mean.numpy(), data.mean(0), atol=1e-3)
    assert np.allclose(norm.var.numpy(), data.var(0), rtol=1e-3)
    y = norm(torch.tensor(data, dtype=torch.float32))
    assert abs(y.mean().item()) < 1e-2 and abs(y.std().item() - 1) < 1e-2


def test_reward_scaler_resets_on_done_and_clips():
    rs = RewardScaler(2, gamma=0.9, clip=5.0)
    out = rs(np.array([1.0, 1e6]), np.array([True, False]))
    assert rs.returns[0] == 0.0 and rs.returns[1] > 0
    assert np.abs(out).max() <= 5.0
