"""Checkpoints: atomic layout, round trip, resume, clear errors on bad files."""

import json

import pytest
import torch

from nfpo.agent import load_run
from nfpo.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from nfpo.config import TrainConfig
from nfpo.errors import CheckpointError
from nfpo.runner import Trainer


def cfg_for(tmp_path, total=1024, kind="flow"):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = "nfpo/PointReach-v0", 2
    cfg.policy.kind = kind
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 128, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = total, str(tmp_path / "run")
    cfg.run.progress, cfg.run.tensorboard, cfg.run.checkpoint_every = False, False, 1
    cfg.run.keep_checkpoints = 2
    return cfg


def test_round_trip_and_retention(tmp_path):
    cfg = cfg_for(tmp_path)
    tr = Trainer(cfg)
    run_dir = tr.train()
    ckpts = list_checkpoints(run_dir)
    assert [c.name for c in ckpts] == ["step_000000000768", "step_000000001024"]
    assert (run_dir / "checkpoints" / "latest").resolve() == ckpts[-1].resolve()
    assert not list((run_dir / "checkpoints").glob(".tmp*"))
    _, agent, state = load_run(run_dir)
    assert state["global_step"] == 1024
    for k, v in tr.agent.tensors().items():
        assert torch.equal(agent.tensors()[k], v), k


def test_resume_continues_and_extends(tmp_path):
    cfg = cfg_for(tmp_path, total=512)
    Trainer(cfg).train()
    tr = Trainer.resume(tmp_path / "run", total_steps=1024)
    assert tr.global_step == 512 and tr.ppo.updates_done == 2
    assert tr.ppo.optimizer.state_dict()["state"]  # Adam moments restored
    tr.train()
    assert json.loads((tmp_path / "run/summary.json").read_text())["global_step"] == 1024
    rows = (tmp_path / "run/metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 4


def test_architecture_mismatch_is_named(tmp_path):
    cfg = cfg_for(tmp_path, total=256)
    run_dir = Trainer(cfg).train()
    meta = json.loads((run_dir / "config.json").read_text())
    meta["config"]["policy"]["flow_hidden"] = [32]
    (run_dir / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="policy architecture"):
        load_run(run_dir)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "state"])
def test_corrupted_checkpoint_gives_checkpoint_error(tmp_path, damage):
    d = save_checkpoint(tmp_path, 5, {"policy.w": torch.ones(3, 4)}, {"global_step": 5})
    if damage == "truncate":
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        (d / "model.safetensors").write_bytes(b"\x00\xff" * 100)
    else:
        (d / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(tmp_path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)


def test_checksum_detects_silent_weight_corruption(tmp_path):
    d = save_checkpoint(tmp_path, 5, {"policy.w": torch.ones(64)}, {"global_step": 5})
    data = bytearray((d / "model.safetensors").read_bytes())
    data[-3] ^= 0x01  # still a valid safetensors file with in-range values
    (d / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(tmp_path)
