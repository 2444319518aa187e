"""Stage members: what a committee is made of, with the md5 of every member's files.

    python -m recipes.stages.members NAME

Writes data/committees/<name>.json for a `kind: committee` entry of `train.committees`: its
members and `combine`, and, for each member, the md5 of each file of models/<member>/ as
evaluate@<member> recorded it in data/trained/. This stage depends on that whole folder (DVC
cannot give a foreach stage a list of paths), so it re-runs after any model changes, in a
fraction of a second; committee@<name> depends on its output alone, which changes exactly
when one of the committee's own members does.
"""

from __future__ import annotations

import json
import sys

from recipes import config, paths
from recipes.atomic import write_text
from recipes.errors import UserError, run


def resolve(params: config.Params, name: str, root=paths.Path(".")) -> dict:
    if name not in params.train.committees:
        raise UserError(f"members: `{name}` is not in train.committees")
    e = params.models[name]
    files = {}
    for m in e.members:
        path = root / paths.trained(m)
        try:
            files[m] = json.loads(path.read_text())["files"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}: missing or damaged (run `dvc repro evaluate@{m}`)") from None
    return {"name": name, "kind": "committee",
            "params": {"members": list(e.members), "combine": e.combine}, "members": files}


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.members NAME")
    name = sys.argv[1]
    out = resolve(config.load(), name)
    write_text(paths.committee_entry(name), json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"members: {name} ({out['params']['combine']} of {', '.join(out['params']['members'])})",
          file=sys.stderr)


if __name__ == "__main__":
    run(main)
