"""``nfpo train --config FILE``: a TOML or JSON file with the fields of the flags.

Two layouts are accepted, and flags given after ``--config`` override the file:

- flat, one key per flag (``-`` or ``_``): ``env = "Walker2d-v5"``, ``policy = "gaussian"``,
  ``learning_rate = 1e-3``, ``total-steps = 200000``;
- by section, as ``TrainConfig.to_dict()`` and a run's ``config.json`` write them:
  ``[env] id = ...``, ``[ppo] learning_rate = ...``. A run's config.json replays that run
  (its ``run_dir`` is dropped, so the replay gets a new dir unless ``--run-dir`` is given).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from nfpo.config import TrainConfig
from nfpo.errors import ConfigError

try:  # Python >= 3.11
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib

SECTIONS = ("env", "policy", "ppo", "run")
FLAG_NAMES = {("env", "id"): "env", ("policy", "kind"): "policy"}  # tyro.conf.arg(name=...)


def flag_fields() -> dict[str, tuple[str, str]]:
    """Flag name (with ``_``) -> (section, field) for every field of ``TrainConfig``."""
    out = {}
    for sec in SECTIONS:
        for f in dataclasses.fields(getattr(TrainConfig(), sec)):
            out[FLAG_NAMES.get((sec, f.name), f.name)] = (sec, f.name)
    return out


def _read(path: Path) -> Any:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read --config {path}: {e.strerror or e}") from e
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"invalid TOML in --config {path}: {e}") from e
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON in --config {path}: {e}") from e
    raise ConfigError(f"invalid --config {path}: expected a .toml or .json file")


def load_config_file(path: Path | str) -> TrainConfig:
    """The ``TrainConfig`` a config file describes (unset fields keep their defaults); not yet
    validated (``auto`` fields stay for the chosen policy)."""
    path = Path(path)
    data = _read(path)
    if not isinstance(data, dict):
        raise ConfigError(f"invalid --config {path}: expected a table/object of fields")
    replay = isinstance(data.get("config"), dict)  # a run's config.json
    if replay:
        data = data["config"]
    if data and set(data) <= set(SECTIONS) and all(isinstance(v, dict) for v in data.values()):
        sections = data
    else:
        fields, sections = flag_fields(), {}
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in fields:
                raise ConfigError(f"unknown field {key!r} in --config {path}; accepted: "
                                  f"{', '.join(sorted(fields))} (or sections {SECTIONS})")
            sec, field = fields[name]
            sections.setdefault(sec, {})[field] = value
    cfg = TrainConfig.from_dict(sections)
    if replay:
        cfg.run.run_dir = None
    return cfg
