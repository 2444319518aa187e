"""Stage resolve: the entry `train@<name>` depends on, merged and complete.

    python -m recipes.stages.resolve NAME

Writes data/resolved/<name>.json: the model's kind and every hyperparameter of its
estimator (its own keys, the top-level seed/epochs/device/threads it inherits, then the
defaults), the data it trains on, and the md5 of each table it reads. No `reference`.
This stage re-runs on any change to params.yaml's top level or the tables, in a fraction of
a second; `train@<name>` depends on its output alone, and DVC skips a stage whose inputs
hash the same, so a change retrains exactly the models it changes.
"""

from __future__ import annotations

import hashlib
import json
import sys

from recipes import config, paths
from recipes.atomic import write_text
from recipes.errors import UserError, run


def md5(path) -> str:
    h = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (run `dvc repro`)") from None
    return h.hexdigest()


def tables_read(resolved: dict) -> list[str]:
    """The tables `train@<name>` reads: its data, validation and test."""
    return [str(p) for p in (paths.DATA[resolved["data"]], paths.VAL, paths.TEST)]


def resolve(params: config.Params, name: str) -> dict:
    out = config.resolve(params, name)
    out["tables"] = {p: md5(p) for p in tables_read(out)}
    return out


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.resolve NAME")
    name = sys.argv[1]
    out = resolve(config.load(), name)
    write_text(paths.resolved(name), json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"resolve: {name} ({out['kind']}, {out['data']})", file=sys.stderr)


if __name__ == "__main__":
    run(main)
