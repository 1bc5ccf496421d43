"""Rational-quadratic spline coupling: exact inverse, exact log-det, identity at init, export."""

import numpy as np
import pytest
import torch

from nfpo.flows.spline import SplineCoupling, rq_spline


def _random_layer(seed=0, dim=2, ctx=3, bins=6, bound=2.0):
    torch.manual_seed(seed)
    mask = torch.tensor([1.0, 0.0]) if dim == 2 else torch.zeros(dim)
    layer = SplineCoupling(mask, ctx, (16,), bins=bins, bound=bound).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0, 1.0)
    return layer


def test_identity_at_init():
    layer = SplineCoupling(torch.tensor([1.0, 0.0]), 3, (16,))
    z = torch.randn(100, 2) * 3
    x, ld = layer(z, torch.randn(100, 3))
    torch.testing.assert_close(x, z, atol=1e-5, rtol=0)
    torch.testing.assert_close(ld, torch.zeros(100), atol=1e-5, rtol=0)


def test_inverse_and_logdet_match_autograd_jacobian():
    layer = _random_layer()
    z = torch.randn(64, 2, dtype=torch.float64) * 1.5  # some inside, some in the tails
    z[0, 1], z[1, 1] = 5.0, -7.0
    h = torch.randn(64, 3, dtype=torch.float64)
    x, ld = layer(z, h)
    z2, ld_inv = layer.inverse(x, h)
    torch.testing.assert_close(z2, z, atol=1e-9, rtol=0)
    torch.testing.assert_close(ld_inv, -ld, atol=1e-9, rtol=0)
    torch.testing.assert_close(x[:2, 1], z[:2, 1])  # identity tails
    assert not torch.equal(x[2:, 1], z[2:, 1])  # a non-trivial map inside
    for i in range(8):
        hi = h[i:i + 1]
        jac = torch.autograd.functional.jacobian(lambda v, hi=hi: layer(v[None], hi)[0][0],
                                                 z[i])
        torch.testing.assert_close(ld[i], torch.linalg.slogdet(jac)[1], atol=1e-9, rtol=0)


def test_monotone_and_onto_the_interval():
    torch.manual_seed(1)
    x = torch.linspace(-2.0, 2.0, 2001, dtype=torch.float64)
    raw = [torch.randn(5, dtype=torch.float64).expand(2001, 5) for _ in range(2)]
    d = torch.randn(4, dtype=torch.float64).expand(2001, 4)
    y, _ = rq_spline(x, raw[0], raw[1], d, bound=2.0)
    assert (y.diff() > 0).all()
    assert abs(y[0] + 2.0) < 1e-12 and abs(y[-1] - 2.0) < 1e-12


def test_a_spline_flow_policy_trains_scores_and_exports(tmp_path):
    pytest.importorskip("onnxruntime")
    from nfpo.config import TrainConfig
    from nfpo.export import export_run
    from nfpo.runner import Trainer

    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "Pendulum-v1", 2
    cfg.policy.kind, cfg.policy.flow_transform = "flow", "spline"
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 4, 2
    cfg.run.total_steps, cfg.run.run_dir = 256, str(tmp_path / "run")
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 0
    run = Trainer(cfg).train()
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3
    header = rows[0].split(",")
    err = [float(r.split(",")[header.index("policy/ratio_error_at_start")]) for r in rows[1:]]
    assert max(err) < 1e-4  # inverse(forward) is exact enough for PPO's ratio
    info = export_run(run, "onnx")
    assert info["max_abs_diff"] < 1e-4  # the export's own check against the torch policy
    import onnxruntime as ort

    from nfpo.agent import load_run
    _, agent, _ = load_run(run)
    sess = ort.InferenceSession(info["path"])
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    want = 2.0 * agent.act(torch.as_tensor(obs), deterministic=True).numpy()  # Box [-2, 2]
    got = sess.run(None, {sess.get_inputs()[0].name: obs})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
