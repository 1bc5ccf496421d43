"""Checkpoints: safetensors tensors + a JSON state, written atomically. No pickle anywhere.

Layout under a run dir::

    checkpoints/step_000123456/model.safetensors   tensors (policy., critic., obs_norm., optim.)
    checkpoints/step_000123456/state.json          counters, optimizer hyperparameters, RNG,
                                                   SHA-256 of model.safetensors ...
    checkpoints/latest -> step_000123456           convenience link (loading does not need it)
    checkpoints/best/                              the best periodic evaluation (--eval-every)

A checkpoint directory is first written as ``.tmp_step_...`` (files fsync'ed), then renamed:
a crash leaves either the complete previous checkpoint or the complete new one, and a failed
write (disk full, read-only) removes its temporary dir and raises ``CheckpointError``. Loading a
run dir takes its newest *intact* checkpoint: a corrupted newer one is skipped with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nfpo.errors import CheckpointError, ConfigError, os_error_message

_STEP_DIR = re.compile(r"^step_(\d{12})$")


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and rename."""
    tmp = path.with_name(f".tmp_{path.name}")
    _fsync_write(tmp, text.encode())
    os.replace(tmp, path)


def check_writable(path: Path | str, what: str) -> Path:
    """Make sure a file can be written at ``path`` (its dir is created), before any work is
    done; ConfigError naming the path otherwise."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".write_test_{path.name}")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ConfigError(os_error_message(e, f"write {what}")) from e
    return path


def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (``optim.<idx>.<name>``) and JSON."""
    tensors: dict[str, torch.Tensor] = {}
    for idx, pstate in state["state"].items():
        for name, value in pstate.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(value).clone()
    return tensors, {"param_groups": state["param_groups"]}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _write_dir(tmp: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
              str(tmp / "model.safetensors"))
    with open(tmp / "model.safetensors", "rb+") as f:
        os.fsync(f.fileno())
    state = {**state, "model_sha256": _sha256(tmp / "model.safetensors")}
    _fsync_write(tmp / "state.json", json.dumps(state, indent=1).encode())


def _publish(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor],
                    state: dict[str, Any], keep: int = 3, name: str | None = None) -> Path:
    """Atomically write checkpoint ``step`` (or the dir ``name``, e.g. ``best``, which is not
    counted or pruned); keep the newest ``keep`` step checkpoints. Returns its dir. A failed
    write leaves the earlier checkpoints as they were and raises ``CheckpointError``."""
    ckpt_root = Path(run_dir) / "checkpoints"
    step_name = name or f"step_{step:012d}"
    final, tmp = ckpt_root / step_name, ckpt_root / f".tmp_{step_name}"
    try:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        _write_dir(tmp, tensors, state)
        _publish(tmp, final)
        if name is not None:
            return final
        link_tmp = ckpt_root / ".tmp_latest"
        if link_tmp.is_symlink() or link_tmp.exists():
            link_tmp.unlink()
        os.symlink(step_name, link_tmp)
        os.replace(link_tmp, ckpt_root / "latest")
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        intact = list_checkpoints(run_dir)
        kept = f"; the newest intact checkpoint is {intact[-1]}" if intact else ""
        raise CheckpointError(os_error_message(e, "write checkpoint") + kept) from e
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint dirs of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
            and _STEP_DIR.match(p.name) and (p / "state.json").exists()
            and (p / "model.safetensors").exists()]
    return sorted(dirs, key=lambda p: p.name)


def _load_dir(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load one checkpoint dir, checking it is complete and its weights match their SHA-256."""
    try:
        state = json.loads((path / "state.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"corrupted checkpoint state {path / 'state.json'}: {e}") from e
    try:
        tensors = load_file(str(path / "model.safetensors"))
    except (OSError, SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"corrupted checkpoint weights {path / 'model.safetensors'}: {e}"
                              ) from e
    if not isinstance(state, dict):
        raise CheckpointError(f"corrupted checkpoint state {path / 'state.json'}: not an object")
    expected = state.get("model_sha256")
    if expected is not None and expected != _sha256(path / "model.safetensors"):
        raise CheckpointError(f"corrupted checkpoint weights {path / 'model.safetensors'}: "
                              "SHA-256 does not match the one recorded in state.json")
    return tensors, state


def parse_selector(checkpoint: int | str | None) -> int | str | None:
    """``None``/``latest`` (newest intact), ``best``, or a step (int or digits) -> canonical."""
    if checkpoint is None or checkpoint == "latest":
        return None
    if checkpoint == "best" or isinstance(checkpoint, int):
        return checkpoint
    if isinstance(checkpoint, str) and re.fullmatch(r"[0-9]+", checkpoint):
        return int(checkpoint)
    raise CheckpointError(f"invalid checkpoint={checkpoint!r}: expected latest, best or a "
                          "step number (see RUN_DIR/checkpoints/step_*)")


def load_checkpoint(path: Path, checkpoint: int | str | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a checkpoint dir, or a run dir's checkpoint -> (tensors, state).

    ``checkpoint`` (run dirs): None or ``latest`` = the newest intact checkpoint (a corrupted
    newer one is skipped with a warning on stderr); ``best`` = ``checkpoints/best`` (written
    by periodic evaluation); an int = the checkpoint of that global step."""
    path = Path(path)
    if (path / "state.json").exists():
        return _load_dir(path)
    sel = parse_selector(checkpoint)
    ckpts = list_checkpoints(path)
    if sel is not None:
        target = path / "checkpoints" / (sel if sel == "best" else f"step_{sel:012d}")
        if not (target / "state.json").exists():
            have = ", ".join(str(int(p.name[5:])) for p in ckpts) or "none"
            best = " (best: none; it is written by --eval-every)" if sel == "best" else ""
            raise CheckpointError(f"no checkpoint {sel} in {path}{best}; steps available: "
                                  f"{have}")
        return _load_dir(target)
    if not ckpts:
        raise CheckpointError(f"no checkpoint found in {path} (expected "
                              "checkpoints/step_*/model.safetensors + state.json)")
    errors: list[CheckpointError] = []
    for ckpt in reversed(ckpts):
        try:
            out = _load_dir(ckpt)
        except CheckpointError as e:
            errors.append(e)
            continue
        if errors:
            print(f"warning: skipped {len(errors)} corrupted newer checkpoint(s) ({errors[0]}); "
                  f"using {ckpt.name}", file=sys.stderr)
        return out
    raise CheckpointError(f"{errors[0]} (and no older intact checkpoint: {len(ckpts)} tried)")


def split_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Sub-dict of keys starting with ``prefix.``, prefix removed."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def load_module(module: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str) -> None:
    """``module.load_state_dict`` with a CheckpointError naming missing/mismatched tensors
    (after the module's ``upgrade_state_dict(sd)``, if it has one, renames legacy keys)."""
    sd = split_prefix(tensors, prefix)
    if hasattr(module, "upgrade_state_dict"):  # tensors renamed since older checkpoints
        sd = module.upgrade_state_dict(sd)
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in sd and sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        raise CheckpointError(f"checkpoint does not match the {prefix} architecture: "
                              f"missing {missing[:5]}, unexpected {unexpected[:5]}, "
                              f"shape mismatches {shapes[:5]}")
    module.load_state_dict(sd)
