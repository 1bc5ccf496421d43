"""SIGINT/SIGTERM: finish the update, checkpoint, print the resume command, exit 130."""

import signal
import subprocess
import sys
import time

import pytest

from nfpo.agent import load_run


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_and_exits(tmp_path, sig):
    rd = tmp_path / "run"
    p = subprocess.Popen(
        [sys.executable, "-m", "nfpo", "train", "--env", "nfpo/PointReach-v0", "--total-steps",
         "100000000", "--num-steps", "64", "--num-minibatches", "2", "--num-epochs", "1",
         "--checkpoint-every", "1000000", "--run-dir", str(rd), "--no-tensorboard"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (rd / "metrics.csv").exists() and len((rd / "metrics.csv").read_text().splitlines()) > 2:
            break
        time.sleep(0.2)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert f"nfpo train --resume {rd}" in err
    _, _, state = load_run(rd)
    assert state["global_step"] >= 2 * 256
