"""Export round trips (both policies, both formats), the torch-free runtime, bad model files."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nfpo.agent import load_run
from nfpo.config import TrainConfig
from nfpo.deploy import DeployError, Policy
from nfpo.export import ExportError, export_run
from nfpo.runner import Trainer


@pytest.fixture(scope="module", params=["gaussian", "flow"])
def run_dir(request, tmp_path_factory):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.policy.kind = request.param
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 128, 2, 2
    cfg.ppo.learning_rate = 3e-3
    d = tmp_path_factory.mktemp(request.param)
    cfg.run.total_steps, cfg.run.run_dir = 1024, str(d)
    cfg.run.progress, cfg.run.tensorboard = False, False
    Trainer(cfg).train()
    return d


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("stochastic", [False, True])
def test_round_trip(run_dir, fmt, stochastic):
    meta = export_run(run_dir, fmt, stochastic)
    assert meta["max_abs_diff"] <= 1e-5
    side = json.loads(Path(meta["path"] + ".json").read_text())
    assert side["obs_dim"] == 4 and side["act_dim"] == 2 and side["stochastic"] == stochastic
    # the artefact reproduces the training-side deterministic action (env units)
    _, agent, _ = load_run(run_dir)
    obs = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    ref = agent.act(torch.as_tensor(obs), deterministic=True).numpy()  # [-1, 1] box = env box
    if fmt == "onnx":
        pol = Policy.load(meta["path"])
        got = pol.act(obs)
        assert pol.act(obs[0]).shape == (2,)
        if stochastic:
            a1 = pol.sample(obs, np.random.default_rng(3))
            a2 = pol.sample(obs, np.random.default_rng(3))
            assert np.array_equal(a1, a2) and not np.allclose(a1, got)
    else:
        mod = torch.jit.load(meta["path"])
        args = (torch.as_tensor(obs),) + ((torch.zeros(50, 2),) if stochastic else ())
        got = mod(*args).detach().numpy()
    assert np.abs(got - ref).max() <= 1e-5


def test_runtime_imports_without_torch(run_dir):
    path = export_run(run_dir, "onnx", False)["path"]
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from nfpo.deploy import Policy\n"
        f"p = Policy.load({path!r})\n"
        "print(p.act(np.zeros(4, np.float32)).shape)\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2,)"


def test_bad_model_files(tmp_path, run_dir):
    with pytest.raises(DeployError, match="no such model file"):
        Policy.load(tmp_path / "missing.onnx")
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x01garbage" * 50)
    with pytest.raises(DeployError, match="not a loadable ONNX model"):
        Policy.load(tmp_path / "corrupt.onnx")
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(tmp_path / "foreign.onnx"))
    with pytest.raises(DeployError, match="not an nfpo export"):
        Policy.load(tmp_path / "foreign.onnx")
    pol = Policy.load(export_run(run_dir, "onnx", False)["path"])
    with pytest.raises(DeployError, match="observation shape"):
        pol.act(np.zeros(5))
    with pytest.raises(DeployError, match="deterministic"):
        pol.sample(np.zeros(4), np.random.default_rng(0))


def test_bad_format(run_dir):
    with pytest.raises(ExportError, match="onnx, torchscript"):
        export_run(run_dir, "tflite")  # type: ignore[arg-type]


@pytest.mark.parametrize("bound", [2.0, None])
@pytest.mark.parametrize("act_dim,encoder,transform", [(1, (), "affine"), (3, (), "affine"),
                                                       (4, (8,), "affine"), (3, (), "diagonal")])
def test_fused_push_equals_training_push(bound, act_dim, encoder, transform):
    from nfpo.export.fused import FusedFlowPush
    from nfpo.policies import FlowPolicy
    from tests.conftest import randomize

    pol = randomize(FlowPolicy(5, act_dim, hidden=(16, 16), encoder_hidden=encoder,
                               log_scale_bound=bound, transform=transform), 0.4)
    obs, z = torch.randn(100, 5), torch.randn(100, act_dim)
    with torch.no_grad():
        assert torch.allclose(FusedFlowPush(pol)(obs, z), pol.push(obs, z), atol=1e-5)
