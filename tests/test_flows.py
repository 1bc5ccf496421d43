"""Change of variables, invertibility and identity-at-init of the coupling flow policy."""

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from nfpo.flows import AffineCoupling, FlowSequence, standard_normal_log_prob
from nfpo.flows.tanh import tanh_log_abs_det
from nfpo.policies import FlowPolicy
from tests.conftest import randomize

OBS, ACT = 5, 3


def make_flow(bound="clip", log_scale_bound=2.0, act_dim=ACT, encoder=(), scale=0.5):
    pol = FlowPolicy(OBS, act_dim, num_layers=4, hidden=(16, 16), encoder_hidden=encoder,
                     log_scale_bound=log_scale_bound, action_bound=bound).double()
    return randomize(pol, scale)


@pytest.mark.parametrize("bound", ["clip", "tanh"])
@pytest.mark.parametrize("log_scale_bound", [2.0, None])
@pytest.mark.parametrize("act_dim", [1, 2, 3])
def test_log_prob_matches_brute_force_jacobian(bound, log_scale_bound, act_dim):
    # weights small enough that tanh(u) is not saturated in float64 (the brute-force
    # Jacobian would then be 0 while the exact softplus form stays finite)
    pol = make_flow(bound, log_scale_bound, act_dim, scale=0.25)
    obs = torch.randn(6, OBS, dtype=torch.float64)
    torch.manual_seed(1)
    u, logp_sample = pol.sample(obs)
    assert u.abs().max() < 6 and logp_sample.std() > 0.1  # a non-trivial, unsaturated flow
    torch.manual_seed(1)
    z = torch.randn(6, act_dim, dtype=torch.float64)  # the same noise sample() drew
    for i in range(obs.shape[0]):
        h = pol.encoder(obs[i:i + 1])

        def f(zi, h=h):
            x = pol.flow(zi.unsqueeze(0), h)[0][0]
            return torch.tanh(x) if bound == "tanh" else x

        J = jacobian(f, z[i])
        expected = standard_normal_log_prob(z[i:i + 1])[0] - torch.linalg.slogdet(J)[1]
        assert torch.allclose(logp_sample[i], expected, atol=1e-9), (logp_sample[i], expected)
    # scoring the stored pre-squash action (inverse pass) gives the same number
    assert torch.allclose(pol.log_prob(obs, u), logp_sample, atol=1e-9)


def test_exact_invertibility():
    pol = make_flow(encoder=(8,))
    h = pol.encoder(torch.randn(64, OBS, dtype=torch.float64))
    z = torch.randn(64, ACT, dtype=torch.float64) * 3
    x, ld_f = pol.flow(z, h)
    z2, ld_i = pol.flow.inverse(x, h)
    assert torch.allclose(z2, z, atol=1e-10)
    assert torch.allclose(ld_f, -ld_i, atol=1e-10)
    x2, per_layer = pol.flow.forward_layers(z, h)
    assert len(per_layer) == 4 and torch.allclose(torch.stack(per_layer).sum(0), ld_f)


def test_untrained_flow_is_the_base_gaussian():
    pol = FlowPolicy(OBS, ACT)  # zero-initialised last conditioner layers
    obs = torch.randn(32, OBS)
    u = torch.randn(32, ACT)
    assert torch.allclose(pol.log_prob_raw(obs, u), standard_normal_log_prob(u), atol=1e-6)
    assert torch.equal(pol.mode_raw(obs), torch.zeros(32, ACT))
    # Monte-Carlo entropy of N(0, I) ~ D/2 (1 + log 2 pi)
    h = pol.entropy(torch.randn(20000, OBS)).mean().item()
    assert abs(h - ACT * 0.5 * (1 + math.log(2 * math.pi))) < 0.05


def test_log_scale_is_soft_bounded():
    layer = AffineCoupling(torch.tensor([1.0, 0.0]), context_dim=2, hidden=(8,),
                           log_scale_bound=2.0)
    randomize(layer, 50.0)  # huge raw log-scales
    _, ld = layer(torch.randn(100, 2), torch.randn(100, 2))
    assert ld.abs().max() < 2.0 + 1e-6


def test_tanh_log_det_is_finite_where_naive_formula_fails():
    u = torch.tensor([[0.0, 5.0, 9.5, -20.0, 50.0]])
    ld = tanh_log_abs_det(u)
    naive = torch.log(1 - torch.tanh(u) ** 2).sum()
    assert torch.isfinite(ld).all() and not torch.isfinite(naive)
    u = torch.tensor([[0.3, -1.2]], dtype=torch.float64)  # where the naive formula is exact
    torch.testing.assert_close(tanh_log_abs_det(u), torch.log(1 - torch.tanh(u) ** 2).sum(-1))


def test_agrees_with_zuko_on_matched_configuration():
    """Rebuild the same flow from zuko's coupling + affine transforms and compare log-probs."""
    from torch.distributions import Independent, Normal, TransformedDistribution
    from zuko.transforms import CouplingTransform, DependentTransform, MonotonicAffineTransform

    pol = make_flow(log_scale_bound=2.0)
    obs = torch.randn(1, OBS, dtype=torch.float64)
    h = pol.encoder(obs)
    slope = 1e-3
    L = -math.log(slope)

    def zuko_layer(layer: AffineCoupling):
        mask = layer.mask.bool()

        def meta(x_a):
            passive = torch.zeros(*x_a.shape[:-1], ACT, dtype=x_a.dtype)
            passive[..., mask] = x_a
            s, t = layer._scale_shift(passive, h.expand(*x_a.shape[:-1], -1))
            s_b, t_b = s[..., ~mask], t[..., ~mask]
            raw = s_b / (1 - s_b.abs() / L)  # zuko maps raw -> raw / (1 + |raw| / L) = s_b
            return DependentTransform(MonotonicAffineTransform(t_b, raw, slope=slope), 1)

        return CouplingTransform(meta, mask)

    base = Independent(Normal(torch.zeros(ACT, dtype=torch.float64),
                              torch.ones(ACT, dtype=torch.float64)), 1)
    dist = TransformedDistribution(base, [zuko_layer(lay) for lay in pol.flow.layers])
    u, logp = pol.sample(obs.expand(50, -1))
    for i in range(50):
        ref = dist.log_prob(u[i:i + 1])
        assert torch.allclose(ref, logp[i:i + 1], atol=1e-8), (ref, logp[i])


def test_flow_sequence_of_one_layer_matches_layer():
    layer = randomize(AffineCoupling(torch.tensor([0.0, 1.0]), 3, (8,)), 0.5)
    seq = FlowSequence([layer])
    z, h = torch.randn(10, 2), torch.randn(10, 3)
    assert torch.allclose(seq(z, h)[0], layer(z, h)[0])
