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


def test_numpy_path_matches_the_torch_module():
    """The trainer's per-step numpy path (update from a numpy batch, normalize_numpy) agrees
    with the torch module: statistics to float64 round-off, the normalized observation bit for
    bit given the same statistics (clipped entries and NaN included)."""
    rng = np.random.default_rng(1)
    a, b = RunningNorm(5, clip=3.0), RunningNorm(5, clip=3.0)
    for _ in range(200):
        x = rng.normal(rng.normal(size=5) * 4, 3.0, size=(4, 5)).astype(np.float32)
        a.update(torch.from_numpy(x))
        b.update(x)
    for name in ("mean", "var", "count"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-12, atol=0)
    x = rng.normal(0, 20.0, size=(64, 5)).astype(np.float32)  # many entries clip at +-3
    x[0, 0] = np.nan
    want = b(torch.from_numpy(x)).numpy()
    got = b.normalize_numpy(x)
    assert got.dtype == np.float32 and (np.abs(got[1:]) == 3.0).any()
    np.testing.assert_array_equal(got, want)  # bit-identical, NaN in the same place
