"""``Policy``: an exported ONNX policy run by onnxruntime (single thread by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nfpo.errors import NfpoError


class DeployError(NfpoError):
    """The model file is missing, corrupt or not an nfpo export."""


class Policy:
    def __init__(self, session: Any, meta: dict[str, Any]) -> None:
        self.session, self.meta = session, meta
        self.obs_dim, self.act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
        self.stochastic = bool(meta["stochastic"])
        self.action_low = np.asarray(meta["action_low"], dtype=np.float32)
        self.action_high = np.asarray(meta["action_high"], dtype=np.float32)

    @classmethod
    def load(cls, path: str | Path, threads: int = 1) -> Policy:
        """Load an ``nfpo export --format onnx`` file (metadata from the file itself)."""
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise DeployError("nfpo.deploy needs onnxruntime: pip install onnxruntime") from e
        path = Path(path)
        if not path.is_file():
            raise DeployError(f"no such model file: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise DeployError(f"{path} is not a loadable ONNX model: {e}") from e
        try:
            raw = session.get_modelmeta().custom_metadata_map
            meta = {k: json.loads(v) for k, v in raw.items()}
            for key in ("obs_dim", "act_dim", "stochastic", "action_low", "action_high"):
                meta[key]  # noqa: B018 - presence check
            return cls(session, meta)
        except (KeyError, json.JSONDecodeError, TypeError, ValueError) as e:
            raise DeployError(f"{path} is an ONNX model but not an nfpo export "
                              f"(missing or bad metadata: {e})") from e

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        try:
            return self.session.run(None, feeds)[0]
        except Exception as e:  # onnxruntime raises its own exception types
            raise DeployError(f"the model failed to run: {e}") from e

    def _prep(self, obs: np.ndarray) -> tuple[np.ndarray, bool]:
        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        x = x.reshape(1, -1) if single else x
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise DeployError(f"observation shape {np.shape(obs)} does not match the policy "
                              f"(expected [{self.obs_dim}] or [B, {self.obs_dim}])")
        return x, single

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic action (noise 0 for stochastic artefacts)."""
        x, single = self._prep(obs)
        feeds = {"obs": x}
        if self.stochastic:
            feeds["noise"] = np.zeros((x.shape[0], self.act_dim), np.float32)
        out = self._run(feeds)
        return out[0] if single else out

    def act_with_noise(self, obs: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Action for given standard-normal ``noise`` ``[B, D]`` (stochastic artefacts)."""
        if not self.stochastic:
            raise DeployError("this artefact is deterministic; export with --stochastic")
        x, single = self._prep(obs)
        z = np.asarray(noise, dtype=np.float32).reshape(x.shape[0], self.act_dim)
        out = self._run({"obs": x, "noise": z})
        return out[0] if single else out

    def sample(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sample an action: noise ~ N(0, I) drawn from ``rng``."""
        if not self.stochastic:
            raise DeployError("this artefact is deterministic; export with --stochastic")
        x, single = self._prep(obs)
        z = rng.standard_normal((x.shape[0], self.act_dim)).astype(np.float32)
        out = self._run({"obs": x, "noise": z})
        return out[0] if single else out
