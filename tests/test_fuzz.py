"""Property-based fuzzing: bad config values, byte-corrupted checkpoints and exported models.
Only nfpo's own error types (with messages) may escape."""

import json
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nfpo.agent import load_run
from nfpo.config import TrainConfig
from nfpo.deploy import Policy
from nfpo.errors import NfpoError
from nfpo.export import export_run
from nfpo.runner import Trainer

# NFPO_FUZZ_EXAMPLES=500 for the long run recorded in benchmarks/reliability.md
SETTINGS = settings(max_examples=int(os.environ.get("NFPO_FUZZ_EXAMPLES", "60")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                st.lists(st.integers(-5, 300), max_size=3).map(tuple),
                st.sampled_from(["flow", "gaussian", "tanh", "clip", "linear", "{}", "[1]"]))
FIELDS = [(sec, f) for sec, obj in TrainConfig().to_dict().items() for f in obj]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(FIELDS), ANY), min_size=1, max_size=4))
def test_config_values(changes):
    cfg = TrainConfig()
    for (sec, field), value in changes:
        setattr(getattr(cfg, sec), field, value)
    try:
        cfg.validate()
    except NfpoError as e:
        assert str(e)


@SETTINGS
@given(st.recursive(ANY, lambda c: st.dictionaries(st.text(max_size=8), c, max_size=3) |
                    st.lists(c, max_size=3), max_leaves=8))
def test_config_from_arbitrary_json(data):
    try:
        TrainConfig.from_dict(data).validate()
    except NfpoError as e:
        assert str(e)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 64, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = 256, str(d)
    cfg.run.progress, cfg.run.tensorboard, cfg.run.eval_episodes = False, False, 0
    Trainer(cfg).train()
    onnx_path = export_run(d, "onnx", True)["path"]
    return d, onnx_path


def corrupt(data: bytes, how: str, pos: float, payload: bytes) -> bytes:
    i = int(pos * len(data))
    if how == "truncate":
        return data[:i]
    if how == "flip":
        return data[:i] + payload[:8] + data[i + len(payload[:8]):]
    return data[:i] + payload + data[i:]


CORRUPTION = (st.sampled_from(["truncate", "flip", "insert"]), st.floats(0, 1),
              st.binary(min_size=1, max_size=16))


@SETTINGS
@given(st.sampled_from(["model.safetensors", "state.json", "../../config.json"]), *CORRUPTION)
def test_corrupted_checkpoint(trained, tmp_path_factory, target, how, pos, payload):
    src = trained[0]
    d = tmp_path_factory.mktemp("c")
    shutil.copytree(src, d, dirs_exist_ok=True)
    ckpt = sorted((d / "checkpoints").glob("step_*"))[-1]
    f = (ckpt / target).resolve()
    f.write_bytes(corrupt(f.read_bytes(), how, pos, payload))
    for load in (lambda: load_run(d), lambda: Trainer.resume(d).envs.close()):
        try:
            load()
        except NfpoError as e:
            assert str(e)


@SETTINGS
@given(*CORRUPTION)
def test_corrupted_onnx(trained, tmp_path_factory, how, pos, payload):
    path = tmp_path_factory.mktemp("o") / "m.onnx"
    with open(trained[1], "rb") as f:
        path.write_bytes(corrupt(f.read(), how, pos, payload))
    try:
        pol = Policy.load(path)
        pol.sample(np.zeros(4, np.float32), np.random.default_rng(0))
    except NfpoError as e:
        assert str(e)


def test_metadata_is_json(trained):
    with open(trained[1] + ".json") as f:
        meta = json.load(f)
    assert meta["stochastic"] is True
