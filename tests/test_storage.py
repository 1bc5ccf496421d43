"""GAE against a plain per-episode reference, including termination and truncation."""

import numpy as np
import torch

from nfpo.storage import RolloutStorage, _gae_torch, compute_gae


def reference_gae(rewards, values, dones, last_value, gamma, lam):
    """Per env, per time step: A_t = sum_l (gamma lam)^l delta_{t+l} until the episode ends."""
    T, N = rewards.shape
    adv = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            total, discount = 0.0, 1.0
            for k in range(t, T):
                if dones[k, n]:
                    delta = rewards[k, n] - values[k, n]
                    total += discount * delta
                    break
                next_v = values[k + 1, n] if k + 1 < T else last_value[n]
                delta = rewards[k, n] + gamma * next_v - values[k, n]
                total += discount * delta
                discount *= gamma * lam
            adv[t, n] = total
    return adv


def test_gae_matches_reference():
    rng = np.random.default_rng(0)
    T, N = 37, 5
    rewards, values = rng.normal(size=(T, N)), rng.normal(size=(T, N))
    dones = (rng.random((T, N)) < 0.1).astype(float)
    last = rng.normal(size=N)
    adv, ret = compute_gae(*(torch.tensor(x) for x in (rewards, values, dones, last)), 0.99, 0.95)
    ref = reference_gae(rewards, values, dones, last, 0.99, 0.95)
    assert np.allclose(adv.numpy(), ref, atol=1e-10)
    assert np.allclose(ret.numpy(), ref + values, atol=1e-10)


def test_gae_in_numpy_is_bit_identical_to_the_torch_loop():
    g = torch.Generator().manual_seed(1)
    T, N = 64, 3
    rewards, values = torch.randn(T, N, generator=g), torch.randn(T, N, generator=g)
    dones = (torch.rand(T, N, generator=g) < 0.1).float()
    last = torch.randn(N, generator=g)
    adv, ret = compute_gae(rewards, values, dones, last, 0.99, 0.95)  # CPU: the numpy loop
    want = _gae_torch(rewards, values, dones, last, 0.99, 0.95)
    assert adv.dtype == torch.float32 and torch.equal(adv, want)
    assert torch.equal(ret, want + values)


def test_gae_lambda_one_is_discounted_return():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.zeros(3, 1)
    dones = torch.tensor([[0.0], [0.0], [1.0]])
    _, ret = compute_gae(rewards, values, dones, torch.tensor([100.0]), 0.5, 1.0)
    assert torch.allclose(ret[:, 0], torch.tensor([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]))


def test_minibatches_cover_the_rollout_once():
    st = RolloutStorage(8, 4, 3, 2)
    for t in range(8):
        st.add(torch.full((4, 3), float(t)), torch.zeros(4, 2), torch.zeros(4), torch.zeros(4),
               torch.zeros(4), torch.zeros(4))
    st.compute_returns(torch.zeros(4), 0.99, 0.95)
    seen = torch.cat([mb.obs[:, 0] for mb in st.minibatches(4, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == sorted(st.obs[:, :, 0].flatten().tolist())
