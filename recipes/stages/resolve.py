"""Stage resolve: the entry each `train@<name>` depends on, merged and complete.

    python -m recipes.stages.resolve

Writes data/resolved/<name>.json for every name of `train.models`: the model's kind and
every hyperparameter of its estimator (its own keys, the top-level seed/epochs/device/threads
it inherits, then the defaults), the data it trains on, and the md5 of each table it reads.
No `reference`. This stage re-runs on any change to `models`, the top-level keys or the
tables, in about a second; `train@<name>` depends on its own file alone, and DVC skips a
stage whose inputs hash the same, so a change retrains exactly the models it changes.

One stage for all the entries, not one per entry: each DVC stage costs a process and a
rewrite of dvc.lock, and each would record the whole `models` section there (dvc.lock was
three times the size, and every stage of a run spent seconds reading and writing it).
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


def resolve(params: config.Params, name: str, digests: dict | None = None) -> dict:
    """The entry of `name`; `digests` keeps the tables' md5 across entries."""
    digests = {} if digests is None else digests
    out = config.resolve(params, name)
    for p in tables_read(out):
        if p not in digests:
            digests[p] = md5(p)
    out["tables"] = {p: digests[p] for p in tables_read(out)}
    return out


def main() -> None:
    if len(sys.argv) != 1:
        raise UserError("usage: python -m recipes.stages.resolve (every name of train.models)")
    params = config.load()
    digests: dict = {}  # each table read once, however many entries train on it
    # every entry checked before any file is written
    entries = {name: resolve(params, name, digests) for name in params.train.models}
    for name, out in entries.items():
        write_text(paths.resolved(name), json.dumps(out, indent=2, sort_keys=True) + "\n")
    print("resolve: " + ", ".join(f"{n} ({o['kind']}, {o['data']})" for n, o in entries.items()),
          file=sys.stderr)


if __name__ == "__main__":
    run(main)
