"""Mode-balanced advantages (nfpo.algo.modes): clustering, the per-group correction, and the
bookkeeping of episodes across env steps."""

import numpy as np
import torch

from nfpo.algo.modes import ModeBalance, balance, kmeans, lump_balance


def test_kmeans_separates_well_separated_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])
    x = np.concatenate([c + 0.1 * rng.standard_normal((30, 2)) for c in centers])
    c, labels = kmeans(x, 3, np.random.default_rng(1))
    assert len(c) == 3
    for j in range(3):  # each blob is one cluster, and the clusters differ
        assert len(set(labels[30 * j:30 * (j + 1)])) == 1
    assert len(set(labels)) == 3
    assert np.allclose(np.sort(c[:, 0]), [0.0, 0.0, 5.0], atol=0.1)


def test_kmeans_caps_k_at_the_number_of_distinct_points():
    c, labels = kmeans(np.ones((5, 2)), 4, np.random.default_rng(0))
    assert len(c) == 1 and (labels == 0).all()


def test_balance_removes_group_means_and_keeps_differences_within():
    adv = np.array([3.0, 1.0, -1.0, -3.0, 0.5, 2.5])
    cluster = np.array([0, 0, 1, 1, 0, 0])
    t = np.array([0, 0, 0, 0, 1, 1])
    new, offset = balance(adv, cluster, t, strength=1.0, shrink=0.0)
    assert np.allclose(offset, [2, 2, -2, -2, 1.5, 1.5])
    assert np.allclose(new, [1, -1, 1, -1, -1, 1])
    half, _ = balance(adv, cluster, t, strength=0.5, shrink=0.0)
    assert np.allclose(half, adv - 0.5 * offset)
    shrunk, _ = balance(adv, cluster, t, strength=1.0, shrink=2.0)
    assert np.allclose(shrunk[:2], [3 - 4 / 4, 1 - 4 / 4])  # sum 4 over 2 + 2


def test_mode_balance_tracks_episodes_across_steps():
    """Two envs, three steps; env 0's episode ends after step 1. Episodes with the same
    descriptor region share a cluster; each (cluster, step-in-episode) group ends at mean 0."""
    mb = ModeBalance(num_envs=2, clusters=2, strength=1.0, shrink=0.0)
    mb.start(np.array([0, 5]))  # env 1's episode started 5 steps before this rollout
    left, right = np.array([-1.0]), np.array([1.0])
    mb.step(np.array([False, False]), {})
    mb.step(np.array([True, False]), {0: left})
    mb.step(np.array([False, False]), {})
    adv = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # [T, N]
    running = np.stack([right, right])  # env 0's new episode and env 1's: both "right"
    metrics = mb.apply(adv, running, seed=0)
    assert metrics["modes/clusters"] == 2
    # env 0's first episode (t = 0, 1) is alone in its cluster -> zero; the two "right"
    # episodes share a cluster: env 0's second episode at t = 0 (5.0), env 1 at t = 5, 6, 7
    assert torch.allclose(adv, torch.zeros(3, 2))
    adv = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    mb.start(np.array([0, 0]))  # both envs start together: same t, same cluster -> centred
    for _ in range(3):
        mb.step(np.array([False, False]), {})
    mb.apply(adv, np.stack([right, right]), seed=0)
    assert torch.allclose(adv, torch.tensor([[-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5]]))


def test_lump_balance_compares_a_lump_with_its_neighbours_only():
    """Two far-apart pairs of lumps: the pair with the higher advantages keeps no preference
    over the other pair, while within each pair the better lump stays ahead."""
    means = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [5.1, 0.0]])
    comp = np.repeat(np.arange(4), 50)
    adv = np.repeat([2.0, 1.0, -1.0, -2.0], 50)
    new, offset = lump_balance(adv, comp, means, bandwidth=0.5, strength=1.0, shrink=0.0)
    per_lump = np.array([new[comp == k].mean() for k in range(4)])
    assert abs(per_lump[:2].mean()) < 0.02 and abs(per_lump[2:].mean()) < 0.02  # pairs level
    assert per_lump[0] > per_lump[1] + 0.9 and per_lump[2] > per_lump[3] + 0.9  # order kept
    # a huge bandwidth is the global mean (zero here), a tiny one each lump's own mean
    wide, _ = lump_balance(adv, comp, means, 1e4, 1.0, 0.0)
    assert np.allclose(wide, adv - adv.mean())
    narrow, _ = lump_balance(adv, comp, means, 1e-3, 1.0, 0.0)
    assert np.allclose(narrow, 0.0)
    half, _ = lump_balance(adv, comp, means, 1e-3, 0.5, 0.0)
    assert np.allclose(half, adv / 2)
