"""Export a trained run to one self-contained file: ONNX (for ``nfpo.deploy``) or TorchScript.

The artefact maps raw observations (and, for ``stochastic``, standard-normal noise) to actions
in env units: normalizer + actor + action bound + scaling (see ``PolicyGraph``). Metadata is
embedded (ONNX ``metadata_props``; TorchScript ``_extra_files``) and also written as JSON next
to the file. Every export is verified against PyTorch on 1000 observations drawn around the
normalizer statistics; a max abs difference above ``tol`` raises ``ExportError``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from nfpo import __version__
from nfpo.agent import load_run
from nfpo.checkpoint import atomic_write_text, check_writable
from nfpo.errors import ExportError
from nfpo.export.graph import PolicyGraph
from nfpo.run_dir import RunDir

ExportFormat = Literal["onnx", "torchscript"]
FORMATS: tuple[str, ...] = ("onnx", "torchscript")
ONNX_OPSET = 18


@contextlib.contextmanager
def _quiet():
    """Silence exporter progress lines and deprecation chatter."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export",
                                              "torch._export", "torch.fx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(None):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            for lg, lv in zip(loggers, levels, strict=True):
                lg.setLevel(lv)


def _export_onnx(graph: PolicyGraph, path: Path, obs_dim: int, act_dim: int,
                 meta: dict[str, Any]) -> None:
    try:
        import onnx
    except ImportError as e:
        raise ExportError("ONNX export needs the export extra: pip install 'nfpo[export]' "
                          "(onnx, onnxscript, onnxruntime)") from e
    batch = torch.export.Dim("batch")
    obs = torch.zeros(2, obs_dim)
    args: tuple = (obs, torch.zeros(2, act_dim)) if graph.stochastic else (obs,)
    names = ["obs", "noise"] if graph.stochastic else ["obs"]
    shapes = {n: {0: batch} for n in names}
    with _quiet():
        prog = torch.onnx.export(graph, args, dynamo=True, opset_version=ONNX_OPSET,
                                 input_names=names, output_names=["action"],
                                 dynamic_shapes=shapes, verbose=False)
    model = prog.model_proto
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, json.dumps(v)
    tmp = path.with_name(f".tmp_{path.name}")
    onnx.save_model(model, str(tmp))
    tmp.replace(path)


def _export_torchscript(graph: PolicyGraph, path: Path, obs_dim: int, act_dim: int,
                        meta: dict[str, Any]) -> None:
    obs = torch.zeros(2, obs_dim)
    args: tuple = (obs, torch.zeros(2, act_dim)) if graph.stochastic else (obs,)
    with _quiet():
        traced = torch.jit.trace(graph, args, check_trace=False)
    tmp = path.with_name(f".tmp_{path.name}")
    torch.jit.save(traced, str(tmp), _extra_files={"nfpo.json": json.dumps(meta)})
    tmp.replace(path)


def export_graph(graph: PolicyGraph, fmt: ExportFormat, path: Path,
                 meta: dict[str, Any]) -> Path:
    """Write ``graph`` as one ``fmt`` file with ``meta`` embedded (no verification)."""
    if fmt not in FORMATS:
        raise ExportError(f"invalid format={fmt!r}: expected one of {', '.join(FORMATS)}")
    obs_dim, act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
    if fmt == "onnx":
        _export_onnx(graph, path, obs_dim, act_dim, meta)
    else:
        _export_torchscript(graph, path, obs_dim, act_dim, meta)
    return path


def _run_artifact(path: Path, fmt: str, obs: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
    if fmt == "onnx":
        from nfpo.deploy import Policy

        pol = Policy.load(path)
        return pol.act(obs) if noise is None else pol.act_with_noise(obs, noise)
    module = torch.jit.load(str(path))
    with torch.no_grad():
        args = (torch.as_tensor(obs),) if noise is None else (torch.as_tensor(obs),
                                                              torch.as_tensor(noise))
        return module(*args).numpy()


def export_run(run_dir: Path | str, fmt: ExportFormat = "onnx", stochastic: bool = False,
               out: Path | str | None = None, tol: float = 1e-5, n_verify: int = 1000,
               seed: int = 0, checkpoint: int | str | None = None) -> dict[str, Any]:
    """Export a checkpoint of ``run_dir`` (``checkpoint``: None/``latest`` = the newest intact
    one, ``best``, or a step); returns the metadata incl. ``max_abs_diff`` and ``path``."""
    if fmt not in FORMATS:
        raise ExportError(f"invalid format={fmt!r}: expected one of {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    cfg, agent, state = load_run(run_dir, checkpoint)
    agent.policy.float()  # artefacts are float32 end to end (a float64 actor is rounded)
    spec = RunDir(run_dir).read_meta()["env_spec"]
    obs_dim, act_dim = int(spec["obs_dim"]), int(spec["act_dim"])
    graph = PolicyGraph(agent, spec["action_low"], spec["action_high"], stochastic).eval()
    suffix = ".onnx" if fmt == "onnx" else ".pt"
    kind = "stochastic" if stochastic else "deterministic"
    path = check_writable(Path(out) if out else run_dir / "export" / f"policy_{kind}{suffix}",
                          "the exported policy")
    meta: dict[str, Any] = {
        "format": fmt, "stochastic": stochastic, "obs_dim": obs_dim, "act_dim": act_dim,
        "action_low": spec["action_low"], "action_high": spec["action_high"],
        "observation_layout": f"flat float32 vector of {obs_dim} values, as returned by "
                              f"gymnasium.make({spec['id']!r}).step",
        "inputs": ["obs", "noise"] if stochastic else ["obs"], "output": "action",
        "env_id": spec["id"], "policy": cfg.policy.kind, "action_bound": cfg.policy.action_bound,
        "nfpo_version": __version__, "source_run": str(run_dir.resolve()),
        "source_step": state.get("global_step"),
    }
    export_graph(graph, fmt, path, meta)

    # verify against PyTorch on observations around the normalizer statistics
    rng = np.random.default_rng(seed)
    mean = agent.obs_norm.mean.numpy()
    std = np.sqrt(agent.obs_norm.var.numpy())
    obs = (mean + std * rng.standard_normal((n_verify, obs_dim)) * 2).astype(np.float32)
    noise = rng.standard_normal((n_verify, act_dim)).astype(np.float32) if stochastic else None
    # reference: the unfused training-side computation
    reference = PolicyGraph(agent, spec["action_low"], spec["action_high"], stochastic,
                            fused=False).eval()
    with torch.no_grad():
        ref = reference(torch.as_tensor(obs), None if noise is None else torch.as_tensor(noise))
    got = _run_artifact(path, fmt, obs, noise)
    diff = float(np.abs(got - ref.numpy()).max())
    meta.update({"max_abs_diff": diff, "verified_on": n_verify, "path": str(path)})
    atomic_write_text(path.with_suffix(path.suffix + ".json"), json.dumps(meta, indent=2))
    if not diff <= tol:
        raise ExportError(f"exported {fmt} model disagrees with PyTorch: max abs diff "
                          f"{diff:.3g} > {tol:g} over {n_verify} observations ({path})")
    return meta
