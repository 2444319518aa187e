"""Stage seeds: the spread of an entry trained with every seed of its `seeds:`.

    python -m recipes.stages.seeds NAME

For `NAME` of `train.seeds_of`, reads the leaderboard rows of NAME+<seed> for every seed of
models.NAME.seeds (all of them: config refuses a list that leaves one out) and writes
reports/NAME/metrics.json: accuracy_mean, accuracy_std, accuracy_min, accuracy_max, n_seeds,
and each seed's own figures under `seeds`.
"""

from __future__ import annotations

import json
import sys

from recipes import config, paths, predictions, seeds
from recipes.atomic import write_text
from recipes.errors import UserError, run


def aggregate(params: config.Params, name: str, root=paths.Path(".")) -> dict:
    if name not in params.train.seeds_of:
        raise UserError(f"seeds: `{name}` is not in train.seeds_of")
    rows = [predictions.read_json(root / paths.row(n)) for n in config.seed_names(params, name)]
    out = {"model": name, "kind": rows[0].get("kind"), **seeds.spread(rows)}
    write_text(root / paths.metrics(name), json.dumps(out, indent=2) + "\n")
    return out


def main() -> None:
    if len(sys.argv) != 2:
        raise UserError("usage: python -m recipes.stages.seeds NAME")
    out = aggregate(config.load(), sys.argv[1])
    std = "" if out["accuracy_std"] is None else f" ± {100 * out['accuracy_std']:.2f} pp"
    print(f"seeds: {sys.argv[1]} {out['accuracy_mean']:.2%}{std} over {out['n_seeds']} seeds "
          f"({out['accuracy_min']:.2%}–{out['accuracy_max']:.2%})", file=sys.stderr)


if __name__ == "__main__":
    run(main)
