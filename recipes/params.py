"""params.yaml, the one place for every knob, and the rules that merge its levels.

Top-level `seed`, `epochs`, `device` and `threads` are the defaults that a model entry under
`models:` may pin for itself (`dvc exp run -S epochs=40` reaches every entry that does not).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from recipes.errors import UserError

INHERITED = ("seed", "epochs", "device", "threads")


def load(path: str | os.PathLike = "params.yaml") -> dict:
    path = Path(path)
    try:
        with open(path) as f:
            params = yaml.safe_load(f) or {}
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run from the project root)") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(params, dict):
        raise UserError(f"{path}: expected a mapping of keys at the top level")
    return params


def section(params: dict, key: str) -> dict:
    value = params.get(key)
    if not isinstance(value, dict):
        raise UserError(f"params.yaml: missing section `{key}`")
    return value


def model_entry(params: dict, name: str) -> dict:
    """The entry `models.<name>` with the top-level seed/epochs/device/threads filled in where unset."""
    models = params.get("models") or {}
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise UserError(f"params.yaml: no model `{name}` under `models` (known: {known})")
    entry = dict(models[name] or {})
    for key in INHERITED:
        if entry.get(key) is None and key in params:
            entry[key] = params[key]
    return entry
