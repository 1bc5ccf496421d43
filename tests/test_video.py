"""Videos: eval --video, train --video-every (without changing training), the report's
still strip, and clear errors when rendering is impossible."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from nfpo.cli import main
from nfpo.config import TrainConfig
from nfpo.errors import ConfigError
from nfpo.runner import Trainer
from nfpo.video import RenderError, check_renderer, read_video


def tiny_cfg(run_dir, env_id="Hopper-v5", **run):
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs = env_id, 2
    cfg.ppo.num_steps, cfg.ppo.num_minibatches, cfg.ppo.num_epochs = 32, 2, 1
    cfg.run.total_steps, cfg.run.run_dir = 128, str(run_dir)
    cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
    cfg.run.eval_episodes = 0
    for k, v in run.items():
        setattr(cfg.run, k, v)
    return cfg


@pytest.fixture(scope="module")
def hopper_run(tmp_path_factory):
    return Trainer(tiny_cfg(tmp_path_factory.mktemp("v") / "run")).train()


def test_eval_video_has_expected_frames_and_is_not_blank(hopper_run, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    main(["eval", str(hopper_run), "--episodes", "2", "--video", str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    frames = read_video(out)
    stride = 4  # Hopper-v5 steps at 125 Hz; videos play at ~30 fps
    expected = sum(1 + n // stride + (1 if n % stride else 0) for n in res["lengths"])
    assert res["video_frames"] == expected == len(frames)
    assert frames.shape[1:] == (360, 480, 3)
    assert frames.astype(float).std() > 20  # not blank
    assert np.abs(np.diff(frames.astype(float), axis=0)).mean() > 0.1  # it moves


def test_gif_output(hopper_run, tmp_path):
    main(["eval", str(hopper_run), "--episodes", "1", "--video", str(tmp_path / "c.gif")])
    assert read_video(tmp_path / "c.gif").shape[-1] == 3


def test_train_video_every_records_clips_and_does_not_change_training(tmp_path):
    a = Trainer(tiny_cfg(tmp_path / "a", video_every=1, video_steps=40, tensorboard=True)).train()
    b = Trainer(tiny_cfg(tmp_path / "b")).train()
    clips = sorted((a / "videos").glob("*.mp4"))
    assert [c.name for c in clips] == ["update_000001.mp4", "update_000002.mp4"]
    assert 3 <= len(read_video(clips[0])) <= 11
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(a / "tb"), size_guidance={"images": 0}).Reload()
    assert len(tb.Images("video/frame")) == 2  # the clips' middle frames, in TensorBoard
    wa = load_file(next((a / "checkpoints").glob("step_*")) / "model.safetensors")
    wb = load_file(next((b / "checkpoints").glob("step_*")) / "model.safetensors")
    for k in wa:
        if k.startswith("policy."):
            assert torch.equal(wa[k], wb[k]), k


def test_report_has_still_strip(hopper_run, tmp_path):
    main(["report", str(hopper_run), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "strip_0.png" in md
    import matplotlib.image

    img = matplotlib.image.imread(tmp_path / "rep" / "strip_0.png")
    assert img.shape[1] > 4 * img.shape[0] and img.std() > 0.05


def test_env_without_rendering_gives_clear_error(tmp_path):
    run = Trainer(tiny_cfg(tmp_path / "pr", "nfpo/PointReach-v0")).train()
    with pytest.raises(SystemExit) as e:
        main(["eval", str(run), "--video", str(tmp_path / "x.mp4")])
    assert e.value.code == 2
    from nfpo.evaluate import evaluate

    with pytest.raises(RenderError, match="cannot render frames"):
        evaluate(run, 1, video=tmp_path / "x.mp4")
    with pytest.raises(RenderError, match="must end in"):
        evaluate(run, 1, video=tmp_path / "x.avi")


def test_broken_renderer_gives_clear_error_not_a_hang(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "no-such-backend")
    with pytest.raises(RenderError, match="apt-get install -y libegl1"):
        check_renderer.__wrapped__(timeout=60)


def test_bad_video_settings():
    cfg = TrainConfig()
    cfg.run.video_every = -1
    with pytest.raises(ConfigError, match="video_every"):
        cfg.validate()
